"""The status pages, server-rendered with Jinja2 (autoescaped, no JavaScript needed).

- ``/``: offices (columns) by services (rows, grouped by category) with state,
  current-period SLA measure, error budget left and open breaches (with the objective
  and its figures); from ``Runtime`` only, so it renders without touching the
  database. ``?refresh=SECONDS`` has ``/static/refresh.js`` swap it in place.
- ``/catalogue``: the service count and the errors of a refused reload.
- ``/services/{id}``: owner, SLA, probes with their latest result and phase timings,
  90 days of daily availability and latency, the current period's error budget burn
  (inline SVG), recent failures, breaches, exclusions.
- ``/indicators``: the three indicators per office and in total, with the services
  behind each number, a baseline/target/actual chart and the trend across bienniums.

Everything the pages need is served from ``/static`` (no external asset or font).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import jinja2
from aiohttp import web

from slamon.assess import assess_indicators
from slamon.core.indicators import ALL_OFFICES
from slamon.core.model import Category, Lifecycle
from slamon.core.numbers import percent_text, percent_to_ratio, percent_value_text, target_text
from slamon.core.results import PHASES
from slamon.web import views
from slamon.web.api import Problem, compute_indicators, read_period, recent_results
from slamon.web.context import CACHE_SECONDS, WebContext, context_of
from slamon.web.history import DEFAULT_DAYS, budget_burn, daily_availability
from slamon.web.svg import (
    availability_chart,
    burn_chart,
    indicator_chart,
    latency_chart,
    trend_chart,
)
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
    env.filters["measure"] = measure
    env.filters["target"] = target
    env.filters["indicator_percent"] = indicator_percent
    env.filters["ms"] = milliseconds
    env.filters["ago"] = ago
    env.filters["when"] = when
    env.filters["num"] = number
    return env


def percent(ratio: float | None, digits: int = 2) -> str:
    if ratio is None:
        return DASH
    return f"{ratio * 100:.{digits}f} %"


def measure(ratio: float | None, target_ratio: float | None, breached: bool = False, digits: int = 3) -> str:
    """A measure against its target, rounded toward the verdict (``slamon.core.numbers``):
    below the target (or in breach) never reads as the target."""
    if ratio is None or target_ratio is None:
        return percent_text(ratio, decimals=digits)
    met = not breached and ratio >= target_ratio
    return percent_text(ratio, target_ratio=target_ratio, met=met, decimals=digits)


def indicator_percent(value: float | None, target_percent: float | None) -> str:
    """An indicator percentage (0..100), one decimal, rounded toward its target's verdict."""
    met = None if value is None or target_percent is None else value >= target_percent
    return percent_value_text(value, target_percent=target_percent, met=met, decimals=1)


