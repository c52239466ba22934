"""Starting and stopping the web server, and the listen-address policy."""

from __future__ import annotations

import ipaddress

from aiohttp import web

SHUTDOWN_TIMEOUT_SECONDS = 2.0


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
    """One aiohttp site on ``host:port``; port 0 picks a free port (see ``address``)."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS
        )
        self._host = host
        self._port = port
        self.address: tuple[str, int] | None = None

    async def start(self) -> tuple[str, int]:
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        for addr in self._runner.addresses:
            if isinstance(addr, tuple) and len(addr) >= 2:
                self.address = (str(addr[0]), int(addr[1]))
                break
        else:
            self.address = (self._host, self._port)
        return self.address

    async def close(self) -> None:
        await self._runner.cleanup()
