"""The HTTP/1.1 client of the ``http`` probe and of journey steps: one request per
fresh connection, timed.

An asyncio ``Protocol`` (uvloop's when installed) with the response parser of
``slamon.probes.h1parse``: heads read by ``httptools`` (llhttp, the parser uvicorn uses)
made lenient through its public switches, by a Python head parser where llhttp refuses
or is missing (``ProbeContext.create(http_parser="python")`` forces it), bodies framed
by our own code; the verdicts never depend on which is installed. A
probe needs a small part of a client: one request, no pooling, no streaming API;
written for that, it costs a fraction of aiohttp's CPU per request and takes the phase
timings where they happen. Journeys use it too, so a URL gets the same verdict from an
``http`` probe and from a journey step.

Per hop (redirects add up, as in blackbox_exporter):

- resolve:    the DNS lookup (nothing for an IP literal or a cached answer);
- connect:    the TCP connection;
- tls:        the TLS handshake (https only);
- processing: from the request written to the response headers;
- transfer:   reading the body (the final response only; added by the caller).

What the request looks like (aiohttp's defaults, so a target sees the same request):
``Host``, ``User-Agent``, ``Accept: */*``, ``Accept-Encoding: gzip, deflate`` (a
compressed body is inflated before the checks, within the read cap), ``Content-Length``
and ``Content-Type: application/octet-stream`` with a body, ``Authorization: Basic``
for credentials in the URL (``https://user:${env:PW}@host/``), ``Cookie`` from the
run's jar, then the probe's headers, which override those of the same name.
``Connection: close``: the connection is never reused. Redirects follow aiohttp's
rules: 301/302/303/307/308 with a ``Location`` (raw bytes that are not printable ASCII
percent-encoded first, as curl and Go do); 303 (and 301/302 after a POST) turn into a
body-less GET; a hop to another origin drops ``Authorization`` and the URL's
credentials; cookies set by a redirect go to its target (a jar per run, aiohttp's
public ``CookieJar``); at most ``max_redirects`` are followed (0: none), one more is a
failure, so a loop always ends.

The header section is capped (``max_header_bytes``, 64 KiB by default, interim 1xx
answers included): over it the probe stops reading at once (reason ``protocol``), so a
huge header costs neither memory nor parser time. The body is kept up to the read cap
and never beyond (``BodyTooLarge``). Bytes after a complete response are ignored,
however TCP splits them. A compressed body must be complete: several gzip members are
all inflated, a truncated stream is a ``protocol`` failure. docs/probes.md has the
verdict table.

Why one module above 500 lines: it is one thing, the client of one request per
connection; the protocol, its request, redirects and body decoding share its state.
"""

from __future__ import annotations

import asyncio
import base64
import re
import socket
import ssl
import time
import zlib
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import aiohappyeyeballs
import aiohttp
import yarl

from slamon.probes.attempt import Attempt
from slamon.probes.certs import earliest_expiry, ip_protocol_of
from slamon.probes.expect import BodyTooLarge
from slamon.probes.h1parse import ParseError, ResponseParser, Upgrade

DEFAULT_MAX_HEADER_BYTES = 64 * 1024  # docs/probes.md says why (Go: 10 MiB, curl: 100 KiB a header)
HAPPY_EYEBALLS_DELAY_SECONDS = 0.25  # aiohttp's and RFC 8305's connection attempt delay
REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
_FAMILIES = {"any": socket.AF_UNSPEC, "4": socket.AF_INET, "6": socket.AF_INET6}
_NO_BODY_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE"))
_monotonic = time.monotonic


# ---------------------------------------------------------------- failures


class BadResponse(Exception):
    """The peer did not answer with HTTP/1.x (reason ``protocol``)."""


class HeaderTooLarge(BadResponse):
    """The response header section is longer than the cap (reason ``protocol``)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"response header section longer than the {limit}-byte cap")


class BadBody(Exception):
    """The body could not be decoded, or its compressed stream ended early (``protocol``)."""


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

    __slots__ = ("auth", "authority", "host", "https", "literal", "origin", "path", "port", "url")

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
        self.auth = _basic_auth(url.user or "", url.password or "") if (
            url.raw_user is not None or url.raw_password is not None
        ) else None


def _basic_auth(user: str, password: str) -> str:
    """The ``Authorization`` value for credentials (UTF-8, as curl and Go send them)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


_REF_RE = re.compile(r"\$\{(?:env:)?[A-Za-z_][A-Za-z0-9_]*\}")


