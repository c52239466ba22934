"""The HTTP/1.1 client of the ``http`` probe: one request per fresh connection, timed.

An asyncio ``Protocol`` (uvloop's when installed) with ``httptools`` (llhttp, the
parser uvicorn uses) reading the response. The probe needs a small part of a client:
one request, no pooling, no cookies, no streaming API; written for that, it costs a
fraction of aiohttp's CPU per request and takes the phase timings where they happen
instead of through trace callbacks. aiohttp stays for journeys (sessions, cookies,
forms).

Per hop (redirects add up, as in blackbox_exporter):

- resolve:    the DNS lookup (nothing for an IP literal or a cached answer);
- connect:    the TCP connection;
- tls:        the TLS handshake (https only);
- processing: from the request written to the response headers;
- transfer:   reading the body (the final response only; added by the probe).

What the request looks like (aiohttp's defaults, so a target sees the same request):
``Host``, ``User-Agent``, ``Accept: */*``, ``Accept-Encoding: gzip, deflate`` (a
compressed body is inflated before the checks, within the read cap), ``Content-Length``
and ``Content-Type: application/octet-stream`` with a body, then the probe's headers,
which override those of the same name. ``Connection: close``: the connection is never
reused. Redirects follow aiohttp's rules: 301/302/303/307/308 with a ``Location``; 303
(and 301/302 after a POST) turn into a body-less GET; a hop to another origin drops
``Authorization``; at most ``max_redirects`` are followed (0: none), one more is a
failure, so a loop always ends.

The body is kept up to the read cap and never beyond: a response announcing more, or
sending more, stops being read at once (``BodyTooLarge`` when the probe reads it).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
import zlib
from functools import lru_cache
from typing import Any

import aiohappyeyeballs
import httptools
import yarl

from slamon.probes.attempt import Attempt
from slamon.probes.certs import earliest_expiry, ip_protocol_of
from slamon.probes.expect import BodyTooLarge

HAPPY_EYEBALLS_DELAY_SECONDS = 0.25  # aiohttp's and RFC 8305's connection attempt delay
REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
_FAMILIES = {"any": socket.AF_UNSPEC, "4": socket.AF_INET, "6": socket.AF_INET6}
_NO_BODY_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE"))
_monotonic = time.monotonic


# ---------------------------------------------------------------- failures


class BadResponse(Exception):
    """The peer did not answer with HTTP/1.x (reason ``protocol``)."""


class BadBody(Exception):
    """The body could not be decoded (reason ``protocol``)."""


class Disconnected(Exception):
    """The peer closed the connection before the response was complete (``reset``)."""


class ConnectFailed(Exception):
    """A connect failure without a more precise reason (``error``)."""


class InvalidUrl(Exception):
    """The URL (or a redirect's ``Location``) cannot be requested (``error``)."""


class TooManyRedirects(Exception):
    pass


# ---------------------------------------------------------------- the request


class Target:
    """A URL as the client needs it, parsed once per distinct URL."""

    __slots__ = ("authority", "host", "https", "literal", "origin", "path", "port", "url")

    def __init__(self, url: yarl.URL) -> None:
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise InvalidUrl(f"invalid URL: {url} (not http or https)")
        host = url.raw_host
        if not host:
            raise InvalidUrl(f"invalid URL: {url} (no host)")
        self.url = url
        self.https = scheme == "https"
        self.host = host.rstrip(".") or host
        self.port = url.port or (443 if self.https else 80)
        self.literal = _ip_literal(host)
        authority = f"[{host}]" if self.literal == 6 else host
        if not url.is_default_port():
            authority = f"{authority}:{self.port}"
        self.authority = authority
        self.path = url.raw_path_qs or "/"
        self.origin = (scheme, host, self.port)


def _ip_literal(host: str) -> int:
    """4 or 6 for an IP address, 0 for a name (no resolver needed for a literal)."""
    try:
        socket.inet_pton(socket.AF_INET, host)
        return 4
    except OSError:
        pass
    try:
        socket.inet_pton(socket.AF_INET6, host)
        return 6
    except OSError:
        return 0


@lru_cache(maxsize=4096)
def parse_target(url: str) -> Target:
    try:
        parsed = yarl.URL(url)
    except (ValueError, TypeError) as exc:
        raise InvalidUrl(f"invalid URL: {url} ({exc})") from None
    return Target(parsed)


def _check_value(name: str, value: str) -> None:
    if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
        raise InvalidUrl(f"header {name!r} cannot be sent: a line break or colon in it")


def build_request(
    method: str,
    target: Target,
    headers: dict[str, str] | None,
    body: bytes | None,
    user_agent: str,
) -> bytes:
    fields = {
        "host": ("Host", target.authority),
        "user-agent": ("User-Agent", user_agent),
        "accept": ("Accept", "*/*"),
        "accept-encoding": ("Accept-Encoding", "gzip, deflate"),
    }
    if body is not None:
        fields["content-length"] = ("Content-Length", str(len(body)))
        fields["content-type"] = ("Content-Type", "application/octet-stream")
    elif method not in _NO_BODY_METHODS:
        fields["content-length"] = ("Content-Length", "0")
    if headers:
        for name, value in headers.items():
            _check_value(name, value)
            fields[name.lower()] = (name, value)
    fields["connection"] = ("Connection", "close")
    head = f"{method} {target.path} HTTP/1.1\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in fields.values()
    )
    data = (head + "\r\n").encode("utf-8")
    return data + body if body else data


