"""The status pages, server-rendered with Jinja2 (autoescaped, no JavaScript needed).

- ``/``: offices (columns) by services (rows, grouped by category) with state,
  current-period SLA measure, error budget left and open breaches; from ``Runtime``
  only, so it renders without touching the database.
- ``/services/{id}``: owner, SLA, probes with their latest result and phase timings,
  90 days of daily availability (inline SVG), recent failures, breaches, exclusions.
- ``/indicators``: the three indicators per office and in total, with the services
  behind each number.

Everything the pages need is served from ``/static`` (no external asset or font).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import jinja2
from aiohttp import web

from slamon.core.indicators import ALL_OFFICES
from slamon.core.model import Category, Lifecycle
from slamon.core.results import PHASES
from slamon.web import views
from slamon.web.api import Problem, compute_indicators, read_period, recent_results
from slamon.web.context import WebContext, context_of
from slamon.web.history import DEFAULT_DAYS, daily_availability
from slamon.web.svg import availability_chart
from slamon.web.upcoming import upcoming_maintenance

HERE = Path(__file__).parent
FAILURES_SHOWN = 25
DASH = "\u2013"  # shown where there is no value

CATEGORY_TITLES = {c.value: c.value.replace("-", " ").capitalize() for c in Category}
INDICATOR_CODES = {
    "automated-services": "(a)(i)",
    "services-meeting-levels": "(a)(ii)",
    "iso-aligned-services": "(b)",
}


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every template is HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = percent
    env.filters["ms"] = milliseconds
    env.filters["ago"] = ago
    env.filters["when"] = when
    env.filters["num"] = number
    return env


def percent(ratio: float | None, digits: int = 2) -> str:
    if ratio is None:
        return DASH
    return f"{ratio * 100:.{digits}f} %"


def number(x: float | None) -> str:
    if x is None:
        return DASH
    return f"{x:g}" if x != int(x) else f"{int(x)}"


def milliseconds(seconds: float | None) -> str:
    if seconds is None:
        return DASH
    if seconds >= 1:
        return f"{seconds:.3g} s"
    ms = seconds * 1000
    return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def when(iso_text: str | None) -> str:
    if not iso_text:
        return DASH
    return dt.datetime.fromisoformat(iso_text).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(iso_text: str | None, now: dt.datetime) -> str:
    if not iso_text:
        return "never"
    seconds = (now - dt.datetime.fromisoformat(iso_text)).total_seconds()
    if seconds < 0:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"


def _render(request: web.Request, name: str, status: int = 200, **values) -> web.Response:
    ctx = context_of(request)
    env: jinja2.Environment = request.app[ENV_KEY]
    catalogue = ctx.runtime.catalogue
    values.setdefault("title", "slamon")
    html = env.get_template(name).render(
        now=ctx.now(),
        header=views.catalogue_state(ctx.runtime),
        offices=(
            [{"id": o.id, "name": o.name, "city": o.city} for o in catalogue.offices.values()] if catalogue else []
        ),
        path=request.path,
        **values,
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def _page_error(request: web.Request, problem: Problem) -> web.Response:
    return _render(request, "error.html", status=problem.status, title=problem.title, problem=problem)


def _office_order(ctx: WebContext) -> list[str]:
    catalogue = ctx.runtime.catalogue
    if catalogue is None:
        return []
    # headquarters first, then as the catalogue lists them
    return sorted(catalogue.offices, key=lambda o: (not catalogue.offices[o].headquarters, list(catalogue.offices).index(o)))


async def status_page(request: web.Request) -> web.Response:
    ctx = context_of(request)
    catalogue = ctx.runtime.catalogue
    if catalogue is None:
        return _page_error(request, Problem(503, "No catalogue yet", "the daemon has not loaded a catalogue yet"))
    show_retired = request.query.get("retired") == "1"
    office_ids = _office_order(ctx)
    summaries = [
        s
        for s in views.list_services(ctx.runtime)
        if show_retired or s["lifecycle"] != Lifecycle.retired.value
    ]
    groups: dict[str, list[dict]] = {}
    for s in sorted(summaries, key=lambda s: (s["category"], s["name"].lower())):
        s["cells"] = {v["vantage"]: v for v in s["vantages"]}
        groups.setdefault(s["category"], []).append(s)
    totals = {"up": 0, "down": 0, "unknown": 0}
    for s in summaries:
        for v in s["vantages"]:
            totals[v["state"]] += 1
    breaches = sum(s["open_breaches"] for s in summaries)
    office_totals = {
        o: {
            st: sum(1 for s in summaries if s["cells"].get(o, {}).get("state") == st)
            for st in ("up", "down", "unknown")
        }
        for o in office_ids
    }
    return _render(
        request,
        "status.html",
        title="Service status · slamon",
        office_ids=office_ids,
        office_names={o: catalogue.offices[o].city for o in office_ids},
        groups=[(CATEGORY_TITLES.get(c, c), rows) for c, rows in sorted(groups.items())],
        totals=totals,
        office_totals=office_totals,
        open_breaches=breaches,
        service_count=len(summaries),
        show_retired=show_retired,
        upcoming=upcoming_maintenance(catalogue, ctx.now(), office_ids),
    )


async def service_page(request: web.Request) -> web.Response:
    ctx = context_of(request)
    catalogue = ctx.runtime.catalogue
    if catalogue is None:
        return _page_error(request, Problem(503, "No catalogue yet", "the daemon has not loaded a catalogue yet"))
    sid = request.match_info["id"]
    service = catalogue.services.get(sid)
    if service is None:
        return _page_error(request, Problem(404, "Unknown service", f"no service {sid!r} in the catalogue"))
    detail = views.service_detail(ctx.runtime, service)
    now = ctx.now()
    charts: list[tuple[str, object, dict]] = []
    failures: list[dict] = []
    breaches: list[dict] = []
    exclusions: list[dict] = []
    target = detail["effective_sla"]["availability_percent"] / 100.0
    if ctx.store is not None:
        history = await ctx.in_thread(("history", sid, now.date()), daily_availability, ctx.store, catalogue, service, now)
        for vantage, points in history.items():
            seen = [p for p in points if p.availability is not None]
            stats = {
                "observed_days": len(seen),
                "days": len(points),
                "worst": min((p.availability for p in seen), default=None),
                "below": sum(1 for p in seen if p.availability < target),
            }
            charts.append((vantage, availability_chart(points, target, f"daily availability of {service.name} from {vantage}"), stats))
        rows = await ctx.in_thread(None, recent_results, ctx.store, sid, now, 1000)
        failures = [views.result_dict(r) for r in rows if not r.success][:FAILURES_SHOWN]
        breaches = [views.breach_dict(b) for b in reversed(await ctx.in_thread(None, ctx.store.breaches, service_id=sid, since=now - dt.timedelta(days=DEFAULT_DAYS)))]
        exclusions = [views.exclusion_dict(e) for e in await ctx.in_thread(None, ctx.store.exclusions, service_id=sid, start=now - dt.timedelta(days=DEFAULT_DAYS))]
    # the latest failure of each probe, from memory: it carries the detail text
    latest_failures = [p for p in detail["probes"] if p["latest"] and not p["latest"]["success"]]
    return _render(
        request,
        "service.html",
        title=f"{service.name} · slamon",
        s=detail,
        office_name=catalogue.offices[service.office].name,
        category_title=CATEGORY_TITLES.get(detail["category"], detail["category"]),
        charts=charts,
        history_days=DEFAULT_DAYS,
        failures=failures,
        latest_failures=latest_failures,
        breaches=breaches,
        exclusions=exclusions,
        has_store=ctx.store is not None,
        phases=PHASES,
    )


async def indicators_page(request: web.Request) -> web.Response:
    ctx = context_of(request)
    catalogue = ctx.runtime.catalogue
    if catalogue is None:
        return _page_error(request, Problem(503, "No catalogue yet", "the daemon has not loaded a catalogue yet"))
    try:
        period = read_period(ctx, request)
        values = await compute_indicators(ctx, catalogue, period, None)
    except Problem as p:
        return _page_error(request, p)
    office_ids = [*_office_order(ctx), ALL_OFFICES]
    names = {s.id: s.name for s in catalogue.services.values()}
    definitions = {d.id.value: d for d in catalogue.indicators.indicators}
    table: dict[str, dict[str, dict]] = {}
    for v in views.indicator_dicts(values):
        table.setdefault(v["indicator"], {})[v["office"]] = v
    sections = []
    for ind_id in INDICATOR_CODES:
        d = definitions.get(ind_id)
        sections.append(
            {
                "id": ind_id,
                "code": d.code if d else INDICATOR_CODES[ind_id],
                "title": d.title if d else ind_id,
                "rows": [table.get(ind_id, {}).get(o) for o in office_ids],
            }
        )
    biennium = next((v.biennium for v in values), "")
    y = ctx.now().year
    first = y - y % 2
    choices = [f"{a}-{a + 1}" for a in range(first, first - 8, -2)] + [str(y), str(y - 1)]
    return _render(
        request,
        "indicators.html",
        title="Indicators · slamon",
        period=period,
        biennium=biennium,
        choices=choices,
        sections=sections,
        office_ids=office_ids,
        office_names={**{o: catalogue.offices[o].city for o in catalogue.offices}, ALL_OFFICES: "Total"},
        service_names=names,
    )


ENV_KEY = web.AppKey("jinja_env", jinja2.Environment)


def add_routes(app: web.Application) -> None:
    app[ENV_KEY] = environment()
    app.router.add_get("/", status_page)
    app.router.add_get("/services/{id}", service_page)
    app.router.add_get("/indicators", indicators_page)
    app.router.add_static("/static", HERE / "static", append_version=False)
