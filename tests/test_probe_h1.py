"""The http probe's own HTTP/1.1 client (slamon.probes.h1) on the wire.

A scripted server on 127.0.0.1 answers each path with canned bytes and records the
requests it got, so what the client sends and how it reads odd but valid answers
(compressed, chunked, delimited by the close, interim 1xx, HEAD) are pinned here, and
the verdict table of docs/probes.md: each misbehaviour it lists, with its verdict and
reason, sent in one write and byte by byte (the verdict must not depend on how TCP
splits it). Every test runs with both response parsers (httptools and the pure-Python
fallback), chosen through ``ProbeContext.create(http_parser=...)``.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import time
import tracemalloc
import zlib

import pytest
import pytest_asyncio

from slamon.core.results import Reason
from slamon.probes import ProbeContext, run_probe
from slamon.probes.h1parse import HTTPTOOLS_USABLE, ParseError, ResponseParser, Upgrade
from tests.probe_helpers import make_probe

pytest.register_assert_rewrite("tests.servers")  # also a plugin of other test modules
from tests.servers import start_tcp  # noqa: E402


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
        self.split = 0  # bytes per write (0: the whole answer in one write)

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
            answer = self.routes.get(path, response("404 Not Found", {"Content-Length": "0"}))
            step = self.split or len(answer) or 1
            for i in range(0, len(answer), step):
                writer.write(answer[i : i + step])
                await writer.drain()
                if self.split:
                    await asyncio.sleep(0.002)  # one segment per write
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


PARSERS = ["httptools", "python"]
PASSWORD = "p@ss:w/rd %+é"  # every character that would break a URL's userinfo


@pytest_asyncio.fixture(params=PARSERS)
async def ctx(request):
    c = ProbeContext.create(
        max_body_bytes=1024, env={"TOKEN": "tok-secret-9", "PW": PASSWORD}, http_parser=request.param
    )
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


# ---------------------------------------------------------------- the verdict table

LENIENT = {
    # a Content-Length shorter than what is sent: the rest is not part of the answer
    "/longer-than-announced": response("200 OK", {"Content-Length": "2"}, b"OKand then some more bytes"),
    "/stray-after-204": response("204 No Content", {}, b"stray body bytes"),
    "/stray-after-304": response("304 Not Modified", {"Content-Length": "0"}, b"stray body bytes"),
    "/stray-after-close": response("200 OK", {"Content-Length": "2", "Connection": "close"}, b"OKHTTP/1.1 500 Oops\r\n\r\n"),
    "/obs-fold": b"HTTP/1.1 200 OK\r\nX-Folded: one\r\n  two\r\n\tthree\r\nContent-Length: 2\r\n\r\nOK",
    "/bare-lf": b"HTTP/1.1 200 OK\nX-Folded: one two three\nContent-Length: 2\n\nOK",
    "/chunk-size-space": response("200 OK", {"Transfer-Encoding": "chunked"}, b"2 \r\nOK\r\n0  \r\n\r\n"),
    "/chunk-extension-trailer": response("200 OK", {"Transfer-Encoding": "chunked"}, b"2;name=value\r\nOK\r\n0\r\nX-Trailer: t\r\n\r\n"),
    "/chunked-and-length": response("200 OK", {"Transfer-Encoding": "chunked", "Content-Length": "99999"}, b"2\r\nOK\r\n0\r\n\r\n"),
    "/interim": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
    + response("200 OK", {"Content-Length": "2"}, b"OK"),
    "/gzip-members": response("200 OK", {"Content-Encoding": "gzip", "Content-Length": str(len(gzip.compress(b"O") + gzip.compress(b"K")))}, gzip.compress(b"O") + gzip.compress(b"K")),
    "/same-length-twice": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nOKmore",
    "/chunks-bare-lf": b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nOK\n0\n\n",
    "/bare-cr-in-value": b"HTTP/1.1 200 OK\r\nX-Odd: a\rb\r\nContent-Length: 2\r\n\r\nOK",
    "/no-reason-phrase": b"HTTP/1.1 200\r\nContent-Length: 2 \r\n\r\nOK",
    "/http-1.0-until-close": b"HTTP/1.0 200 OK\r\n\r\nOK",
    "/space-in-header-name": b"HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 2\r\n\r\nOK",
    "/space-before-colon": b"HTTP/1.1 200 OK\r\nX-Spaced : x\r\nContent-Length: 2\r\n\r\nOK",
}  # fmt: skip
FAILING = {
    "/gzip-truncated": (response("200 OK", {"Content-Encoding": "gzip", "Content-Length": "20"}, gzip.compress(b"OK" * 50)[:20]), Reason.protocol, "truncated"),
    "/gzip-truncated-close": (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + gzip.compress(b"OK" * 50)[:20], Reason.protocol, "truncated"),
    "/deflate-truncated": (response("200 OK", {"Content-Encoding": "deflate", "Content-Length": "8"}, zlib.compress(b"OK" * 50)[:8]), Reason.protocol, "truncated"),
    "/conflicting-lengths": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nOK", Reason.protocol, "Content-Length"),
    "/bad-length": (b"HTTP/1.1 200 OK\r\nContent-Length: two\r\n\r\nOK", Reason.protocol, "Content-Length"),
    "/no-colon": (b"HTTP/1.1 200 OK\r\nThis is not a header\r\nContent-Length: 2\r\n\r\nOK", Reason.protocol, "header"),
    "/bad-chunk-size": (response("200 OK", {"Transfer-Encoding": "chunked"}, b"zz\r\nOK\r\n0\r\n\r\n"), Reason.protocol, "chunk size"),
    "/not-http": (b"SSH-2.0-OpenSSH_9.6\r\n", Reason.protocol, "bad HTTP response"),
    "/four-digit-status": (b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nOK", Reason.protocol, "status"),
    "/control-byte-in-header-name": (b"HTTP/1.1 200 OK\r\nX\x01A: x\r\nContent-Length: 2\r\n\r\nOK", Reason.protocol, "header"),
    "/chunk-without-line-end": (response("200 OK", {"Transfer-Encoding": "chunked"}, b"2\r\nOKX0\r\n\r\n"), Reason.protocol, "chunk"),
    "/short-body": (response("200 OK", {"Content-Length": "10"}, b"OK"), Reason.reset, "before the body was complete"),
}  # fmt: skip


@pytest.mark.parametrize("split", [0, 1, 7])
async def test_accepted_like_curl_go_and_aiohttp(ctx, split):
    async with Scripted(LENIENT) as srv:
        srv.split = split
        for path in LENIENT:
            expect = {} if path.startswith("/stray-after-3") or "204" in path else {"body": "^OK$"}
            if path in ("/obs-fold", "/bare-lf"):
                expect["headers"] = {"X-Folded": "^one two three$"}  # unfolded into one value
            if path == "/space-before-colon":
                expect["headers"] = {"X-Spaced": "^x$"}
            out = await run_probe(http(srv.url(path), expect=expect), ctx)
            assert out.success, (path, split, out.reason, out.detail)
        out = await run_probe(http(srv.url("/stray-after-204")), ctx)
        assert out.status_code == 204
        out = await run_probe(http(srv.url("/interim")), ctx)
        assert out.status_code == 200  # the final answer, not the interim ones
        # HEAD: whatever comes after the headers is ignored
        out = await run_probe(http(srv.url("/longer-than-announced"), method="HEAD"), ctx)
        assert out.success, out.detail


@pytest.mark.parametrize("split", [0, 1, 7])
async def test_failures_and_their_reasons(ctx, split):
    async with Scripted({path: answer for path, (answer, _, _) in FAILING.items()}) as srv:
        srv.split = split
        for path, (_, reason, words) in FAILING.items():
            out = await run_probe(http(srv.url(path)), ctx)
            assert (out.success, out.reason) == (False, reason), (path, split, out.detail)
            assert words.lower() in out.detail.lower(), (path, out.detail)


async def test_credentials_in_the_url_are_sent_as_basic_auth(ctx):
    async with Scripted({"/end": response("200 OK", {"Content-Length": "2"}, b"OK")}) as other:
        routes = {
            "/private": response("200 OK", {"Content-Length": "2"}, b"OK"),
            "/same": response("302 Found", {"Location": "/private", "Content-Length": "0"}),
            "/away": response("302 Found", {"Location": f"http://localhost:{other.port}/end", "Content-Length": "0"}),
        }  # fmt: skip
        async with Scripted(routes) as srv:
            base = f"http://probe:${{env:PW}}@127.0.0.1:{srv.port}"
            for path in ("/private", "/same", "/away"):
                out = await run_probe(http(base + path), ctx)
                assert out.success, out.detail
            out = await run_probe(http(f"http://127.0.0.1:{srv.port}/x?k=${{env:PW}}"), ctx)
            assert PASSWORD not in repr(out)
    expected = "Basic " + base64.b64encode(f"probe:{PASSWORD}".encode()).decode()
    seen = [(line, h.get("authorization")) for line, h, _ in srv.requests]
    assert seen[:4] == [
        ("GET /private", expected),
        ("GET /same", expected),
        ("GET /private", expected),  # the same origin keeps the credentials
        ("GET /away", expected),
    ]
    ((line, headers, _),) = other.requests
    assert line == "GET /end" and "authorization" not in headers  # never to another origin


async def test_cookies_set_by_a_redirect_go_to_its_target(ctx):
    routes = {
        "/login": response("302 Found", {"Location": "/home", "Set-Cookie": "session=abc123; Path=/", "Content-Length": "0"}),
        "/home": response("200 OK", {"Content-Length": "2"}, b"OK"),
    }  # fmt: skip
    async with Scripted(routes) as srv:
        out = await run_probe(http(srv.url("/login")), ctx)
        assert out.success, out.detail
        out = await run_probe(http(srv.url("/home")), ctx)  # the next run starts with no cookie
    cookies = [(line, h.get("cookie")) for line, h, _ in srv.requests]
    assert cookies == [("GET /login", None), ("GET /home", "session=abc123"), ("GET /home", None)]


async def test_raw_bytes_in_location_are_percent_encoded(ctx):
    routes = {
        "/latin1": b"HTTP/1.1 302 Found\r\nLocation: /caf\xe9 ok\r\nContent-Length: 0\r\n\r\n",
        "/utf8": b"HTTP/1.1 302 Found\r\nLocation: /caf\xc3\xa9?q=\xc3\xa9\r\nContent-Length: 0\r\n\r\n",
        "/caf%E9%20ok": response("200 OK", {"Content-Length": "2"}, b"OK"),
        "/caf%C3%A9?q=%C3%A9": response("200 OK", {"Content-Length": "2"}, b"OK"),
    }
    async with Scripted(routes) as srv:
        for path in ("/latin1", "/utf8"):
            out = await run_probe(http(srv.url(path), expect={"status": [200]}), ctx)
            assert out.success, (path, out.detail)
    assert [line for line, _, _ in srv.requests] == [
        "GET /latin1", "GET /caf%E9%20ok", "GET /utf8", "GET /caf%C3%A9?q=%C3%A9",
    ]


async def _endless_header(reader, writer):
    """A header section of 20 MB: one header value, sent in 64 KiB pieces."""
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nX-Huge: ")
    piece = b"a" * 65536
    for _ in range(20 * 1024 * 1024 // len(piece)):
        writer.write(piece)
        await writer.drain()
    writer.write(b"\r\nContent-Length: 2\r\n\r\nOK")
    await writer.drain()


async def _many_headers(reader, writer):
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\n" + b"X-Many: 1234567890\r\n" * 4000 + b"Content-Length: 2\r\n\r\nOK")
    await writer.drain()


async def test_the_header_section_is_capped(ctx):
    async with start_tcp(_endless_header) as huge, start_tcp(_many_headers) as many:
        tracemalloc.start()
        try:
            t0 = time.monotonic()
            out = await run_probe(http(f"http://127.0.0.1:{huge}/", timeout="5s"), ctx)
            took = time.monotonic() - t0
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert (out.success, out.reason) == (False, Reason.protocol)
        assert "header section longer than the 65536-byte cap" in out.detail
        assert took < 1.0  # refused at the cap, not after 20 MB
        assert peak < 2 * 1024 * 1024  # and never held more than about the cap
        # about 84 KB of small headers: over the default cap, under a raised one
        out = await run_probe(http(f"http://127.0.0.1:{many}/"), ctx)
        assert out.reason is Reason.protocol and "cap" in out.detail
        out = await run_probe(http(f"http://127.0.0.1:{many}/", max_header_bytes=100_000), ctx)
        assert out.success, out.detail
    async with Scripted({"/small": response("200 OK", {"X-Pad": "p" * 1500, "Content-Length": "2"}, b"OK")}) as srv:
        for split in (0, 16):
            srv.split = split
            out = await run_probe(http(srv.url("/small"), max_header_bytes=1024), ctx)
            assert out.reason is Reason.protocol and "1024-byte cap" in out.detail
            out = await run_probe(http(srv.url("/small"), max_header_bytes=2048), ctx)
            assert out.success, out.detail


class _Events:
    def __init__(self) -> None:
        self.events: list = []

    def on_head(self, status, version, headers, length, chunked) -> None:
        self.events.append((status, version, headers, length, chunked))

    def on_body(self, data) -> None:
        self.events.append(bytes(data))

    def on_message_complete(self) -> None:
        self.events.append("complete")


def _parse(data: bytes, llhttp: bool, split: int) -> tuple:
    events = _Events()
    parser = ResponseParser(events, llhttp)
    try:
        for i in range(0, len(data), split):
            parser.feed_data(data[i : i + split])
    except ParseError:
        return ("refused", events.events)
    except Upgrade:
        return ("upgrade", events.events)
    return ("read", events.events)


@pytest.mark.skipif(not HTTPTOOLS_USABLE, reason="httptools with leniency switches not installed")
def test_both_parsers_read_every_case_alike():
    """llhttp for the head and the Python head parser give the same heads, bodies and
    refusals on every case of the table, whole and split byte by byte."""
    cases = dict(LENIENT)
    cases.update({path: answer for path, (answer, _, _) in FAILING.items()})
    cases["/upgrade"] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
    for path, data in cases.items():
        for split in (len(data), 1):
            fast = _parse(data, True, split)
            assert fast == _parse(data, False, split), (path, split)
    assert _parse(LENIENT["/obs-fold"], True, 1)[1][0][2][0] == (b"X-Folded", b"one two three")


@pytest.mark.parametrize("llhttp", [True, False])
def test_any_split_gives_the_same_response(llhttp):
    """Interim heads, chunk extensions and trailers cut at random places, 300 ways."""
    import random

    data = (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n1;x=y\r\nd\r\n0\r\nTrailer: 1\r\n\r\n"
    )
    whole = _parse(data, llhttp, len(data))
    assert whole[0] == "read" and b"".join(e for e in whole[1] if isinstance(e, bytes)) == b"abcd"
    for seed in range(300):
        rnd = random.Random(seed)
        events = _Events()
        parser = ResponseParser(events, llhttp)
        i = 0
        while i < len(data):
            n = rnd.randint(1, 20)
            parser.feed_data(data[i : i + n])
            i += n
        heads = [e for e in events.events if isinstance(e, tuple)]
        body = b"".join(e for e in events.events if isinstance(e, bytes))
        assert [h[0] for h in heads] == [100, 103, 200] and body == b"abcd", seed
        assert events.events.count("complete") == 3