def target(target_ratio: float | None) -> str:
    return target_text(target_ratio)


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
    header = views.catalogue_state(ctx.runtime)
    html = env.get_template(name).render(
        now=ctx.now(),
        header=header,
        counts_text=views.counts_text(header["counts"]),
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


DEFAULT_REFRESH_SECONDS = 60
MIN_REFRESH_SECONDS = 2
MAX_REFRESH_SECONDS = 3600


def refresh_seconds(request: web.Request) -> int:
    """``?refresh=SECONDS`` (0: off); the default suits a wall display."""
    raw = request.query.get("refresh")
    if raw is None:
        return DEFAULT_REFRESH_SECONDS
    try:
        seconds = int(raw)
    except ValueError:
        raise Problem(400, "Bad Request", f"bad refresh {raw!r}: a number of seconds, 0 for off") from None
    if seconds < 0:
        raise Problem(400, "Bad Request", f"bad refresh {raw!r}: a number of seconds, 0 for off")
    return 0 if seconds == 0 else min(max(seconds, MIN_REFRESH_SECONDS), MAX_REFRESH_SECONDS)


def breach_reasons(cell: dict) -> list[dict]:
    """The open breaches of a cell, each with the objective's measure and target, so the
    reason reads without hovering (``latency 91.20 % < 95 %``)."""
    sla = cell.get("sla")
    if not sla:
        return []
    out = []
    for name in sla["open_breaches"]:
        o = next((x for x in sla["objectives"] if x["objective"] == name), None)
        out.append({"objective": name, "measure_ratio": o["measure_ratio"] if o else None,
                    "target_ratio": o["target_ratio"] if o else None})
    return out


async def status_page(request: web.Request) -> web.Response:
    ctx = context_of(request)
    catalogue = ctx.runtime.catalogue
    if catalogue is None:
        return _page_error(request, Problem(503, "No catalogue yet", "the daemon has not loaded a catalogue yet"))
    try:
        refresh = refresh_seconds(request)
    except Problem as p:
        return _page_error(request, p)
    show_retired = request.query.get("retired") == "1"
    # an office-scoped daemon (--office unon) shows the offices it probes from only
    here = set(ctx.runtime.vantages) & set(catalogue.offices)
    office_ids = [o for o in _office_order(ctx) if not here or o in here]
    shown = set(office_ids)
    summaries = [
        s
        for s in views.list_services(ctx.runtime)
        if show_retired or s["lifecycle"] != Lifecycle.retired.value
    ]
    retired_hidden = 0 if show_retired else sum(1 for s in catalogue.services.values() if s.lifecycle == Lifecycle.retired)
    # services neither probed from nor owned by the offices shown: rows of dashes only
    elsewhere = {s["id"] for s in summaries if s["office"] not in shown and not shown & {v["vantage"] for v in s["vantages"]}}
    summaries = [s for s in summaries if s["id"] not in elsewhere]
    groups: dict[str, list[dict]] = {}
    for s in sorted(summaries, key=lambda s: (s["category"], s["name"].lower())):
        s["cells"] = {v["vantage"]: v for v in s["vantages"] if v["vantage"] in shown}
        for c in s["cells"].values():
            c["breaches"] = breach_reasons(c)
        groups.setdefault(s["category"], []).append(s)
    totals = {"up": 0, "down": 0, "unknown": 0}
    breaches = 0
    for s in summaries:
        for c in s["cells"].values():
            totals[c["state"]] += 1
            breaches += len(c["breaches"])
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
        retired_hidden=retired_hidden,
        elsewhere=len(elsewhere),
        scoped=bool(here) and len(office_ids) < len(catalogue.offices),
        show_retired=show_retired,
        refresh=refresh,
        upcoming=upcoming_maintenance(catalogue, ctx.now(), office_ids),
    )


