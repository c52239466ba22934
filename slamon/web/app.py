"""Routes of the daemon's web server.

- ``/healthz``: the process is alive and its event loop answers (always 200).
- ``/readyz``: 200 once a catalogue is loaded and the scheduler runs, else 503 with
  the reason, so an orchestrator holds traffic (and a restart) until it is.
- ``/metrics``: whatever the injected renderer produces for the scraper's Accept
  header. The web adapter knows nothing of Prometheus; the daemon builds the
  renderer from its private registry.

Handlers only read ``Runtime``; they never do I/O on the request path.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from slamon.runtime import Runtime

MetricsRenderer = Callable[[str], tuple[bytes, str]]
"""``(accept_header) -> (body, content_type)``."""

RUNTIME_KEY = web.AppKey("runtime", Runtime)
RENDER_KEY = web.AppKey("render_metrics", object)


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def readyz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME_KEY]
    if runtime.catalogue is None:
        return web.Response(status=503, text="not ready: no catalogue loaded\n")
    if not runtime.ready:
        return web.Response(status=503, text="not ready: scheduler not running\n")
    return web.Response(text="ready\n")


async def metrics(request: web.Request) -> web.Response:
    render: MetricsRenderer = request.app[RENDER_KEY]  # type: ignore[assignment]
    # rendered on the event loop, as prometheus_client's collectors expect: the cached
    # exposition keeps a scrape cheap (only changed series are re-rendered)
    body, content_type = render(request.headers.get("Accept", ""))
    return web.Response(body=body, headers={"Content-Type": content_type})


def build_app(runtime: Runtime, render_metrics: MetricsRenderer) -> web.Application:
    """The application; more routes (API, status page) are added by their own modules."""
    app = web.Application()
    app[RUNTIME_KEY] = runtime
    app[RENDER_KEY] = render_metrics
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
