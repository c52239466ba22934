"""The read-only JSON API under ``/api/v1`` and its one admin action.

Errors are RFC 9457 problem objects (``application/problem+json``) with a clear
``detail``. Database reads (the store, SLA assessment) run in worker threads. The
OpenAPI document (``slamon.web.openapi``) describes every route registered here.

Admin: ``POST /api/v1/admin/reload`` needs ``Authorization: Bearer <token>``, the
token being the daemon's ``SLAMON_ADMIN_TOKEN``. Without a configured token the
action is off (403): a token is the only credential, never the peer address (a
reverse proxy on the same machine would make every caller look local).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import inspect
import json
import logging
from typing import Any

from aiohttp import web

from slamon.assess import assess_indicators, assess_period, assess_sla_periods
from slamon.core.model import Lifecycle
from slamon.core.sla.measure import pool_outages
from slamon.core.sla.periods import PeriodError, check_label
from slamon.core.state import State
from slamon.web import views
from slamon.web.context import WebContext, context_of
from slamon.web.openapi import openapi_document

log = logging.getLogger("slamon.web")

PREFIX = "/api/v1"
DEFAULT_RESULTS_LIMIT = 50
MAX_RESULTS_LIMIT = 1000
RECENT_RESULTS_HOURS = 24
RELOAD_TIMEOUT_SECONDS = 30.0


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def problem_response(status: int, title: str, detail: str, headers: dict | None = None) -> web.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/problem+json",
        headers=headers,
    )


def ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, allow_nan=False))


@web.middleware
async def problems(request: web.Request, handler):
    """Every API error as a problem object, 404 and 405 from the router included."""
    if not request.path.startswith(PREFIX):
        return await handler(request)
    try:
        return await handler(request)
    except Problem as p:
        return problem_response(p.status, p.title, p.detail)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = {404: f"no such API route: {request.path}", 405: f"{request.method} is not allowed on {request.path}"}
        return problem_response(exc.status, exc.reason, detail.get(exc.status, exc.reason))


# ------------------------------------------------------------------ helpers


def _catalogue(ctx: WebContext):
    if ctx.runtime.catalogue is None:
        raise Problem(503, "Service Unavailable", "no catalogue is loaded yet")
    return ctx.runtime.catalogue


def _store(ctx: WebContext):
    if ctx.store is None:
        raise Problem(503, "Service Unavailable", "this daemon runs without a store: no history, SLA or breaches")
    return ctx.store


def _office(ctx: WebContext, request: web.Request) -> str | None:
    office = request.query.get("office") or None
    if office is not None and office not in _catalogue(ctx).offices:
        known = ", ".join(sorted(_catalogue(ctx).offices))
        raise Problem(400, "Bad Request", f"unknown office {office!r} (known: {known})")
    return office


def _choice(request: web.Request, name: str, allowed: list[str]) -> str | None:
    value = request.query.get(name) or None
    if value is not None and value not in allowed:
        raise Problem(400, "Bad Request", f"{name} must be one of {', '.join(allowed)} (found {value!r})")
    return value


def _service(ctx: WebContext, request: web.Request):
    sid = request.match_info["id"]
    service = _catalogue(ctx).services.get(sid)
    if service is None:
        raise Problem(404, "Not Found", f"unknown service {sid!r}")
    return service


def read_period(ctx: WebContext, request: web.Request, default: str = "current") -> str:
    label = (request.query.get("period") or default).strip()
    try:
        return check_label(label, ctx.now())
    except PeriodError as exc:
        text = str(exc)
        if text.startswith("unknown period"):
            text = "bad period" + text.removeprefix("unknown period")
        else:
            text = f"bad period {label!r}: {text}"
        raise Problem(400, "Bad Request", text) from None


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return DEFAULT_RESULTS_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise Problem(400, "Bad Request", f"limit must be a whole number (found {raw!r})") from None
    if not 1 <= limit <= MAX_RESULTS_LIMIT:
        raise Problem(400, "Bad Request", f"limit must be between 1 and {MAX_RESULTS_LIMIT} (found {limit})")
    return limit


def _since(request: web.Request) -> dt.datetime | None:
    raw = request.query.get("since")
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise Problem(400, "Bad Request", f"since must be an ISO 8601 date or time (found {raw!r})") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def level_dict(level) -> dict:
    return {
        "service": level.service_id,
        "met": level.met,
        "failing_vantages": list(level.failing_vantages),
        "unobserved_vantages": list(level.unobserved_vantages),
        "vantages": [m.to_dict() for m in level.per_vantage],
    }


def recent_results(store, service_id: str, now: dt.datetime, limit: int) -> list:
    """The newest ``limit`` results of the last day, newest first."""
    start = now - dt.timedelta(hours=RECENT_RESULTS_HOURS)
    rows = store.results(start, now + dt.timedelta(seconds=1), service_id=service_id, limit=MAX_RESULTS_LIMIT * 10)
    return list(reversed(rows))[:limit]


# ------------------------------------------------------------------ handlers


async def get_status(request: web.Request) -> web.Response:
    ctx = context_of(request)
    return ok({"catalogue": views.catalogue_state(ctx.runtime), "store": ctx.store is not None, "now": views.iso(ctx.now())})


async def list_services(request: web.Request) -> web.Response:
    ctx = context_of(request)
    _catalogue(ctx)
    office = _office(ctx, request)
    lifecycle = _choice(request, "lifecycle", [x.value for x in Lifecycle])
    state = _choice(request, "state", [x.value for x in State])
    items = views.list_services(ctx.runtime, office=office, lifecycle=lifecycle, state=state)
    return ok({"count": len(items), "services": items})


async def get_service(request: web.Request) -> web.Response:
    ctx = context_of(request)
    service = _service(ctx, request)
    limit = _limit(request)
    body = views.service_detail(ctx.runtime, service)
    if ctx.store is not None:
        rows = await ctx.in_thread(None, recent_results, ctx.store, service.id, ctx.now(), limit)
        body["recent_results"] = [views.result_dict(r) for r in rows]
    else:
        body["recent_results"] = []
    return ok(body)


async def service_sla(request: web.Request) -> web.Response:
    ctx = context_of(request)
    service = _service(ctx, request)
    period = read_period(ctx, request)
    store = _store(ctx)
    a = await ctx.in_thread(
        ("sla", period, service.id), assess_period, store, _catalogue(ctx), period, ctx.now(), service_ids=[service.id]
    )
    level = a.levels.get(service.id)
    window = a.windows.get(service.id)
    periods = []
    if period != "current":  # each of its own SLA periods (docs/sla.md)
        found = await ctx.in_thread(
            ("sla-periods", period, service.id), assess_sla_periods, store, _catalogue(ctx), period, ctx.now(),
            service_ids=[service.id],
        )
        periods = [sla_period_dict(r) for r in found.get(service.id, ())]
    return ok(
        {
            "period": period,
            "start": views.iso(window.start) if window else None,
            "end": views.iso(window.end) if window else None,
            "as_of": views.iso(a.now),
            "level": level_dict(level) if level else None,
            "sla_periods": periods,
        }
    )


def sla_period_dict(r) -> dict:
    return {
        "period": r.window.label,
        "start": views.iso(r.window.start),
        "end": views.iso(r.window.end),
        "closed": r.closed,
        "met": r.met,
        "observed_minutes": sum(m.observed_minutes for m in r.measures),
        "failing": r.failing,
    }


async def sla(request: web.Request) -> web.Response:
    ctx = context_of(request)
    catalogue = _catalogue(ctx)
    office = _office(ctx, request)
    period = read_period(ctx, request)
    store = _store(ctx)
    offices = [office] if office else None
    a = await ctx.in_thread(("sla-all", period, office), assess_period, store, catalogue, period, ctx.now(), offices=offices)
    services = [level_dict(a.levels[sid]) for sid in sorted(a.levels)]
    met = sum(1 for s in services if s["met"] is True)
    outages = pool_outages(m for level in a.levels.values() for m in level.per_vantage)
    return ok(
        {
            "period": period,
            "office": office,
            "as_of": views.iso(a.now),
            "summary": {
                "services": len(services),
                "met": met,
                "not_met": sum(1 for s in services if s["met"] is False),
                "unknown": sum(1 for s in services if s["met"] is None),
                "outages": outages.to_dict(),
            },
            "services": services,
        }
    )


async def indicators(request: web.Request) -> web.Response:
    ctx = context_of(request)
    catalogue = _catalogue(ctx)
    office = _office(ctx, request)
    period = read_period(ctx, request)
    values = await compute_indicators(ctx, catalogue, period, office)
    return ok({"period": period, "office": office, "indicators": views.indicator_dicts(values)})


async def compute_indicators(ctx: WebContext, catalogue, period: str, office: str | None):
    """The indicators from the store. For the current period of every office, the
    values the daemon already keeps in ``Runtime.indicators`` when it has them (no
    re-measuring on a page load); without a store, only those."""
    if period == "current" and office is None and ctx.runtime.indicators:
        return list(ctx.runtime.indicators)
    if ctx.store is None:
        if period != "current":
            raise Problem(503, "Service Unavailable", "this daemon runs without a store: only the current period is known")
        return [v for v in ctx.runtime.indicators if office is None or v.office in (office,)]
    offices = [office] if office else None
    return await ctx.in_thread(
        ("indicators", period, office), assess_indicators, ctx.store, period, ctx.now(), catalogue=catalogue, offices=offices
    )


async def breaches(request: web.Request) -> web.Response:
    ctx = context_of(request)
    store = _store(ctx)
    state = _choice(request, "state", ["open", "all"]) or "all"
    service = request.query.get("service") or None
    since = _since(request)
    rows = await ctx.in_thread(None, store.breaches, service_id=service, open_only=state == "open", since=since)
    items = [views.breach_dict(r) for r in reversed(rows)]
    return ok({"count": len(items), "breaches": items})


async def exclusions(request: web.Request) -> web.Response:
    ctx = context_of(request)
    store = _store(ctx)
    service = request.query.get("service") or None
    since = _since(request)
    rows = await ctx.in_thread(None, store.exclusions, service_id=service, start=since)
    items = [views.exclusion_dict(r) for r in rows]
    return ok({"count": len(items), "exclusions": items})


async def openapi(request: web.Request) -> web.Response:
    return ok(openapi_document())


async def admin_reload(request: web.Request) -> web.Response:
    ctx = context_of(request)
    if not ctx.admin_token:
        raise Problem(403, "Forbidden", "admin actions are off: set SLAMON_ADMIN_TOKEN for the daemon to enable them")
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return problem_response(
            401, "Unauthorized", "send Authorization: Bearer <admin token>", {"WWW-Authenticate": 'Bearer realm="slamon"'}
        )
    if not hmac.compare_digest(given.strip().encode(), ctx.admin_token.encode()):
        log.warning("admin_refused", extra={"remote": request.remote})
        return problem_response(401, "Unauthorized", "the admin token is wrong", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if ctx.reload is None:
        raise Problem(503, "Service Unavailable", "this server has no reload action")
    log.info("admin_reload", extra={"remote": request.remote})
    outcome = ctx.reload()
    if inspect.isawaitable(outcome):
        outcome = await asyncio.wait_for(outcome, RELOAD_TIMEOUT_SECONDS)
    if outcome is None:
        return ok({"status": "requested", "detail": "the catalogue will be reloaded"}, status=202)
    if outcome:
        return ok({"status": "reloaded", "detail": "the catalogue was reloaded"})
    return ok({"status": "refused", "detail": "the new catalogue has errors; the last good one keeps running"}, status=409)


HEARTBEAT_STATUSES = ("ok", "fail")


async def heartbeat(request: web.Request) -> web.Response:
    """A batch job's heartbeat (docs/probes.md, heartbeat): ``Authorization: Bearer
    <token>``, optional ``status`` (ok | fail) and ``message`` as query or form fields."""
    ctx = context_of(request)
    if ctx.heartbeats is None:
        raise Problem(503, "Service Unavailable", "this server takes no heartbeats")
    fields = dict(request.query)
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        fields.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    status = (fields.get("status") or "ok").strip().lower()
    if status not in HEARTBEAT_STATUSES:
        raise Problem(400, "Bad Request", f"status must be ok or fail (found {status[:20]!r})")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    token = given.strip() if scheme.lower() == "bearer" and given.strip() else None
    verdict, detail = ctx.heartbeats.receive(
        request.match_info["service"],
        request.match_info["probe"],
        token,
        ok=status == "ok",
        message=fields.get("message", ""),
    )
    if verdict == "accepted":
        return ok({"status": "accepted", "detail": detail}, status=202)
    if verdict == "unauthorized":
        return problem_response(401, "Unauthorized", detail, {"WWW-Authenticate": 'Bearer realm="slamon-heartbeat"'})
    if verdict == "misdirected":
        raise Problem(421, "Misdirected Request", detail)
    if verdict == "unavailable":
        return problem_response(503, "Service Unavailable", detail, {"Retry-After": "5"})
    raise Problem(404, "Not Found", detail)


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/status", get_status),
    ("GET", "/services", list_services),
    ("GET", "/services/{id}", get_service),
    ("GET", "/services/{id}/sla", service_sla),
    ("GET", "/sla", sla),
    ("GET", "/indicators", indicators),
    ("GET", "/breaches", breaches),
    ("GET", "/exclusions", exclusions),
    ("GET", "/openapi.json", openapi),
    ("POST", "/admin/reload", admin_reload),
    ("POST", "/heartbeat/{service}/{probe}", heartbeat),
]


def add_routes(app: web.Application) -> None:
    for method, path, handler in ROUTES:
        app.router.add_route(method, PREFIX + path, handler)