async def catalogue_page(request: web.Request) -> web.Response:
    """Why the latest reload of the catalogue was refused (the running catalogue stays)."""
    return _render(request, "catalogue.html", title="Catalogue · slamon")


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
    latency_charts: dict[str, object] = {}
    days_table: dict[str, list] = {}
    burns: list[dict] = []
    failures: list[dict] = []
    breaches: list[dict] = []
    exclusions: list[dict] = []
    target = percent_to_ratio(detail["effective_sla"]["availability_percent"])  # 99.9 -> 0.999 exactly
    if ctx.store is not None:
        history = await ctx.in_thread(("history", sid, now.date()), daily_availability, ctx.store, catalogue, service, now)
        for vantage, points in history.items():
            seen = [p for p in points if p.availability is not None]
            stats = {
                "observed_days": len(seen),
                "days": len(points),
                "worst": min((p.availability for p in seen), default=None),
                "below": sum(1 for p in seen if p.availability < target),
                "target": target,
            }
            charts.append((vantage, availability_chart(points, target, f"daily availability of {service.name} from {vantage}"), stats))
            latency = latency_chart(points, f"daily share of minutes under the latency threshold, {service.name} from {vantage}")
            days_table[vantage] = points
            if latency:
                latency_charts[vantage] = latency
        for b in await ctx.in_thread(("burn", sid, now.date(), now.hour), budget_burn, ctx.store, catalogue, service, now):
            last = b.points[-1] if b.points else None
            burns.append({
                "vantage": b.vantage, "period": b.period, "timezone": b.timezone, "points": b.points, "last": last,
                "chart": burn_chart(b.days, b.points, f"error budget of {service.name} from {b.vantage} in {b.period}: "
                                    f"bad minutes so far against the budget so far, by day"),
            })
        rows = await ctx.in_thread(None, recent_results, ctx.store, sid, now, 1000)
        # a local fault (the monitor's own) is not a failure of the service
        failures = [views.result_dict(r) for r in rows if not r.success and not r.local_fault][:FAILURES_SHOWN]
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
        latency_charts=latency_charts,
        days_table=days_table,
        burns=burns,
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
    office_names = {**{o: catalogue.offices[o].city for o in catalogue.offices}, ALL_OFFICES: "Total"}
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
    for sec in sections:
        rows = [r for r in sec["rows"] if r is not None]
        unit = rows[0]["unit"] if rows else "count"
        sec["chart"] = indicator_chart(
            [{"name": office_names.get(r["office"], r["office"]), "baseline": r["baseline"], "target": r["target"],
              "actual": r["value"]} for r in rows],
            unit,
            f"{sec['code']} {sec['title']}, {period}: actual against baseline and target, per office and in total",
        )
    trend = await _trend(ctx, catalogue, biennium, values if period == biennium else None)
    for sec in sections:
        points = trend.get(sec["id"], [])
        sec["trend"] = points
        sec["trend_chart"] = (
            trend_chart(points, sec["rows"][-1]["unit"] if sec["rows"][-1] else "count",
                        f"{sec['code']} in total over the bienniums {points[0]['period']} to {points[-1]['period']}")
            if len(points) > 1 else None
        )
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
        office_names=office_names,
        service_names=names,
    )


TREND_BIENNIUMS = 3  # the biennium shown and up to two before it: each costs a full assessment
CLOSED_CACHE_SECONDS = 3600.0


async def _trend(ctx: WebContext, catalogue, biennium: str, values) -> dict[str, list[dict]]:
    """Each indicator in total over the biennium shown and the ones before it that the
    store holds a catalogue for (the report's path: ``assess_indicators``), oldest first."""
    if not biennium or ctx.store is None:
        return {}
    first = int(biennium[:4])
    by_period = {biennium: values if values is not None else await compute_indicators(ctx, catalogue, biennium, None)}
    for k in range(1, TREND_BIENNIUMS):
        label = f"{first - 2 * k}-{first - 2 * k + 1}"
        end = dt.datetime(first - 2 * k + 2, 1, 1, tzinfo=dt.UTC) - dt.timedelta(seconds=1)
        if not await ctx.in_thread(("services_at", label), ctx.store.services_at, end):
            break  # no record of that biennium's catalogue: no older point either
        # a closed biennium's figures do not move: kept for an hour, not 30 s
        by_period[label] = await ctx.in_thread(
            ("indicators", label, None), assess_indicators, ctx.store, label, ctx.now(), catalogue=catalogue,
            cache_seconds=CLOSED_CACHE_SECONDS if end < ctx.now() else CACHE_SECONDS,
        )
    out: dict[str, list[dict]] = {}
    for label in sorted(by_period):
        for v in by_period[label]:
            if v.office == ALL_OFFICES:
                out.setdefault(str(v.indicator), []).append(
                    {"period": label, "actual": views.finite(v.value), "target": v.target, "baseline": v.baseline}
                )
    return out


ENV_KEY = web.AppKey("jinja_env", jinja2.Environment)


def add_routes(app: web.Application) -> None:
    app[ENV_KEY] = environment()
    app.router.add_get("/", status_page)
    app.router.add_get("/services/{id}", service_page)
    app.router.add_get("/indicators", indicators_page)
    app.router.add_get("/catalogue", catalogue_page)
    app.router.add_static("/static", HERE / "static", append_version=False)
