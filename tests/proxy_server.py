"""A small HTTP proxy on 127.0.0.1 for tests: ``CONNECT`` tunnels and absolute-form
requests, optionally requiring ``Proxy-Authorization``, recording what it was asked.

    async with start_proxy(credentials=("probe", "pw")) as proxy:
        ... proxy.port, proxy.requests  # [(method, target, {header: value}), ...]

It forwards only to loopback addresses (tests never reach anything else). A plain
request is forwarded with its target rewritten to origin form and the
``Proxy-Authorization`` header removed, then the answer is piped back until either side
closes. Written here because it is about 100 lines and no test proxy is installable.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass
class Proxy:
    port: int
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            writer.write_eof()


async def _splice(a: tuple, b: tuple) -> None:
    (ra, wa), (rb, wb) = a, b
    try:
        await asyncio.gather(_pipe(ra, wb), _pipe(rb, wa))
    finally:
        wa.transport.abort()
        wb.transport.abort()


def _host_port(authority: str, default: int) -> tuple[str, int]:
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, _, port = authority.rpartition(":")
    return host, int(port) if port else default


@contextlib.asynccontextmanager
async def start_proxy(credentials: tuple[str, str] | None = None) -> AsyncIterator[Proxy]:
    expected = None
    if credentials is not None:
        expected = "Basic " + base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
    tasks: set[asyncio.Task] = set()
    open_writers: set[asyncio.StreamWriter] = set()
    proxy = Proxy(0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        open_writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ")
            headers = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            proxy.requests.append((method, target, headers))
            if expected is not None and headers.get("proxy-authorization") != expected:
                writer.write(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                    b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n'
                )
                await writer.drain()
                return
            if method == "CONNECT":
                host, port = _host_port(target, 443)
            else:
                parts = urlsplit(target)
                if parts.scheme != "http":
                    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    return
                host, port = parts.hostname or "", parts.port or 80
            if host not in LOOPBACK_HOSTS:
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            try:
                upstream = await asyncio.open_connection(host, port)
            except OSError:
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            open_writers.add(upstream[1])
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                origin = parts.path or "/"
                if parts.query:
                    origin += "?" + parts.query
                kept = [ln for ln in lines[1:] if ln and not ln.lower().startswith("proxy-authorization:")]
                upstream[1].write(
                    (f"{method} {origin} {version}\r\n" + "".join(f"{ln}\r\n" for ln in kept) + "\r\n").encode("latin-1")
                )
            await _splice((reader, writer), upstream)
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            tasks.discard(task)
            open_writers.discard(writer)
            writer.transport.abort()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        yield proxy
    finally:
        server.close()
        for w in list(open_writers):  # ends every pipe (cancelling would log errors)
            w.transport.abort()
        if tasks:
            await asyncio.wait(list(tasks), timeout=1.0)
        await asyncio.wait_for(server.wait_closed(), 1.0)