@lru_cache(maxsize=4096)
def _plain_request(method: str, target: Target, user_agent: str) -> bytes:
    """The request of a probe without headers or body (most of them), built once."""
    return build_request(method, target, None, None, user_agent)


# ---------------------------------------------------------------- the response


class Headers:
    """Response headers, looked up without regard to case (what the checks need)."""

    __slots__ = ("_map", "_raw")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._raw = raw
        self._map: dict[str, list[str]] | None = None

    def _build(self) -> dict[str, list[str]]:
        m: dict[str, list[str]] = {}
        for name, value in self._raw:
            m.setdefault(name.decode("latin-1").lower(), []).append(
                value.decode("utf-8", "surrogateescape")
            )
        self._map = m
        return m

    def getall(self, name: str, default: Any = ()) -> Any:
        m = self._map if self._map is not None else self._build()
        return m.get(name.lower(), default)

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.getall(name, None)
        return values[0] if values else default


class Response(asyncio.Protocol):
    """One response on one connection; the probe awaits its headers, then its body."""

    __slots__ = (
        "_headers",
        "chunked",
        "chunks",
        "complete",
        "decoder",
        "done_at",
        "failure",
        "head_only",
        "headers_at",
        "headers_done",
        "length",
        "limit",
        "loop",
        "parser",
        "raw_headers",
        "size",
        "status",
        "transport",
        "version",
        "waiter",
    )  # fmt: skip

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int, head_only: bool) -> None:
        self.loop = loop
        self.limit = limit
        self.head_only = head_only
        self.parser = httptools.HttpResponseParser(self)
        self.transport: Any = None
        self.waiter: asyncio.Future | None = None
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.status = 0
        self.version = "1.1"
        self.headers_at = 0.0
        self.done_at = 0.0
        self.chunks: list[bytes] = []
        self.size = 0
        self.length: int | None = None
        self.chunked = False
        self.decoder: Any = None
        self.headers_done = False
        self.complete = False
        self.failure: BaseException | None = None
        self._headers: Headers | None = None

    # ------------------------------------------------------------ asyncio

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.complete or self.failure is not None or self.parser is None:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._finish()  # 101 Switching Protocols: the answer is the headers
        except httptools.HttpParserCallbackError:
            raise  # a bug in the callbacks below, not the peer's fault
        except httptools.HttpParserError as exc:
            self._fail(BadResponse(f"bad HTTP response: {_parser_message(exc)}"))

    def eof_received(self) -> bool:
        return False  # close the transport: connection_lost decides what it means

    def connection_lost(self, exc: Exception | None) -> None:
        if self.complete or self.failure is not None:
            self._wake()
            return
        if self.headers_done and self.length is None and not self.chunked and exc is None:
            self.on_message_complete()  # a body delimited by the end of the connection
        elif isinstance(exc, OSError):
            self._fail(exc)
        elif self.headers_done:
            self._fail(Disconnected("connection closed before the body was complete"))
        else:
            self._fail(Disconnected("server closed the connection without a complete response"))

    # ------------------------------------------------------------ httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.raw_headers = []  # an interim answer: the final one follows
            return
        self.status = status
        self.version = self.parser.get_http_version()
        self.headers_at = _monotonic()
        self.headers_done = True
        for name, value in self.raw_headers:
            if len(name) == 14 and name.lower() == b"content-length":
                try:
                    self.length = int(value)
                except ValueError:
                    pass  # the parser rejects it
            elif len(name) == 17 and name.lower() == b"transfer-encoding":
                self.chunked = b"chunked" in value.lower()
            elif len(name) == 16 and name.lower() == b"content-encoding":
                encoding = value.strip().lower()
                if encoding in (b"gzip", b"x-gzip"):
                    self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
                elif encoding == b"deflate":
                    self.decoder = _Deflate()
        if self.head_only or status in (204, 304):
            self._finish()
        elif self.length is not None and self.length > self.limit:
            self._fail(BodyTooLarge(self.limit, self.length))
        else:
            self._wake()

    def on_body(self, body: bytes) -> None:
        if self.complete or self.failure is not None:
            return
        room = self.limit + 1 - self.size
        if self.decoder is not None:
            try:
                body = self.decoder.decompress(body, room)
            except zlib.error as exc:
                self._fail(BadBody(f"bad response body: cannot decode content-encoding: {exc}"))
                return
            if self.decoder.unconsumed_tail:
                self._fail(BodyTooLarge(self.limit))
                return
        self.size += len(body)
        if self.size > self.limit:
            self._fail(BodyTooLarge(self.limit))
            return
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        if not self.headers_done or self.complete or self.failure is not None:
            return
        if self.decoder is not None:
            try:
                rest = self.decoder.flush()
            except zlib.error as exc:
                self._fail(BadBody(f"bad response body: cannot decode content-encoding: {exc}"))
                return
            if rest:
                self.size += len(rest)
                if self.size > self.limit:
                    self._fail(BodyTooLarge(self.limit))
                    return
                self.chunks.append(rest)
        self._finish()

    # ------------------------------------------------------------ state

    def _finish(self) -> None:
        self.complete = True
        self.done_at = _monotonic()
        self._wake()

    def _fail(self, exc: BaseException) -> None:
        self.failure = exc
        self.done_at = _monotonic()
        if self.transport is not None:
            self.transport.abort()  # stop reading: nothing more is wanted from the peer
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        self.waiter = waiter = self.loop.create_future()
        try:
            await waiter
        finally:
            self.waiter = None

    # ------------------------------------------------------------ the probe's side

    async def wait_headers(self) -> None:
        if not self.headers_done and self.failure is None:
            await self._wait()
        if not self.headers_done:
            raise self.failure  # type: ignore[misc]

    async def read(self) -> bytes:
        """The whole body within the read cap; raises ``BodyTooLarge`` and the like."""
        if not self.complete and self.failure is None:
            await self._wait()
        if self.failure is not None:
            raise self.failure
        chunks = self.chunks
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers(self.raw_headers)
        return self._headers

    @property
    def charset(self) -> str | None:
        content_type = self.headers.get("content-type")
        if not content_type:
            return None
        for param in content_type.split(";")[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset":
                return value.strip().strip('"').strip("'") or None
        return None

    def close(self) -> None:
        """Abort the connection and drop the parser: the parser refers back to this
        protocol, a cycle only the cyclic collector would otherwise free."""
        transport = self.transport
        if transport is not None:
            self.transport = None
            transport.abort()
        self.parser = None


class _Deflate:
    """``deflate`` as servers send it: zlib-wrapped, or raw (as aiohttp accepts)."""

    __slots__ = ("_obj", "_started")

    def __init__(self) -> None:
        self._obj: Any = None
        self._started = False

    @property
    def unconsumed_tail(self) -> bytes:
        return self._obj.unconsumed_tail if self._obj is not None else b""

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._obj is None:
            wbits = zlib.MAX_WBITS if data and (data[0] & 0x0F) == 8 else -zlib.MAX_WBITS
            self._obj = zlib.decompressobj(wbits)
        return self._obj.decompress(data, max_length)

    def flush(self) -> bytes:
        return self._obj.flush() if self._obj is not None else b""


def _parser_message(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


# ---------------------------------------------------------------- one request


async def _resolve(ctx: Any, target: Target, ip_version: str, attempt: Attempt) -> list:
    if target.literal:
        family = socket.AF_INET6 if target.literal == 6 else socket.AF_INET
        addr = (
            (target.host, target.port, 0, 0)
            if family == socket.AF_INET6
            else (target.host, target.port)
        )
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", addr)]
    cached = ctx.cached_addresses(target.host, target.port, ip_version)
    if cached is not None:
        return cached
    attempt.stage = "resolving the name"
    t0 = _monotonic()
    try:
        infos = await ctx.loop.getaddrinfo(
            target.host, target.port, family=_FAMILIES[ip_version],
            type=socket.SOCK_STREAM, flags=socket.AI_ADDRCONFIG,
        )  # fmt: skip
    finally:
        attempt.add_phase("resolve", _monotonic() - t0)
    if not infos:
        raise socket.gaierror(socket.EAI_NONAME, f"no address for {target.host}")
    ctx.cache_addresses(target.host, target.port, ip_version, infos)
    return infos


async def _connect(loop: asyncio.AbstractEventLoop, infos: list, proto: Response) -> Any:
    try:
        if len(infos) == 1:
            family, _, protocol, _, addr = infos[0]
            transport, _ = await loop.create_connection(
                lambda: proto, addr[0], addr[1], family=family, proto=protocol
            )
            return transport
        sock = await aiohappyeyeballs.start_connection(
            infos, happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY_SECONDS, interleave=1
        )
        try:
            transport, _ = await loop.create_connection(lambda: proto, sock=sock)
        except BaseException:
            sock.close()
            raise
        return transport
    except OSError as exc:
        if type(exc) is OSError and exc.errno is None:  # several attempts, several errors
            raise ConnectFailed(f"cannot connect: {exc.strerror or exc}") from None
        raise


def _note_connection(attempt: Attempt, transport: Any) -> None:
    attempt.ip_protocol = ip_protocol_of(transport.get_extra_info("peername"))
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is not None:
        attempt.tls_version = ssl_object.version()
        attempt.note_cert_expiry(earliest_expiry(ssl_object))


async def _exchange(
    ctx: Any,
    attempt: Attempt,
    target: Target,
    request: bytes,
    sslctx: ssl.SSLContext,
    ip_version: str,
    head_only: bool,
    route: Any = None,
) -> Response:
    """Connect, send, and wait for the response headers (the body is read by the caller).
    With a proxy ``route`` (``slamon.probes.connect``), connect to the proxy instead, and
    for https open a CONNECT tunnel through it before TLS."""
    loop = ctx.loop
    infos = await _resolve(ctx, parse_target(route.url) if route else target, ip_version, attempt)
    proto = Response(loop, ctx.max_body_bytes, head_only)
    attempt.stage = "connecting"
    t0 = _monotonic()
    try:
        try:
            transport = await _connect(loop, infos, proto)
            if route is not None and target.https:
                attempt.stage = "opening the proxy tunnel"
                await route.tunnel(transport, proto, target)
        finally:
            t1 = _monotonic()
            attempt.add_phase("connect", t1 - t0)
        if target.https:
            attempt.stage = "in the TLS handshake"
            try:
                transport = await loop.start_tls(
                    transport, proto, sslctx, server_hostname=target.host
                )
            finally:
                attempt.add_phase("tls", _monotonic() - t1)
            proto.transport = transport
        _note_connection(attempt, transport)
        attempt.stage = "waiting for the response"
        t2 = _monotonic()
        try:
            transport.write(request)
            await proto.wait_headers()
        finally:
            attempt.add_phase("processing", (proto.headers_at or _monotonic()) - t2)
    except BaseException:
        proto.close()
        raise
    return proto


async def request(
    ctx: Any,
    attempt: Attempt,
    method: str,
    url: str,
    headers: dict[str, str] | None,
    body: bytes | None,
    sslctx: ssl.SSLContext,
    ip_version: str = "any",
    follow_redirects: bool = True,
    max_redirects: int = 10,
    proxy: Any = None,
) -> Response:
    """The final response, its headers read; the caller reads the body and closes it.
    ``proxy``: a ``slamon.probes.connect.Proxies`` (None: connect directly)."""
    target = parse_target(url)
    redirects = 0
    while True:
        attempt.stage = "connecting"
        if headers is None and body is None:
            payload = _plain_request(method, target, ctx.user_agent)
        else:
            payload = build_request(method, target, headers, body, ctx.user_agent)
        route = proxy.route(target) if proxy is not None else None
        if route is not None and not target.https:
            payload = route.forward(payload, target)
        slots = ctx.http_slots(ip_version)
        if not slots.take():
            await slots.wait()
        try:
            resp = await _exchange(
                ctx, attempt, target, payload, sslctx, ip_version, method == "HEAD", route
            )
        finally:
            slots.give()
        if not follow_redirects or resp.status not in REDIRECT_STATUSES:
            return resp
        redirects += 1
        if redirects > max_redirects:
            resp.close()
            raise TooManyRedirects(redirects)
        location = resp.headers.get("location") or resp.headers.get("uri")
        if location is None:
            return resp
        resp.close()
        if (resp.status == 303 and method != "HEAD") or (
            resp.status in (301, 302) and method == "POST"
        ):
            method = "GET"
            body = None
            if headers:
                headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        previous = target
        target = _redirect_target(target, location)
        if headers and target.origin != previous.origin:
            headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIALS}


_CREDENTIALS = frozenset(("authorization", "cookie", "proxy-authorization"))


def _redirect_target(current: Target, location: str) -> Target:
    try:
        url = yarl.URL(location)
    except ValueError:
        raise InvalidUrl(
            f"invalid URL: {location}: the server redirected to a location that is not a URL"
        ) from None
    if url.scheme and url.scheme not in ("http", "https"):
        raise InvalidUrl(f"invalid URL: {location}: a redirect to a non-HTTP URL")
    if not url.is_absolute() or not url.scheme or not url.raw_host:
        url = current.url.join(url)
    return parse_target(str(url))