def resolve_url(template: str, resolve: Callable[[str], str]) -> str:
    """``template`` with its ``${...}`` references resolved by ``resolve``; values put
    into the userinfo (``https://user:${env:PW}@host/``) are percent-encoded, so a
    password with ``@``, ``:`` or ``/`` in it stays a password."""
    if "${" not in template:
        return template
    scheme, sep, rest = template.partition("://")
    end = len(rest)
    for stop in "/?#":
        i = rest.find(stop)
        if 0 <= i < end:
            end = i
    userinfo, at, hostport = rest[:end].rpartition("@")
    if not sep or not at:
        return resolve(template)
    userinfo = _REF_RE.sub(lambda m: quote(resolve(m.group(0)), safe=""), userinfo)
    return resolve(scheme + sep) + userinfo + "@" + resolve(hostport + rest[end:])


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
    auth: str | None = None,
    cookie: str | None = None,
    content_type: str = "application/octet-stream",
) -> bytes:
    fields = {
        "host": ("Host", target.authority),
        "user-agent": ("User-Agent", user_agent),
        "accept": ("Accept", "*/*"),
        "accept-encoding": ("Accept-Encoding", "gzip, deflate"),
    }
    if body is not None:
        fields["content-length"] = ("Content-Length", str(len(body)))
        fields["content-type"] = ("Content-Type", content_type)
    elif method not in _NO_BODY_METHODS:
        fields["content-length"] = ("Content-Length", "0")
    if auth is not None:
        fields["authorization"] = ("Authorization", auth)
    if headers:
        for name, value in headers.items():
            _check_value(name, value)
            if cookie is not None and name.lower() == "cookie":
                value = f"{value}; {cookie}"  # the probe's own cookies, then the jar's
                cookie = None
            fields[name.lower()] = (name, value)
    if cookie is not None:
        _check_value("Cookie", cookie)
        fields["cookie"] = ("Cookie", cookie)
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

    def raw_all(self, name: str) -> list[bytes]:
        """The values of ``name`` as received (bytes), in order."""
        key = name.lower().encode("latin-1")
        return [value for n, value in self._raw if n.lower() == key]


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
        "head_room",
        "headers_at",
        "headers_done",
        "length",
        "limit",
        "loop",
        "max_head",
        "parser",
        "raw_headers",
        "size",
        "status",
        "transport",
        "version",
        "waiter",
    )  # fmt: skip

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        limit: int,
        head_only: bool,
        parser: str = "httptools",
        max_head: int = DEFAULT_MAX_HEADER_BYTES,
    ) -> None:
        self.loop = loop
        self.limit = limit
        self.head_only = head_only
        self.max_head = max_head
        self.head_room = max_head  # header bytes still allowed
        self.parser: ResponseParser | None = ResponseParser(self, parser == "httptools")
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
        if not self.headers_done:
            room = self.head_room
            if len(data) > room:
                # never hand the parser more than the cap before the head is complete:
                # a huge header costs neither memory nor (quadratic) parsing time
                self._feed(data[:room])
                if self.complete or self.failure is not None:
                    return
                if not self.headers_done:
                    self._fail(HeaderTooLarge(self.max_head))
                    return
                data = data[room:]
            else:
                self.head_room = room - len(data)
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)  # type: ignore[union-attr]
        except Upgrade:
            self._finish()  # 101 Switching Protocols: the answer is the headers
        except ParseError as exc:
            if not self.complete:  # after a complete response: ignored, however split
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

    # ------------------------------------------------------------ parser callbacks

    def on_head(
        self,
        status: int,
        version: str,
        headers: list[tuple[bytes, bytes]],
        length: int | None,
        chunked: bool,
    ) -> None:
        if self.headers_done or self.complete:
            return
        if 100 <= status < 200 and status != 101:
            return  # an interim answer: the final one follows
        self.status = status
        self.version = version
        self.raw_headers = headers
        self.length = length
        self.chunked = chunked
        self.headers_at = _monotonic()
        self.headers_done = True
        for name, value in headers:
            if len(name) == 16 and name.lower() == b"content-encoding":
                encoding = value.strip().lower()
                if encoding in (b"gzip", b"x-gzip"):
                    self.decoder = _Gzip()
                elif encoding == b"deflate":
                    self.decoder = _Deflate()
        if self.head_only or status in (204, 304):
            self._finish()
        elif length is not None and length > self.limit:
            self._fail(BodyTooLarge(self.limit, length))
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
        decoder = self.decoder
        if decoder is not None:
            try:
                rest = decoder.flush()
            except zlib.error as exc:
                self._fail(BadBody(f"bad response body: cannot decode content-encoding: {exc}"))
                return
            if decoder.truncated:
                self._fail(BadBody("bad response body: the compressed stream is truncated"))
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


