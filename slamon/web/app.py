"""Routes of the daemon's web server.

- ``/healthz``: the process is alive and its event loop answers (always 200).
- ``/readyz``: 200 once a catalogue is loaded and the scheduler runs, else 503 with
  the reason, so an orchestrator holds traffic (and a restart) until it is.
- ``/metrics``: whatever the injected renderer produces for the scraper's Accept
  header (a coroutine function, awaited, or a plain function). The web adapter
  knows nothing of Prometheus; the daemon builds the renderer from its private
  registry.
- ``/api/v1/...``: the JSON API (``slamon.web.api``), ``/``, ``/services/{id}`` and
  ``/indicators``: the status pages (``slamon.web.pages``).

Handlers read ``Runtime``; store reads (history, SLA, indicators) run in worker
threads, never on the event loop.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from slamon.runtime import Runtime
from slamon.store import Store
from slamon.web import api, pages
from slamon.web.context import CONTEXT_KEY, WebContext

MetricsRenderer = Callable[[str], Awaitable[tuple[bytes, str]] | tuple[bytes, str]]
"""``(accept_header) -> (body, content_type)``, or an awaitable of it."""

SECURITY_HEADERS = {
    # pages are server-rendered: no inline script (the status page's own
    # /static/refresh.js only), styles from /static plus the inline widths of bar
    # charts, images from the page itself (inline SVG, data:)
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

RUNTIME_KEY = web.AppKey("runtime", Runtime)
RENDER_KEY = web.AppKey("render_metrics", object)
AFTER_METRICS_KEY = web.AppKey("after_metrics", object)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every answer, errors included (``on_response_prepare`` sees them all)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def readyz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME_KEY]
    if runtime.catalogue is None:
        return web.Response(status=503, text="not ready: no catalogue loaded\n")
    if not runtime.ready:
        return web.Response(status=503, text="not ready: scheduler not running\n")
    if runtime.leases is not None and runtime.leases.problem:
        return web.Response(status=503, text=f"not ready: {runtime.leases.problem}\n")
    return web.Response(text="ready\n")


async def metrics(request: web.Request) -> web.Response:
    render: MetricsRenderer = request.app[RENDER_KEY]  # type: ignore[assignment]
    # rendered on the event loop, as prometheus_client's collectors expect, in short
    # steps that let the loop run between them (probe results are recorded meanwhile)
    rendered = render(request.headers.get("Accept", ""))
    if inspect.isawaitable(rendered):
        rendered = await rendered
    body, content_type = rendered
    after_sent = request.app[AFTER_METRICS_KEY]
    if after_sent is None:
        return web.Response(body=body, headers={"Content-Type": content_type})
    # sent from here rather than returned, so that the body is let go of before
    # ``after_sent`` runs (the daemon gives the freed heap back to the system then)
    response = web.StreamResponse(headers={"Content-Type": content_type})
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body)
    del body, rendered
    await response.write_eof()
    after_sent()  # type: ignore[operator]
    return response


def build_app(
    runtime: Runtime,
    render_metrics: MetricsRenderer,
    *,
    store: Store | None = None,
    reload: Callable[[], Any] | None = None,
    admin_token: str | None = None,
    clock: Callable[[], float] = time.time,
    after_metrics: Callable[[], object] | None = None,
    heartbeats: Any = None,
) -> web.Application:
    """The application.

    ``store``: history, SLA, breaches and exclusions come from it (without one the
    API answers 503 for them and the pages leave them out). ``reload``: what
    ``POST /api/v1/admin/reload`` calls (sync or async; ``None`` means "requested",
    ``True``/``False`` reloaded/refused). ``admin_token``: the bearer token that
    action needs (none: the action is off). ``clock``: unix seconds (tests pin it).
    ``after_metrics``: called once a ``/metrics`` response has been sent (the daemon's
    runtime policy; the web adapter does not know what it does).
    ``heartbeats``: what takes ``POST /api/v1/heartbeat/...`` (none: 503).
    """
    app = web.Application(middlewares=[api.problems])
    app.on_response_prepare.append(_security_headers)
    app[RUNTIME_KEY] = runtime
    app[RENDER_KEY] = render_metrics
    app[AFTER_METRICS_KEY] = after_metrics
    app[CONTEXT_KEY] = WebContext(
        runtime=runtime, store=store, reload=reload, admin_token=admin_token or None, clock=clock,
        heartbeats=heartbeats,
    )
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    api.add_routes(app)
    pages.add_routes(app)
    return app
