"""Starting and stopping the web server, and the listen-address policy.

The port is guarded (``slamon.web.guard``): at most ``max_connections`` open
connections, a first request head within ``head_timeout_seconds``, and an idle
kept-alive connection closed after ``keepalive_timeout_seconds``.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass

from aiohttp import web

from slamon.web.guard import ConnectionGuard, GuardStats

SHUTDOWN_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class PortLimits:
    """Limits of the web port (defaults suit a status page and a few scrapers)."""

    max_connections: int = 256
    head_timeout_seconds: float = 10.0
    keepalive_timeout_seconds: float = 15.0


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def admin_exposure_problem(host: str, admin_routes: bool, token_set: bool) -> str | None:
    """Why the daemon must not listen on ``host``, or None.

    Admin actions (reload through the API, added later) may only be reachable off
    the machine when they need a bearer token. Today the daemon has no admin route,
    so every address is allowed; the API module passes ``admin_routes=True``.
    """
    if admin_routes and not token_set and not is_loopback(host):
        return (
            f"refusing to expose admin actions on {host}: set the admin token "
            "environment variable or listen on 127.0.0.1"
        )
    return None


class WebServer:
    """One aiohttp application on ``host:port``; port 0 picks a free port (see ``address``)."""

    def __init__(self, app: web.Application, host: str, port: int, limits: PortLimits | None = None) -> None:
        self.limits = limits or PortLimits()
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
            keepalive_timeout=self.limits.keepalive_timeout_seconds,
        )
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._guard: ConnectionGuard | None = None
        self.address: tuple[str, int] | None = None

    @property
    def stats(self) -> GuardStats:
        return self._guard.stats if self._guard is not None else GuardStats()

    async def start(self) -> tuple[str, int]:
        await self._runner.setup()
        handler = self._runner.server
        assert handler is not None
        self._guard = ConnectionGuard(
            handler,
            max_connections=self.limits.max_connections,
            head_timeout_seconds=self.limits.head_timeout_seconds,
        )
        try:
            self._server = await asyncio.get_running_loop().create_server(
                self._guard, self._host, self._port, reuse_address=True
            )
        except BaseException:
            await self._runner.cleanup()
            raise
        sock = self._server.sockets[0].getsockname()
        self.address = (str(sock[0]), int(sock[1]))
        return self.address

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._runner.cleanup()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