class _Gzip:
    """``gzip``: every member of the stream (RFC 1952 allows several; gzip(1), curl
    and Go read them all); ``truncated`` when the last member did not end."""

    __slots__ = ("_obj", "_started")

    def __init__(self) -> None:
        self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._started = False

    @property
    def unconsumed_tail(self) -> bytes:
        return self._obj.unconsumed_tail

    @property
    def truncated(self) -> bool:
        return self._started and not self._obj.eof

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if data:
            self._started = True
        obj = self._obj
        out = obj.decompress(data, max_length)
        while obj.eof and obj.unused_data and len(out) < max_length:
            rest = obj.unused_data  # the next member
            self._obj = obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += obj.decompress(rest, max_length - len(out))
        return out

    def flush(self) -> bytes:
        return self._obj.flush()


class _Deflate:
    """``deflate`` as servers send it: zlib-wrapped, or raw (as aiohttp accepts)."""

    __slots__ = ("_obj",)

    def __init__(self) -> None:
        self._obj: Any = None

    @property
    def unconsumed_tail(self) -> bytes:
        return self._obj.unconsumed_tail if self._obj is not None else b""

    @property
    def truncated(self) -> bool:
        return self._obj is not None and not self._obj.eof

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._obj is None:
            if not data:
                return b""
            wbits = zlib.MAX_WBITS if (data[0] & 0x0F) == 8 else -zlib.MAX_WBITS
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
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
) -> Response:
    """Connect, send, and wait for the response headers (the body is read by the caller).
    With a proxy ``route`` (``slamon.probes.connect``), connect to the proxy instead, and
    for https open a CONNECT tunnel through it before TLS."""
    loop = ctx.loop
    infos = await _resolve(ctx, parse_target(route.url) if route else target, ip_version, attempt)
    proto = Response(loop, ctx.max_body_bytes, head_only, ctx.http_parser, max_header_bytes)
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
    *,
    jar: aiohttp.CookieJar | None = None,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    content_type: str = "application/octet-stream",
) -> Response:
    """The final response, its headers read; the caller reads the body and closes it.

    ``proxy``: a ``slamon.probes.connect.Proxies`` (None: connect directly).
    ``jar``: the cookies of a journey run (cookies from every response are stored in
    it and sent where they belong). Without one, a jar is made only when a redirect
    sets a cookie, so that its target gets it, and dropped with the probe.
    """
    target = parse_target(url)
    auth = target.auth
    redirects = 0
    while True:
        attempt.stage = "connecting"
        cookie = _cookie_header(jar, target) if jar is not None else None
        if headers is None and body is None and auth is None and cookie is None:
            payload = _plain_request(method, target, ctx.user_agent)
        else:
            payload = build_request(
                method, target, headers, body, ctx.user_agent, auth, cookie, content_type
            )
        route = proxy.route(target) if proxy is not None else None
        if route is not None and not target.https:
            payload = route.forward(payload, target)
        slots = ctx.http_slots(ip_version)
        if not slots.take():
            await slots.wait()
        try:
            resp = await _exchange(
                ctx, attempt, target, payload, sslctx, ip_version, method == "HEAD", route,
                max_header_bytes,
            )  # fmt: skip
        finally:
            slots.give()
        redirecting = follow_redirects and resp.status in REDIRECT_STATUSES
        set_cookies = resp.headers.getall("set-cookie", ())
        if set_cookies and (jar is not None or redirecting):
            if jar is None:
                jar = aiohttp.CookieJar(unsafe=True)  # probes reach hosts by IP address too
            jar.update_cookies_from_headers(set_cookies, target.url)
        if not redirecting:
            return resp
        redirects += 1
        if redirects > max_redirects:
            resp.close()
            raise TooManyRedirects(redirects)
        raw_location = resp.headers.raw_all("location") or resp.headers.raw_all("uri")
        if not raw_location:
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
        target = _redirect_target(target, encode_location(raw_location[0]))
        if target.origin != previous.origin:
            auth = None
            if headers:
                headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIALS}
        if target.auth is not None:
            auth = target.auth


_CREDENTIALS = frozenset(("authorization", "cookie", "proxy-authorization"))


def _cookie_header(jar: aiohttp.CookieJar, target: Target) -> str | None:
    cookies = jar.filter_cookies(target.url)
    if not cookies:
        return None
    return "; ".join(f"{morsel.key}={morsel.coded_value}" for morsel in cookies.values())


def encode_location(raw: bytes) -> str:
    """A ``Location`` as a URL: surrounding whitespace dropped, spaces, control bytes
    and bytes beyond ASCII percent-encoded (curl and Go do the same; a UTF-8 path
    arrives as its UTF-8 bytes, a Latin-1 one as its single byte)."""
    raw = raw.strip(b" \t")
    if all(0x20 < c < 0x7F for c in raw):
        return raw.decode("ascii")
    return "".join(chr(c) if 0x20 < c < 0x7F else f"%{c:02X}" for c in raw)


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
