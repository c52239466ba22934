"""The http probe's own HTTP/1.1 client (slamon.probes.h1) on the wire.

A scripted server on 127.0.0.1 answers each path with canned bytes and records the
requests it got, so what the client sends and how it reads odd but valid answers
(compressed, chunked, delimited by the close, interim 1xx, HEAD) are pinned here.
"""

from __future__ import annotations

import asyncio
import gzip
import zlib

import pytest_asyncio

from slamon.core.results import Reason
from slamon.probes import ProbeContext, run_probe
from tests.probe_helpers import make_probe


def response(status: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode() + b"\r\n" + body


class Scripted:
    """Answers ``routes[path]`` (bytes, then close) and records (head, body) per request."""

    def __init__(self, routes: dict[str, bytes]) -> None:
        self.routes = routes
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.in_flight = 0
        self.peak = 0
        self.server: asyncio.Server | None = None
        self.port = 0
        self.hold = 0.0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            line, *fields = head.split("\r\n")
            headers = {}
            for f in fields:
                if f:
                    k, _, v = f.partition(":")
                    headers[k.strip().lower()] = v.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            method, path, _ = line.split(" ")
            self.requests.append((f"{method} {path}", headers, body))
            if self.hold:
                await asyncio.sleep(self.hold)
            writer.write(self.routes.get(path, response("404 Not Found", {"Content-Length": "0"})))
            await writer.drain()
        finally:
            self.in_flight -= 1
            writer.close()

    async def __aenter__(self) -> Scripted:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest_asyncio.fixture
async def ctx():
    c = ProbeContext.create(max_body_bytes=1024, env={"TOKEN": "tok-secret-9"})
    yield c
    await c.close()


def http(url: str, **fields):
    return make_probe(kind="http", url=url, **fields)


async def test_the_request_on_the_wire(ctx):
    async with Scripted({"/a?b=1": response("200 OK", {"Content-Length": "2"}, b"OK")}) as srv:
        assert (await run_probe(http(srv.url("/a?b=1")), ctx)).success
        out = await run_probe(
            http(srv.url("/a?b=1"), method="POST", body="hello", headers={"User-Agent": "mine/1"}), ctx
        )
        assert out.success, out.detail
    (line, headers, body), (line2, headers2, body2) = srv.requests
    assert line == "GET /a?b=1" and body == b""
    assert headers["host"] == f"127.0.0.1:{srv.port}"
    assert headers["user-agent"].startswith("slamon/")
    assert headers["accept"] == "*/*" and headers["accept-encoding"] == "gzip, deflate"
    assert headers["connection"] == "close"
    assert "content-length" not in headers
    assert line2 == "POST /a?b=1" and body2 == b"hello"
    assert headers2["user-agent"] == "mine/1"  # the probe's headers win
    assert headers2["content-length"] == "5"


async def test_compressed_chunked_and_close_delimited_bodies(ctx):
    text = b"status: healthy\n" * 10
    routes = {
        "/gzip": response("200 OK", {"Content-Encoding": "gzip", "Content-Length": str(len(gzip.compress(text)))}, gzip.compress(text)),
        "/deflate": response("200 OK", {"Content-Encoding": "deflate", "Content-Length": str(len(zlib.compress(text)))}, zlib.compress(text)),
        "/chunked": response("200 OK", {"Transfer-Encoding": "chunked"}, b"7\r\nstatus:\r\n9\r\n healthy\n\r\n0\r\n\r\n"),
        "/until-close": b"HTTP/1.0 200 OK\r\n\r\nstatus: healthy\n",
        "/bomb": response("200 OK", {"Content-Encoding": "gzip"}, gzip.compress(b"x" * 100_000)),
        "/bad-gzip": response("200 OK", {"Content-Encoding": "gzip", "Content-Length": "9"}, b"not gzip!"),
    }  # fmt: skip
    async with Scripted(routes) as srv:
        for path in ("/gzip", "/deflate", "/chunked", "/until-close"):
            out = await run_probe(http(srv.url(path), expect={"body": "status: healthy"}), ctx)
            assert out.success, (path, out.detail)
            assert "transfer" in out.phases
        out = await run_probe(http(srv.url("/until-close")), ctx)
        assert out.http_version == "1.0"
        out = await run_probe(http(srv.url("/bomb")), ctx)  # the cap counts inflated bytes
        assert out.reason is Reason.body_too_large
        out = await run_probe(http(srv.url("/bad-gzip")), ctx)
        assert out.reason is Reason.protocol and "content-encoding" in out.detail


async def test_head_interim_answers_and_no_content(ctx):
    routes = {
        "/head": response("200 OK", {"Content-Length": "5000"}),
        "/continue": b"HTTP/1.1 100 Continue\r\n\r\n" + response("200 OK", {"Content-Length": "2"}, b"OK"),
        "/empty": response("204 No Content", {}),
    }
    async with Scripted(routes) as srv:
        out = await run_probe(http(srv.url("/head"), method="HEAD", timeout="2s"), ctx)
        assert out.success and out.status_code == 200, out.detail
        out = await run_probe(http(srv.url("/continue"), expect={"body": "^OK$"}), ctx)
        assert out.success and out.status_code == 200, out.detail
        out = await run_probe(http(srv.url("/empty")), ctx)
        assert out.success and out.status_code == 204


async def test_redirect_rules(ctx):
    async with Scripted({"/end": response("200 OK", {"Content-Length": "2"}, b"OK")}) as other:
        routes = {
            "/see-other": response("303 See Other", {"Location": "/end", "Content-Length": "0"}),
            "/temporary": response("307 Temporary Redirect", {"Location": "/end", "Content-Length": "0"}),
            "/elsewhere": response("302 Found", {"Location": f"http://localhost:{other.port}/end", "Content-Length": "0"}),
            "/no-location": response("302 Found", {"Content-Length": "0"}),
            "/ftp": response("302 Found", {"Location": "ftp://127.0.0.1/x", "Content-Length": "0"}),
            "/end": response("200 OK", {"Content-Length": "2"}, b"OK"),
        }  # fmt: skip
        async with Scripted(routes) as srv:
            auth = {"Authorization": "Bearer ${env:TOKEN}"}
            out = await run_probe(http(srv.url("/see-other"), method="POST", body="x", headers=auth), ctx)
            assert out.success, out.detail
            out = await run_probe(http(srv.url("/temporary"), method="POST", body="x", headers=auth), ctx)
            assert out.success, out.detail
            out = await run_probe(http(srv.url("/elsewhere"), headers=auth), ctx)
            assert out.success, out.detail
            out = await run_probe(http(srv.url("/no-location")), ctx)
            assert out.success and out.status_code == 302  # nothing to follow: checked as is
            out = await run_probe(http(srv.url("/ftp")), ctx)
            assert out.reason is Reason.error and "ftp://" in out.detail
    seen = [(line, h.get("authorization"), body) for line, h, body in srv.requests]
    assert seen[:4] == [
        ("POST /see-other", "Bearer tok-secret-9", b"x"),
        ("GET /end", "Bearer tok-secret-9", b""),  # 303: a GET without the body
        ("POST /temporary", "Bearer tok-secret-9", b"x"),
        ("POST /end", "Bearer tok-secret-9", b"x"),  # 307: the same request again
    ]
    (line, headers, _), = other.requests
    assert line == "GET /end" and "authorization" not in headers  # another origin


async def test_connection_limit_and_dns_cache():
    c = ProbeContext.create(connection_limit=2, dns_cache_seconds=60)
    try:
        async with Scripted({"/ok": response("200 OK", {"Content-Length": "2"}, b"OK")}) as srv:
            srv.hold = 0.1
            url = f"http://localhost:{srv.port}/ok"
            outs = await asyncio.gather(*(run_probe(http(url, ip_version="4"), c) for _ in range(6)))
            assert all(o.success for o in outs), [o.detail for o in outs]
            assert srv.peak == 2  # never more connections than the limit
            resolved = [o for o in outs if "resolve" in o.phases]
            assert resolved  # the first ones asked the resolver
            again = await run_probe(http(url, ip_version="4"), c)
            assert again.success and "resolve" not in again.phases  # answered from the cache
    finally:
        await c.close()


async def test_outside_cancellation_is_not_a_timeout(ctx):
    async with Scripted({"/ok": response("200 OK", {"Content-Length": "2"}, b"OK")}) as srv:
        srv.hold = 5.0
        task = asyncio.create_task(run_probe(http(srv.url("/ok"), timeout="3s"), ctx))
        await asyncio.sleep(0.2)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        assert task.cancelled()
        # and the deadline of a later probe still works
        out = await run_probe(http(srv.url("/ok"), timeout="200ms"), ctx)
        assert out.reason is Reason.timeout and "waiting for the response" in out.detail
        assert asyncio.current_task().cancelling() == 0
