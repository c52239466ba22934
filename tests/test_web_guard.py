"""The web port's limits and headers, over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from slamon.runtime import Runtime
from slamon.store.urls import mask_url, scrub
from slamon.web import PortLimits, WebServer, build_app
from slamon.web.app import SECURITY_HEADERS

CATALOGUE = Path(__file__).resolve().parents[1] / "catalogue"


def _app():
    return build_app(Runtime(), lambda accept: (b"# empty\n", "text/plain"))


async def _started(limits: PortLimits) -> tuple[WebServer, int]:
    server = WebServer(_app(), "127.0.0.1", 0, limits)
    _, port = await server.start()
    return server, port


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str = "/healthz") -> bytes:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    await writer.drain()
    return await asyncio.wait_for(reader.readuntil(b"ok\n"), 2)


async def _closed_by_peer(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1), within) == b""
    except (ConnectionResetError, TimeoutError):
        return False


async def _every_answer_carries_the_security_headers():
    server, port = await _started(PortLimits())
    try:
        async with aiohttp.ClientSession() as http:
            for path in ("/healthz", "/metrics", "/no-such-page", "/api/v1/services"):
                async with http.get(f"http://127.0.0.1:{port}{path}") as resp:
                    for name, value in SECURITY_HEADERS.items():
                        assert resp.headers.get(name) == value, (path, name)
                    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
                    assert "unsafe-inline" not in resp.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    finally:
        await server.close()


async def _connections_over_the_limit_get_503_and_are_closed():
    server, port = await _started(PortLimits(max_connections=3, head_timeout_seconds=30))
    held = []
    try:
        for _ in range(3):
            held.append(await asyncio.open_connection("127.0.0.1", port))
        await asyncio.sleep(0.05)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answer = await asyncio.wait_for(reader.read(), 2)
        assert answer.startswith(b"HTTP/1.1 503 ")
        writer.close()
        assert server.stats.refused_total == 1
        assert server.stats.open == 3
        # a held connection still works, and closing one frees a place
        assert b"200 OK" in await _get(*held[0])
        held.pop()[1].close()
        await asyncio.sleep(0.1)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert b"200 OK" in await _get(reader, writer)
        writer.close()
    finally:
        for _, w in held:
            w.close()
        await server.close()


async def _a_slow_first_request_head_is_cut_off():
    server, port = await _started(PortLimits(head_timeout_seconds=0.3, keepalive_timeout_seconds=30))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\n")  # and never the rest
        await writer.drain()
        assert await _closed_by_peer(reader, within=3)
        assert server.stats.head_timeouts_total == 1
        writer.close()
        # a client that sends its head in time is served, and is not cut off later
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHo")
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.write(b"st: t\r\n\r\n")
        assert b"200 OK" in await asyncio.wait_for(reader.readuntil(b"ok\n"), 2)
        await asyncio.sleep(0.5)
        assert b"200 OK" in await _get(reader, writer)
        writer.close()
        assert server.stats.head_timeouts_total == 1
    finally:
        await server.close()


async def _an_idle_kept_alive_connection_is_closed():
    server, port = await _started(PortLimits(head_timeout_seconds=30, keepalive_timeout_seconds=0.3))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert b"200 OK" in await _get(reader, writer)
        assert await _closed_by_peer(reader, within=5)
        writer.close()
        await asyncio.sleep(0.05)
        assert server.stats.open == 0
    finally:
        await server.close()


LOOPS = ["asyncio", "uvloop"]


def _run_on(loop_name: str, scenario) -> None:
    """Each scenario on both loops: the daemon runs on uvloop, whose transports differ
    from asyncio's."""
    factory = None
    if loop_name == "uvloop":
        factory = pytest.importorskip("uvloop").new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(asyncio.wait_for(scenario(), 30))


@pytest.mark.parametrize("loop_name", LOOPS)
@pytest.mark.parametrize("scenario", [_every_answer_carries_the_security_headers, _connections_over_the_limit_get_503_and_are_closed, _a_slow_first_request_head_is_cut_off, _an_idle_kept_alive_connection_is_closed])
def test_port_guard(loop_name, scenario):
    _run_on(loop_name, scenario)


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("postgresql+psycopg://slamon:Tr0ub4dor@127.0.0.1:notaport/db", "Tr0ub4dor"),
        ("postgresql+psycopg://slamon:hunter22@127.0.0.1:1/db", "hunter22"),
        ("mysql://root:s3cretpw@127.0.0.1/db", "s3cretpw"),
    ],
)
def test_database_urls_never_show_their_password(tmp_path, url, password):
    """Every command that opens the store, on URLs that fail to parse, to connect, or
    name an unsupported database (all on 127.0.0.1: nothing leaves the machine)."""
    assert password not in mask_url(url)
    assert password not in scrub(f"failed for {password}", url)
    for command in (["sla", "--period", "2026-11", "--office", "unhq"], ["report", "--period", "2026-11"]):
        proc = subprocess.run(
            [sys.executable, "-m", "slamon", *command, "--db", url, "--catalogue", str(CATALOGUE)],
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
        )
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0
        assert "store" in out or "database" in out, out  # it got as far as the store
        assert password not in out, out
        assert "Traceback" not in out, out
    proc = subprocess.run(
        [sys.executable, "-m", "slamon", "run", "--db", url, "--listen", "127.0.0.1:0",
         "--catalogue", str(CATALOGUE)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "store" in out or "database" in out, out
    assert password not in out, out
    assert "Traceback" not in out, out


def test_a_password_holding_at_and_slash_is_masked_whole():
    url = "postgresql+psycopg://slamon:pa@ss/w0rd@db.example:5432/db"
    assert mask_url(url) == "postgresql+psycopg://slamon:***@db.example:5432/db"
    assert scrub("auth failed: pa@ss/w0rd rejected", url) == "auth failed: *** rejected"
