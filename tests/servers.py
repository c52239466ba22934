"""Real servers on 127.0.0.1 for tests: HTTP(S), raw misbehaving TCP, a banner, DNS.

Every server binds port 0 (other test runs share this machine) and lives as long as
the test that uses it (async fixtures, function scope, on the test's own loop). Use
them as pytest fixtures by writing ``pytest_plugins = ["tests.servers"]`` in your test
module, or call the ``start_*`` async context managers (``start_http``, ``start_tcp``,
``start_dns``) and ``TestPKI`` directly, e.g. from a benchmark or a demo.

Fixtures
--------
``pki`` (session, sync)
    ``TestPKI``: a test CA and certificates made with ``cryptography`` (EC P-256, fast),
    written to a temporary folder. ``pki.ca_file`` is the CA in PEM.
    ``pki.server_context(kind)`` gives a server ``ssl.SSLContext`` for kind:
    ``valid`` (CA-signed, for 127.0.0.1 and localhost, 90 days), ``expiring`` (valid,
    5 days left), ``expired`` (CA-signed, ended yesterday), ``self_signed`` (for
    127.0.0.1/localhost, not from the CA), ``wrong_host`` (CA-signed for
    wrong.example only).

``http_server`` -> ``HttpServer`` (``.url`` like ``http://127.0.0.1:PORT``, ``.port``,
``.state``: a dict with ``password`` (the journey password, ``"s3cret-pass-42"``),
``hits`` (request count by path)). Routes:

- ``GET /ok`` 200 "OK"; ``/status/{code}`` that status; ``/headers`` sets
  ``X-Probe: yes``; ``/echo`` answers JSON {method, headers, body};
- ``/big/{n}`` n bytes; ``/huge`` announces 1 GB (Content-Length 1,000,000,000) and
  streams it lazily until the client goes; ``/endless`` a chunked body without end;
- ``/slow-body`` headers at once, then 100 bytes one every 20 ms; ``/delay/{ms}`` answers
  "OK" after ms milliseconds; ``/hang`` never answers (cancelled when the client goes);
- ``/redirect/{n}`` n redirects then ``/ok``; ``/loop`` redirects to itself;
- a login journey: ``GET /login`` sets cookie ``session`` and serves a form with
  ``<input name="csrf" value="...">``; ``POST /login`` (form csrf, user, password, with
  the session cookie) answers 302 to ``/home`` and sets cookie ``auth``; ``GET /home``
  is 200 "Welcome <user>" with the auth cookie, else 401.

``https_server`` -> ``HttpServer`` with the same routes over TLS with the ``valid``
certificate; ``https_servers`` -> dict kind -> ``HttpServer`` for every kind of ``pki``.

``raw_servers`` -> ``RawServers`` with ports of TCP servers that misbehave: ``hang``
(accepts, reads, never answers), ``reset`` (accepts and resets: RST), ``close`` (reads
the request, closes without answering), ``garbage`` (answers a line that is not HTTP),
``dribble`` (a valid HTTP 200 "OK" response of 61 bytes, one byte every 10 ms), ``truncated``
(announces 100 bytes of body, sends 10, closes).

``banner_server`` -> port of a TCP server that greets ``220 banner.test ESMTP ready``,
answers ``PING`` with ``PONG`` and ``QUIT`` with ``221 bye``. ``tls_banner_server(pki)``
does the same over TLS (``valid`` certificate).

``dns_server`` -> ``DnsServer`` (``.udp_port``, ``.tcp_port``) built with dnspython's
message API, zone ``DNS_ZONE``: www.test A 127.0.0.1 and 127.0.0.2, www.test AAAA ::1,
mail.test MX "10 mx.test.", txt.test TXT "hello world", alias.test CNAME www.test.;
servfail.test answers SERVFAIL, silent.test never answers (UDP and TCP), every other
name NXDOMAIN.

``closed_port`` -> a port on 127.0.0.1 where nothing listens (connection refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import secrets
import socket
import ssl
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
import pytest_asyncio
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOOPBACK = "127.0.0.1"
JOURNEY_PASSWORD = "s3cret-pass-42"
HUGE_BYTES = 1_000_000_000

# --------------------------------------------------------------------------- certificates

CERT_KINDS = ("valid", "expiring", "expired", "self_signed", "wrong_host")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class TestPKI:
    """A CA and one server certificate per kind (see the module docstring)."""

    __test__ = False  # not a test class

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        now = dt.datetime.now(dt.UTC)
        self.ca_key = _key()
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(_name("slamon test CA"))
            .issuer_name(_name("slamon test CA"))
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=30))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, key_cert_sign=True, crl_sign=True,
                    content_commitment=False, key_encipherment=False, data_encipherment=False,
                    key_agreement=False, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca_file = folder / "ca.pem"
        self.ca_file.write_bytes(self.ca_cert.public_bytes(serialization.Encoding.PEM))
        local = ["localhost", ipaddress.ip_address(LOOPBACK)]
        day = dt.timedelta(days=1)
        specs = {
            "valid": (local, now - day, now + 90 * day, False),
            "expiring": (local, now - day, now + 5 * day, False),
            "expired": (local, now - 60 * day, now - day, False),
            "self_signed": (local, now - day, now + 90 * day, True),
            "wrong_host": (["wrong.example"], now - day, now + 90 * day, False),
        }
        self.not_after: dict[str, dt.datetime] = {}
        self.files: dict[str, tuple[Path, Path]] = {}
        for kind, (names, start, end, self_signed) in specs.items():
            self._issue(kind, names, start, end, self_signed)
        self._contexts: dict[str, ssl.SSLContext] = {}

    def _issue(self, kind, names, start, end, self_signed) -> None:
        key = _key()
        sans = [
            x509.IPAddress(n) if not isinstance(n, str) else x509.DNSName(n) for n in names
        ]
        subject = _name(str(names[0]))
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if self_signed else self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        cert = builder.sign(key if self_signed else self.ca_key, hashes.SHA256())
        cert_path = self.folder / f"{kind}.pem"
        key_path = self.folder / f"{kind}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(_pem_key(key))
        self.files[kind] = (cert_path, key_path)
        self.not_after[kind] = cert.not_valid_after_utc

    def server_context(self, kind: str = "valid") -> ssl.SSLContext:
        ctx = self._contexts.get(kind)
        if ctx is None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert, key = self.files[kind]
            ctx.load_cert_chain(cert, key)
            self._contexts[kind] = ctx
        return ctx


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return TestPKI(tmp_path_factory.mktemp("pki"))


# --------------------------------------------------------------------------- HTTP


@dataclass
class HttpServer:
    url: str
    port: int
    state: dict = field(default_factory=dict)


def build_app(state: dict) -> web.Application:
    routes = web.RouteTableDef()
    sessions: dict[str, str] = {}  # session cookie -> csrf token
    authed: set[str] = set()

    @web.middleware
    async def count(request: web.Request, handler):
        state["hits"][request.path] = state["hits"].get(request.path, 0) + 1
        return await handler(request)

    @routes.get("/ok")
    async def ok(request):
        return web.Response(text="OK")

    @routes.route("*", "/status/{code}")
    async def status(request):
        return web.Response(status=int(request.match_info["code"]), text="status")

    @routes.get("/headers")
    async def headers(request):
        return web.Response(text="OK", headers={"X-Probe": "yes"})

    @routes.route("*", "/echo")
    async def echo(request):
        body = await request.text()
        return web.json_response(
            {"method": request.method, "headers": dict(request.headers), "body": body}
        )

    @routes.get("/big/{n}")
    async def big(request):
        return web.Response(body=b"x" * int(request.match_info["n"]))

    @routes.get("/huge")
    async def huge(request):
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        resp.content_length = HUGE_BYTES
        await resp.prepare(request)
        chunk = b"\0" * 65536
        for _ in range(HUGE_BYTES // len(chunk)):  # lazily; the client stops reading long before
            await resp.write(chunk)
        return resp

    @routes.get("/endless")
    async def endless(request):
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        chunk = b"y" * 65536
        for _ in range(HUGE_BYTES // len(chunk)):
            await resp.write(chunk)
        return resp

    @routes.get("/slow-body")
    async def slow_body(request):
        resp = web.StreamResponse()
        resp.content_length = 100
        await resp.prepare(request)
        for _ in range(100):
            await resp.write(b"z")
            await asyncio.sleep(0.02)
        return resp

    @routes.get("/delay/{ms}")
    async def delay(request):
        await asyncio.sleep(int(request.match_info["ms"]) / 1000)
        return web.Response(text="OK")

    @routes.get("/hang")
    async def hang(request):
        await asyncio.sleep(3600)
        return web.Response(text="late")

    @routes.get("/redirect/{n}")
    async def redirect(request):
        n = int(request.match_info["n"])
        raise web.HTTPFound("/ok" if n <= 0 else f"/redirect/{n - 1}")

    @routes.get("/loop")
    async def loop(request):
        raise web.HTTPFound("/loop")

    @routes.get("/login")
    async def login_form(request):
        session = secrets.token_hex(8)
        token = secrets.token_hex(12)
        sessions[session] = token
        resp = web.Response(
            content_type="text/html",
            text=f'<form method="post"><input type="hidden" name="csrf" value="{token}">'
            '<input name="user"><input name="password" type="password"></form>',
        )
        resp.set_cookie("session", session)
        return resp

    @routes.post("/login")
    async def login(request):
        form = await request.post()
        session = request.cookies.get("session", "")
        if sessions.get(session) is None or form.get("csrf") != sessions[session]:
            return web.Response(status=403, text="bad csrf or session")
        if form.get("password") != state["password"]:
            return web.Response(status=403, text="bad password")
        auth = secrets.token_hex(8)
        authed.add(auth)
        state["users"][auth] = form.get("user", "")
        resp = web.Response(status=302, headers={"Location": "/home"})
        resp.set_cookie("auth", auth)
        return resp

    @routes.get("/home")
    async def home(request):
        auth = request.cookies.get("auth", "")
        if auth not in authed:
            return web.Response(status=401, text="log in first")
        return web.Response(text=f"Welcome {state['users'][auth]}")

    app = web.Application(middlewares=[count])
    app.add_routes(routes)
    return app


@contextlib.asynccontextmanager
async def start_http(ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[HttpServer]:
    state = {"password": JOURNEY_PASSWORD, "hits": {}, "users": {}}
    runner = web.AppRunner(
        build_app(state), handler_cancellation=True, access_log=None, shutdown_timeout=0.1
    )
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    scheme = "https" if ssl_context else "http"
    try:
        yield HttpServer(f"{scheme}://{LOOPBACK}:{port}", port, state)
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture
async def http_server() -> AsyncIterator[HttpServer]:
    async with start_http() as server:
        yield server


@pytest_asyncio.fixture
async def https_server(pki: TestPKI) -> AsyncIterator[HttpServer]:
    async with start_http(pki.server_context("valid")) as server:
        yield server


@pytest_asyncio.fixture
async def https_servers(pki: TestPKI) -> AsyncIterator[dict[str, HttpServer]]:
    async with contextlib.AsyncExitStack() as stack:
        yield {
            kind: await stack.enter_async_context(start_http(pki.server_context(kind)))
            for kind in CERT_KINDS
        }


# --------------------------------------------------------------------------- raw TCP


@contextlib.asynccontextmanager
async def start_tcp(handler, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """A TCP server running ``handler(reader, writer)`` per connection; yields its port.

    Handler tasks still running at the end are cancelled (no task outlives the test).
    """
    tasks: set[asyncio.Task] = set()

    async def wrapped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            tasks.discard(task)
            writer.transport.abort()

    server = await asyncio.start_server(wrapped, LOOPBACK, 0, ssl=ssl_context, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()
        for t in list(tasks):
            t.cancel()
        if tasks:
            await asyncio.wait(list(tasks), timeout=1.0)
        await asyncio.wait_for(server.wait_closed(), 1.0)


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


async def _hang(reader, writer):
    while await reader.read(65536):  # until the client goes; never a byte back
        pass


async def _reset(reader, writer):
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _close(reader, writer):
    await _read_head(reader)
    writer.close()


async def _garbage(reader, writer):
    await _read_head(reader)
    writer.write(b"THIS IS NOT HTTP\r\n\r\n")
    await writer.drain()
    writer.close()


async def _dribble(reader, writer):
    await _read_head(reader)
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK":
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.01)
    writer.close()


async def _truncated(reader, writer):
    await _read_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
    await writer.drain()
    writer.close()


@dataclass
class RawServers:
    hang: int
    reset: int
    close: int
    garbage: int
    dribble: int
    truncated: int


@pytest_asyncio.fixture
async def raw_servers() -> AsyncIterator[RawServers]:
    async with contextlib.AsyncExitStack() as stack:
        ports = {
            name: await stack.enter_async_context(start_tcp(fn))
            for name, fn in (
                ("hang", _hang), ("reset", _reset), ("close", _close),
                ("garbage", _garbage), ("dribble", _dribble), ("truncated", _truncated),
            )
        }
        yield RawServers(**ports)


async def _banner(reader, writer):
    writer.write(b"220 banner.test ESMTP ready\r\n")
    await writer.drain()
    while line := await reader.readline():
        cmd = line.strip().upper()
        if cmd == b"QUIT":
            writer.write(b"221 bye\r\n")
            await writer.drain()
            return
        writer.write(b"PONG\r\n" if cmd == b"PING" else b"500 what?\r\n")
        await writer.drain()


@pytest_asyncio.fixture
async def banner_server() -> AsyncIterator[int]:
    async with start_tcp(_banner) as port:
        yield port


@pytest_asyncio.fixture
async def tls_banner_server(pki: TestPKI) -> AsyncIterator[int]:
    async with start_tcp(_banner, pki.server_context("valid")) as port:
        yield port


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- DNS

DNS_ZONE: dict[tuple[str, str], list[str]] = {
    ("www.test.", "A"): ["127.0.0.1", "127.0.0.2"],
    ("www.test.", "AAAA"): ["::1"],
    ("mail.test.", "MX"): ["10 mx.test."],
    ("txt.test.", "TXT"): ['"hello world"'],
    ("alias.test.", "CNAME"): ["www.test."],
}
DNS_NAMES = {name for name, _ in DNS_ZONE}


def dns_answer(wire: bytes) -> bytes | None:
    """The answer to a DNS query in wire format, or None to stay silent."""
    query = dns.message.from_wire(wire)
    question = query.question[0]
    name = question.name.to_text().lower()
    if name == "silent.test.":
        return None
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    if name == "servfail.test.":
        response.set_rcode(dns.rcode.SERVFAIL)
        return response.to_wire()
    rtype = dns.rdatatype.to_text(question.rdtype)
    if name not in DNS_NAMES:
        response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()
    answers = DNS_ZONE.get((name, rtype), [])
    if answers:
        response.answer.append(
            dns.rrset.from_text_list(question.name, 60, dns.rdataclass.IN, question.rdtype, answers)
        )
    return response.to_wire()


class _DnsUdp(asyncio.DatagramProtocol):
    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        try:
            answer = dns_answer(data)
        except Exception:
            return
        if answer is not None:
            self.transport.sendto(answer, addr)


@dataclass
class DnsServer:
    udp_port: int
    tcp_port: int


async def _dns_tcp(reader, writer):
    while True:
        try:
            size = struct.unpack("!H", await reader.readexactly(2))[0]
        except asyncio.IncompleteReadError:
            return
        answer = dns_answer(await reader.readexactly(size))
        if answer is None:
            await reader.read()  # silent: wait for the client to give up
            return
        writer.write(struct.pack("!H", len(answer)) + answer)
        await writer.drain()


@contextlib.asynccontextmanager
async def start_dns() -> AsyncIterator[DnsServer]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(_DnsUdp, local_addr=(LOOPBACK, 0))
    udp_port = transport.get_extra_info("sockname")[1]
    try:
        async with start_tcp(_dns_tcp) as tcp_port:
            yield DnsServer(udp_port, tcp_port)
    finally:
        transport.close()


@pytest_asyncio.fixture
async def dns_server() -> AsyncIterator[DnsServer]:
    async with start_dns() as server:
        yield server
