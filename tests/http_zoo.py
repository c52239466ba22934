"""The HTTP zoo: loopback endpoints that misbehave the way real servers do, byte by byte.

A raw asyncio server (no HTTP library on the server side, so every byte, every write
boundary and every pause is chosen here). One handler table serves every listener;
the first path segment names the endpoint (``/obs-fold``, ``/redirect-301``, ...).

Listeners (all on loopback, port 0):

- ``http``   plain HTTP on 127.0.0.1, and ``other`` a second one (redirects to another port);
- ``ipv6``   plain HTTP on ::1;
- ``good``, ``expired``, ``wrong_host``, ``self_signed``: HTTPS on 127.0.0.1 with the
  certificates of ``tests.servers.TestPKI``.

``Zoo`` runs them on an event loop in its own thread, so one zoo serves a whole test
module while each test probes it from its own loop (and curl and blackbox_exporter
from their own processes). Every endpoint ends by itself: pauses are short, the
"endless" ones stop after a few seconds, and a connection lasts at most
``CONNECTION_LIMIT_SECONDS``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import socket
import struct
import threading
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by pytest as a plugin; importing it here first would stop
    from tests.servers import TestPKI  # pytest from rewriting its asserts

CONNECTION_LIMIT_SECONDS = 10.0
SLOW_SECONDS = 2.5  # slow endpoints take this long; probes expecting a timeout use 1 s
ENDLESS_SECONDS = 4.0  # "endless" endpoints stop after this long
AUTH_USER = "probe"
AUTH_PASSWORD = "zoo-pass-42"
COOKIE = "zoo-session=c00k1e"
FILLER_LINE = b"X-Filler-%06d: " + b"f" * 1000 + b"\r\n"  # about 1 KiB per header line
TLS_KINDS = ("good", "expiring", "expired", "wrong_host", "self_signed")
_PKI_KIND = {"good": "valid"}  # the others have their tests.servers.TestPKI names


# --------------------------------------------------------------------------- a connection


@dataclass
class Request:
    method: str
    target: bytes  # the raw request-target, as sent
    headers: dict[str, str]  # lower-case names, last value wins


class Conn:
    """What a handler sees: the request, the zoo's ports, and ways to answer."""

    def __init__(
        self, zoo: Zoo, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.zoo = zoo
        self.req = req
        self.reader = reader
        self.writer = writer
        self.reusable = False  # serve the next request on this connection after this one

    async def redirect(self, status: int, location: str | bytes, *extra: tuple[str, str]) -> None:
        """A redirect on a connection kept open for the client's next request."""
        if isinstance(location, str):
            location = location.encode("latin-1")
        head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Moved')}\r\n".encode()
        head += b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in extra)
        await self.send(head + b"Location: " + location + b"\r\nContent-Length: 5\r\n\r\nmoved")
        self.reusable = True

    async def send(self, *parts: bytes, pause: float = 0.0) -> None:
        """Write each part separately (one write each, drained, ``pause`` between)."""
        for i, part in enumerate(parts):
            if i and pause:
                await asyncio.sleep(pause)
            self.writer.write(part)
            await self.writer.drain()

    async def linger(self, seconds: float = 5.0) -> None:
        """Keep the connection open until the client closes it (at most ``seconds``)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while await self.reader.read(65536):
                    pass

    def url(self, listener: str, path: str) -> str:
        return self.zoo.url(listener, path)


Handler = Callable[[Conn], Awaitable[None]]
ENDPOINTS: dict[str, Handler] = {}


def endpoint(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            if name in ENDPOINTS:
                raise ValueError(f"endpoint {name} registered twice")
            ENDPOINTS[name] = fn
        return fn

    return register


def response(
    status: int = 200,
    body: bytes = b"OK",
    headers: list[tuple[str, str]] | None = None,
    *,
    length: bool = True,
    reason: str = "",
    version: str = "1.1",
) -> bytes:
    """A well-formed response (``length=False``: no Content-Length, close-delimited)."""
    line = f"HTTP/{version} {status} {reason or _REASONS.get(status, 'Whatever')}\r\n"
    fields = list(headers or [])
    if length:
        fields.append(("Content-Length", str(len(body))))
    head = line + "".join(f"{k}: {v}\r\n" for k, v in fields) + "\r\n"
    return head.encode("latin-1") + body


_REASONS = {
    100: "Continue", 103: "Early Hints", 200: "OK", 204: "No Content", 301: "Moved Permanently",
    302: "Found", 303: "See Other", 304: "Not Modified", 307: "Temporary Redirect",
    308: "Permanent Redirect", 401: "Unauthorized", 404: "Not Found", 500: "Internal Server Error",
}  # fmt: skip


def chunked(*chunks: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


# --------------------------------------------------------------------------- plain answers


@endpoint("ok")
async def _ok(c: Conn) -> None:
    await c.send(response(body=b"OK"))


@endpoint("body-match", "body-miss", "status-list-miss")
async def _hello(c: Conn) -> None:
    await c.send(response(body=b"hello zoo\n", headers=[("Content-Type", "text/plain")]))


@endpoint("body-not")
async def _maintenance(c: Conn) -> None:
    await c.send(response(body=b"down for maintenance\n"))


@endpoint("status-500")
async def _status_500(c: Conn) -> None:
    await c.send(response(500, b"failed"))


@endpoint("status-404-expected")
async def _status_404(c: Conn) -> None:
    await c.send(response(404, b"no such page"))


@endpoint("status-204")
async def _status_204(c: Conn) -> None:
    await c.send(response(204, b"", length=False))


@endpoint("status-304")
async def _status_304(c: Conn) -> None:
    await c.send(response(304, b"", [("ETag", '"v1"')], length=False))


@endpoint("status-204-with-length")
async def _status_204_length(c: Conn) -> None:
    await c.send(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n")
    await c.linger(SLOW_SECONDS)


@endpoint("status-304-with-length")
async def _status_304_length(c: Conn) -> None:
    await c.send(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n")
    await c.linger(SLOW_SECONDS)


@endpoint("status-line-no-reason")
async def _no_reason(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nOK")


@endpoint("status-line-bare")
async def _status_line_bare(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nOK")


@endpoint("status-line-http2")
async def _status_line_http2(c: Conn) -> None:
    await c.send(b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nOK")


@endpoint("header-space-before-colon")
async def _header_space_before_colon(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\nX-Spaced : yes\r\nContent-Length: 2\r\n\r\nOK")


@endpoint("header-obs-text")
async def _header_obs_text(c: Conn) -> None:
    await c.send(
        b"HTTP/1.1 200 OK\r\nX-Place: Gen\xe8ve caf\xc3\xa9\r\nContent-Length: 2\r\n\r\nOK"
    )


@endpoint("status-line-lowercase")
async def _status_lower(c: Conn) -> None:
    await c.send(b"http/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")


@endpoint("reason-phrase-utf8")
async def _reason_utf8(c: Conn) -> None:
    await c.send("HTTP/1.1 200 Très bien\r\nContent-Length: 2\r\n\r\nOK".encode())


@endpoint("header-nul")
async def _header_nul(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\nX-Nul: a\x00b\r\nContent-Length: 2\r\n\r\nOK")


@endpoint("cl-plus-sign")
async def _cl_plus(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nOK")


@endpoint("te-uppercase")
async def _te_upper(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\n\r\n2\r\nOK\r\n0\r\n\r\n")


@endpoint("te-unknown")
async def _te_unknown(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: x-zoo\r\n\r\nhello until the end")


@endpoint("interim-then-close")
async def _interim_close(c: Conn) -> None:
    await c.send(b"HTTP/1.1 100 Continue\r\n\r\n")


@endpoint("switching-101")
async def _switching(c: Conn) -> None:
    await c.send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: zoo\r\nConnection: upgrade\r\n\r\n")
    await c.linger(SLOW_SECONDS)


@endpoint("redirect-to-ipv6")
async def _redirect_ipv6(c: Conn) -> None:
    await c.redirect(302, c.url("ipv6", "/ok"))


@endpoint("body-latin1")
async def _latin1(c: Conn) -> None:
    await c.send(response(body="caf\u00e9 ouvert".encode("latin-1"),
                          headers=[("Content-Type", "text/plain; charset=iso-8859-1")]))  # fmt: skip


# --------------------------------------------------------------------------- credentials


def _basic_ok(c: Conn) -> bool:
    expected = base64.b64encode(f"{AUTH_USER}:{AUTH_PASSWORD}".encode()).decode()
    return c.req.headers.get("authorization", "") == f"Basic {expected}"


@endpoint("auth-basic-url", "auth-basic-url-wrong")
async def _auth(c: Conn) -> None:
    if _basic_ok(c):
        await c.send(response(body=b"welcome"))
    else:
        await c.send(response(401, b"who are you?", [("WWW-Authenticate", 'Basic realm="zoo"')]))


# --------------------------------------------------------------------------- framing


_SHORT_CL = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"
_EXTRA = b"EXTRA BYTES AFTER THE RESPONSE\r\n"
_STRAY_204 = b"HTTP/1.1 204 No Content\r\n\r\n"


@endpoint("short-cl-one-write")
async def _short_cl_one(c: Conn) -> None:
    await c.send(_SHORT_CL + _EXTRA)


@endpoint("short-cl-split")
async def _short_cl_split(c: Conn) -> None:
    await c.send(_SHORT_CL, _EXTRA, pause=0.2)


@endpoint("stray-204-one-write")
async def _stray_204_one(c: Conn) -> None:
    await c.send(_STRAY_204 + b"stray body")


@endpoint("stray-204-split")
async def _stray_204_split(c: Conn) -> None:
    await c.send(_STRAY_204, b"stray body", pause=0.2)


@endpoint("obs-fold")
async def _obs_fold(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\nX-Folded: first part\r\n  second part\r\n"
                 b"Content-Length: 2\r\n\r\nOK")  # fmt: skip


@endpoint("bare-lf")
async def _bare_lf(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 2\n\nOK")


@endpoint("chunk-size-space")
async def _chunk_size_space(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 \r\nOK\r\n0\r\n\r\n")


@endpoint("chunked")
async def _chunked(c: Conn) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    await c.send(head, chunked(b"hello ", b"chunked ", b"zoo"), pause=0.02)


@endpoint("chunk-extension")
async def _chunk_ext(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"2;name=value\r\nOK\r\n0\r\n\r\n")  # fmt: skip


@endpoint("chunked-trailer")
async def _chunked_trailer(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
                 b"2\r\nOK\r\n0\r\nX-Sum: 42\r\n\r\n")  # fmt: skip


@endpoint("chunked-truncated")
async def _chunked_truncated(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n")


@endpoint("cl-truncated")
async def _cl_truncated(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")


@endpoint("cl-conflict")
async def _cl_conflict(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 7\r\n\r\nOKOKOKO")


@endpoint("cl-duplicate-same")
async def _cl_duplicate_same(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nOK")


@endpoint("cl-list-same")
async def _cl_list_same(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nOK")


@endpoint("cl-invalid")
async def _cl_invalid(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: two\r\n\r\nOK")


@endpoint("chunked-and-cl")
async def _chunked_and_cl(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
                 + chunked(b"OK"))  # fmt: skip


@endpoint("http10-close")
async def _http10_close(c: Conn) -> None:
    await c.send(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nhello from 1.0")


@endpoint("http10-keepalive")
async def _http10_keepalive(c: Conn) -> None:
    await c.send(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nOK")
    await c.linger()


@endpoint("close-delimited")
async def _close_delimited(c: Conn) -> None:
    head = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
    await c.send(head, b"hello ", b"until the end", pause=0.02)


@endpoint("keepalive-open")
async def _keepalive_open(c: Conn) -> None:
    await c.send(response(body=b"OK", headers=[("Connection", "keep-alive")]))
    await c.linger()


# --------------------------------------------------------------------------- 1xx


@endpoint("info-100")
async def _info_100(c: Conn) -> None:
    await c.send(b"HTTP/1.1 100 Continue\r\n\r\n", response(body=b"OK"), pause=0.02)


@endpoint("info-103")
async def _info_103(c: Conn) -> None:
    await c.send(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
                 response(body=b"OK"), pause=0.02)  # fmt: skip


@endpoint("info-100-103-one-write")
async def _info_both(c: Conn) -> None:
    await c.send(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.js>\r\n\r\n"
                 + response(body=b"OK"))  # fmt: skip


# --------------------------------------------------------------------------- compression

_TEXT = b"hello compressed zoo " * 40


def _raw_deflate(data: bytes) -> bytes:
    obj = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return obj.compress(data) + obj.flush()


@endpoint("gzip")
async def _gzip(c: Conn) -> None:
    await c.send(response(body=gzip.compress(_TEXT), headers=[("Content-Encoding", "gzip")]))


@endpoint("gzip-chunked")
async def _gzip_chunked(c: Conn) -> None:
    data = gzip.compress(_TEXT)
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
    await c.send(head + chunked(data[:10], data[10:]))


@endpoint("gzip-multi-member")
async def _gzip_multi(c: Conn) -> None:
    body = gzip.compress(b"first member, ") + gzip.compress(b"second member")
    await c.send(response(body=body, headers=[("Content-Encoding", "gzip")]))


@endpoint("gzip-truncated")
async def _gzip_truncated(c: Conn) -> None:
    data = gzip.compress(_TEXT)
    await c.send(response(body=data[: len(data) // 2], headers=[("Content-Encoding", "gzip")]))


@endpoint("gzip-corrupt")
async def _gzip_corrupt(c: Conn) -> None:
    await c.send(response(body=b"this is not gzip at all", headers=[("Content-Encoding", "gzip")]))


@endpoint("gzip-empty-body")
async def _gzip_empty(c: Conn) -> None:
    await c.send(response(body=b"", headers=[("Content-Encoding", "gzip")]))


@endpoint("deflate-zlib")
async def _deflate_zlib(c: Conn) -> None:
    await c.send(response(body=zlib.compress(_TEXT), headers=[("Content-Encoding", "deflate")]))


@endpoint("deflate-raw")
async def _deflate_raw(c: Conn) -> None:
    await c.send(response(body=_raw_deflate(_TEXT), headers=[("Content-Encoding", "deflate")]))


@endpoint("encoding-unknown")
async def _encoding_unknown(c: Conn) -> None:
    await c.send(response(body=b"hello plain zoo", headers=[("Content-Encoding", "x-zoo")]))


@endpoint("encoding-identity")
async def _encoding_identity(c: Conn) -> None:
    await c.send(response(body=b"hello plain zoo", headers=[("Content-Encoding", "identity")]))


# --------------------------------------------------------------------------- redirects


@endpoint("redirect-301", "redirect-302", "redirect-303", "redirect-307", "redirect-308")
async def _redirect_status(c: Conn) -> None:
    status = int(c.req.target.split(b"/")[1].split(b"-")[1])
    await c.redirect(status, "/ok")


@endpoint("redirect-relative")
async def _redirect_relative(c: Conn) -> None:
    if c.req.target == b"/redirect-relative/done":
        await c.send(response(body=b"OK"))
    else:  # relative to /redirect-relative/start: /redirect-relative/done
        await c.redirect(302, "done")


@endpoint("redirect-dot-segments")
async def _redirect_dots(c: Conn) -> None:
    await c.redirect(302, "../../ok")


@endpoint("redirect-scheme-relative")
async def _redirect_scheme_relative(c: Conn) -> None:
    await c.redirect(302, c.url("other", "/ok").removeprefix("http:"))


@endpoint("redirect-other-port")
async def _redirect_other_port(c: Conn) -> None:
    await c.redirect(302, c.url("other", "/ok"))


@endpoint("redirect-to-https")
async def _redirect_to_https(c: Conn) -> None:
    await c.redirect(301, c.url("good", "/ok"))


@endpoint("redirect-to-expired-tls")
async def _redirect_to_expired(c: Conn) -> None:
    await c.redirect(301, c.url("expired", "/ok"))


@endpoint("redirect-fragment")
async def _redirect_fragment(c: Conn) -> None:
    await c.redirect(302, "/ok#section-2")


@endpoint("redirect-space-in-location")
async def _redirect_space(c: Conn) -> None:
    if c.req.target.startswith(b"/redirect-space-in-location/"):
        ok = c.req.target == b"/redirect-space-in-location/a%20b"
        await c.send(response(200 if ok else 404, b"OK" if ok else c.req.target))
    else:
        await c.redirect(302, "/redirect-space-in-location/a b")


@endpoint("redirect-query-only")
async def _redirect_query_only(c: Conn) -> None:
    if c.req.target == b"/redirect-query-only?page=2":
        await c.send(response(body=b"OK"))
    else:
        await c.redirect(302, "?page=2")


@endpoint("redirect-loop")
async def _redirect_loop(c: Conn) -> None:
    await c.redirect(302, "/redirect-loop")


@endpoint("redirects-9", "redirects-10", "redirects-11")
async def _redirect_chain(c: Conn) -> None:
    parts = c.req.target.decode().split("/")  # /redirects-10 or /redirects-10/3
    total = int(parts[1].split("-")[1])
    hop = int(parts[2]) if len(parts) > 2 else 0
    location = "/ok" if hop + 1 >= total else f"/{parts[1]}/{hop + 1}"
    await c.redirect(302, location)


@endpoint("redirect-no-location")
async def _redirect_no_location(c: Conn) -> None:
    await c.send(response(302, b"moved, but where?"))


@endpoint("redirect-non-ascii")
async def _redirect_non_ascii(c: Conn) -> None:
    await c.redirect(302, b"/nonascii-target/caf\xc3\xa9")


@endpoint("redirect-latin1-location")
async def _redirect_latin1(c: Conn) -> None:
    await c.redirect(302, b"/latin1-target/caf\xe9")


_PERCENT_ENCODED = {
    "nonascii-target": b"/nonascii-target/caf%C3%A9",
    "latin1-target": b"/latin1-target/caf%E9",
}


@endpoint(*_PERCENT_ENCODED)
async def _percent_encoded_target(c: Conn) -> None:
    """200 only when the raw bytes of the Location came back percent-encoded."""
    if c.req.target.upper() == _PERCENT_ENCODED[_route(c.req.target)].upper():  # RFC 3986 2.1
        await c.send(response(body=b"OK"))
    else:
        await c.send(response(404, b"not percent-encoded: " + c.req.target))


@endpoint("redirect-cookie")
async def _redirect_cookie(c: Conn) -> None:
    await c.redirect(302, "/cookie-target", ("Set-Cookie", f"{COOKIE}; Path=/"))


@endpoint("redirect-cookie-other-port")
async def _redirect_cookie_other_port(c: Conn) -> None:
    target = c.url("other", "/cookie-target")
    await c.redirect(302, target, ("Set-Cookie", f"{COOKIE}; Path=/"))


@endpoint("cookie-target")
async def _cookie_target(c: Conn) -> None:
    if COOKIE in c.req.headers.get("cookie", ""):
        await c.send(response(body=b"OK"))
    else:
        await c.send(response(401, b"no session cookie"))


# --------------------------------------------------------------------------- header sizes


def _filler(kib: int) -> bytes:
    return b"".join(FILLER_LINE % i for i in range(kib))


@endpoint("headers-60k")
async def _headers_60k(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\n" + _filler(60) + b"Content-Length: 2\r\n\r\nOK")


@endpoint("headers-70k")
async def _headers_70k(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\n" + _filler(70) + b"Content-Length: 2\r\n\r\nOK")


@endpoint("header-value-90k")
async def _header_value_90k(c: Conn) -> None:
    await c.send(
        b"HTTP/1.1 200 OK\r\nX-Huge: " + b"v" * (90 * 1024) + b"\r\nContent-Length: 2\r\n\r\nOK"
    )


@endpoint("headers-endless")
async def _headers_endless(c: Conn) -> None:
    """Header lines, 64 KiB every 5 ms, for ENDLESS_SECONDS (about 50 MB at most)."""
    await c.send(b"HTTP/1.1 200 OK\r\n")
    block = _filler(64)
    end = time.monotonic() + ENDLESS_SECONDS
    while time.monotonic() < end:
        await c.send(block)
        await asyncio.sleep(0.005)


@endpoint("header-value-endless")
async def _header_value_endless(c: Conn) -> None:
    """One header value that never ends: 16 KiB every 5 ms, at most 4 MiB."""
    await c.send(b"HTTP/1.1 200 OK\r\nX-Endless: ")
    end = time.monotonic() + ENDLESS_SECONDS
    for _ in range(256):
        if time.monotonic() > end:
            break
        await c.send(b"e" * 16384)
        await asyncio.sleep(0.005)


# --------------------------------------------------------------------------- bodies, time


@endpoint("body-endless")
async def _body_endless(c: Conn) -> None:
    """A chunked body without end: 64 KiB every 10 ms for ENDLESS_SECONDS."""
    await c.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (65536, b"b" * 65536)
    end = time.monotonic() + ENDLESS_SECONDS
    while time.monotonic() < end:
        await c.send(chunk)
        await asyncio.sleep(0.01)


@endpoint("body-over-cap")
async def _body_over_cap(c: Conn) -> None:
    await c.send(response(body=b"x" * (2 << 20)))


@endpoint("slow-headers")
async def _slow_headers(c: Conn) -> None:
    await asyncio.sleep(SLOW_SECONDS)
    await c.send(response(body=b"OK"))


@endpoint("slow-body")
async def _slow_body(c: Conn) -> None:
    await c.send(b"HTTP/1.1 200 OK\r\nContent-Length: 25\r\n\r\n")
    for _ in range(25):
        await asyncio.sleep(SLOW_SECONDS / 25)
        await c.send(b"s")


@endpoint("dribble")
async def _dribble(c: Conn) -> None:
    data = response(body=b"OK")
    await c.send(*(data[i : i + 4] for i in range(0, len(data), 4)), pause=0.01)


@endpoint("hang")
async def _hang(c: Conn) -> None:
    await asyncio.sleep(SLOW_SECONDS)


@endpoint("close-no-answer")
async def _close_no_answer(c: Conn) -> None:
    return  # the connection is closed at once


@endpoint("garbage")
async def _garbage(c: Conn) -> None:
    await c.send(b"THIS IS NOT HTTP\r\n\r\n")


@endpoint("reset")
async def _reset(c: Conn) -> None:
    sock = c.writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.writer.transport.abort()


# --------------------------------------------------------------------------- the server


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    lines = head.split(b"\r\n")
    method, target, _version = lines[0].split(b" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return Request(method.decode("ascii"), target, headers)


def _route(target: bytes) -> str:
    return target.split(b"?")[0].split(b"/")[1].decode("latin-1")


class Zoo:
    """Every listener of the zoo, on a loop in a thread of its own."""

    def __init__(self, pki: TestPKI) -> None:
        self.pki = pki
        self.ports: dict[str, int] = {}
        self.hits: dict[str, int] = {}
        self.errors: list[str] = []
        self.ipv6_missing = ""  # why there is no IPv6 listener, when there is none
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._tasks: set[asyncio.Task] = set()

    def url(self, listener: str, path: str) -> str:
        port = self.ports[listener]
        if listener == "ipv6":
            return f"http://[::1]:{port}{path}"
        scheme = "https" if listener in TLS_KINDS else "http"
        return f"{scheme}://127.0.0.1:{port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            async with asyncio.timeout(CONNECTION_LIMIT_SECONDS):
                while True:
                    req = await _read_request(reader)
                    if req is None:
                        return
                    name = _route(req.target)
                    self.hits[name] = self.hits.get(name, 0) + 1
                    handler = ENDPOINTS.get(name)
                    if handler is None:
                        writer.write(response(404, b"no such endpoint"))
                        await writer.drain()
                        return
                    conn = Conn(self, req, reader, writer)
                    await handler(conn)
                    if not conn.reusable:
                        break
            writer.close()  # a FIN, not a reset: a keep-alive client may retry on it
            async with asyncio.timeout(1):
                await writer.wait_closed()
        except (ConnectionError, TimeoutError, OSError):
            pass  # the client went away, or the connection's time was up
        except asyncio.CancelledError:
            pass  # the zoo is stopping
        except Exception as exc:  # a bug in a handler: reported by the test
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            self._tasks.discard(task)
            writer.transport.abort()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        servers = []
        binds = {"http": ("127.0.0.1", None), "other": ("127.0.0.1", None), "ipv6": ("::1", None)}
        for kind in TLS_KINDS:
            binds[kind] = ("127.0.0.1", self.pki.server_context(_PKI_KIND.get(kind, kind)))
        for name, (host, sslctx) in binds.items():
            try:
                server = await asyncio.start_server(
                    self._serve, host, 0, ssl=sslctx, backlog=256, limit=1 << 20,
                    ssl_handshake_timeout=5 if sslctx else None,
                )  # fmt: skip
            except OSError as exc:
                if name != "ipv6":
                    raise
                self.ipv6_missing = f"cannot listen on ::1: {exc}"  # a host without IPv6
                continue
            servers.append(server)
            self.ports[name] = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        for server in servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)

    def start(self) -> Zoo:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),),
                                        name="http-zoo", daemon=True)  # fmt: skip
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the HTTP zoo did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        stop = self._stop
        assert stop is not None
        self._loop.call_soon_threadsafe(stop.set)
        self._thread.join(10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> Zoo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
