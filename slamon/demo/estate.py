"""The simulated estate: servers on 127.0.0.1 that play every probed service.

- one aiohttp application on two listeners (HTTP and HTTPS), routing
  ``/<service>/<probe>/<original path>`` to the service's behaviour; journeys get a
  login form with a CSRF-style token, a session cookie and steps that take a few
  hundred milliseconds;
- one TCP listener per ``tcp`` probe, sending a banner that satisfies its ``expect``
  (an SMTP-style ``421`` refusal during an outage);
- two TLS listeners: one with a healthy certificate, one expiring in a few days;
- a DNS server over UDP answering A, AAAA, MX, SOA, NS, TXT and CNAME queries
  (``SERVFAIL`` during an outage).

Each answer asks ``Behaviour`` whether the service is up now (profile, outage cycle,
planned maintenance). ``Estate.address`` says where each probe must point, so the
derived catalogue can be written once the estate is listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import secrets
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
from aiohttp import web

from slamon.core.catalogue import Catalogue
from slamon.core.model import (
    DnsProbe,
    HttpProbe,
    IcmpProbe,
    JourneyProbe,
    JourneyStep,
    TcpProbe,
    TlsProbe,
)
from slamon.demo.bodies import body_for
from slamon.demo.certs import CertFiles, issue_server_cert, make_authority
from slamon.demo.profiles import EXPIRING_CERT_DAYS, Behaviour, Profile, assign_profiles

log = logging.getLogger("slamon.demo")

HOST = "127.0.0.1"
SESSION_COOKIE = "DEMOSESSION"
HEALTHY_CERT_DAYS = 200
IO_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Address:
    """Where one probe points in the estate."""

    host: str = HOST
    port: int = 0
    url_base: str = ""  # for http and journey probes: scheme://127.0.0.1:port/<service>/<probe>
    ca_file: str | None = None


@dataclass
class _Journey:
    steps: list[JourneyStep]
    sessions: dict[str, str] = field(default_factory=dict)  # session id -> token issued


def _status(expected: list[int] | None, prefer: int = 200) -> int:
    if not expected or prefer in expected:
        return prefer
    return expected[0]


def _step_path(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path or "/"


class Estate:
    def __init__(
        self,
        catalogue: Catalogue,
        workdir: Path,
        *,
        seed: int = 1,
        clock: Callable[[], float] = time.time,
        port_base: int = 0,
    ) -> None:
        self.catalogue = catalogue
        self.workdir = workdir
        self.seed = seed
        self.clock = clock
        # with a port base, listeners take port_base, port_base + 1, ... (any free port
        # where one is taken), so the demo catalogue stays the same from run to run
        self.port_base = port_base
        self._port_index = 0
        self.profiles = assign_profiles(catalogue, seed)
        self.behaviour = Behaviour(catalogue, self.profiles, anchor=clock(), seed=seed)
        self.ca_file: Path | None = None
        self.http_port = 0
        self.https_port = 0
        self.tls_port = 0
        self.expiring_tls_port = 0
        self.dns_port = 0
        self.tcp_ports: dict[tuple[str, str], int] = {}
        self._runner: web.AppRunner | None = None
        self._servers: list[asyncio.Server] = []
        self._dns_transport: asyncio.DatagramTransport | None = None
        self._journeys: dict[tuple[str, str], _Journey] = {}
        self._http: dict[tuple[str, str], HttpProbe] = {}
        self._dns: dict[tuple[str, str], DnsProbe] = {}

    # ------------------------------------------------------------------ start / stop

    async def start(self) -> None:
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        certs = self.workdir / "certs"
        self.ca_file, ca_cert, ca_key = await asyncio.to_thread(make_authority, certs, now)
        healthy = await asyncio.to_thread(
            issue_server_cert, certs, "estate", (ca_cert, ca_key), now, HEALTHY_CERT_DAYS
        )
        expiring = await asyncio.to_thread(
            issue_server_cert, certs, "expiring", (ca_cert, ca_key), now, EXPIRING_CERT_DAYS
        )
        server_ctx = _server_context(healthy)
        for service in self.catalogue.services.values():
            for probe in service.probes:
                key = (service.id, probe.id)
                if isinstance(probe, HttpProbe):
                    self._http[key] = probe
                elif isinstance(probe, JourneyProbe):
                    self._journeys[key] = _Journey(list(probe.steps))
                elif isinstance(probe, DnsProbe):
                    self._dns[key] = probe
        self._check_bodies()

        app = web.Application()
        app.router.add_route("*", "/{service}/{probe}/{tail:.*}", self._handle_http)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        self.http_port = await self._site(None)
        self.https_port = await self._site(server_ctx)

        self.tls_port = await self._listen(self._handshake_only, server_ctx)
        self.expiring_tls_port = await self._listen(self._handshake_only, _server_context(expiring))
        for service in self.catalogue.services.values():
            for probe in service.probes:
                if isinstance(probe, TcpProbe):
                    self.tcp_ports[(service.id, probe.id)] = await self._listen(
                        self._banner_handler(service.id, probe), None
                    )
        loop = asyncio.get_running_loop()
        port = self._next_port()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _DnsProtocol(self), local_addr=(HOST, port)
            )
        except OSError:
            if not port:
                raise
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _DnsProtocol(self), local_addr=(HOST, 0)
            )
        self._dns_transport = transport
        self.dns_port = transport.get_extra_info("sockname")[1]
        log.info(
            "demo_estate_started http=%d https=%d tls=%d dns=%d tcp_listeners=%d",
            self.http_port, self.https_port, self.tls_port, self.dns_port, len(self.tcp_ports),
        )

    async def close(self) -> None:
        if self._dns_transport is not None:
            self._dns_transport.close()
        for server in self._servers:
            server.close()
        for server in self._servers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), timeout=2.0)
        self._servers.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Estate:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _next_port(self) -> int:
        if not self.port_base:
            return 0
        port = self.port_base + self._port_index
        self._port_index += 1
        return port if port <= 65535 else 0

    async def _site(self, ssl_ctx: ssl.SSLContext | None) -> int:
        assert self._runner is not None
        port = self._next_port()
        before = set(map(tuple, self._runner.addresses))
        site = web.TCPSite(self._runner, HOST, port, ssl_context=ssl_ctx)
        try:
            await site.start()
        except OSError:
            if not port:
                raise
            site = web.TCPSite(self._runner, HOST, 0, ssl_context=ssl_ctx)
            await site.start()
        return _new_port(self._runner, before)

    async def _listen(self, handler, ssl_ctx: ssl.SSLContext | None) -> int:
        timeout = IO_TIMEOUT_SECONDS if ssl_ctx else None
        port = self._next_port()
        try:
            server = await asyncio.start_server(handler, HOST, port, ssl=ssl_ctx, ssl_handshake_timeout=timeout)
        except OSError:
            if not port:
                raise
            server = await asyncio.start_server(handler, HOST, 0, ssl=ssl_ctx, ssl_handshake_timeout=timeout)
        self._servers.append(server)
        return server.sockets[0].getsockname()[1]

    def _check_bodies(self) -> None:
        """Fail at start-up, not at the first probe, for a pattern no body can satisfy."""
        for probe in self._http.values():
            body_for(_listed(probe.expect.body), _listed(probe.expect.body_not))
        for journey in self._journeys.values():
            for step in journey.steps:
                body_for(_listed(step.expect.body), _listed(step.expect.body_not),
                         dict.fromkeys(step.extract.values(), "t0ken"))

    # ------------------------------------------------------------------ addresses

    def address(self, service_id: str, probe_id: str) -> Address:
        """Where the derived catalogue points ``probe_id`` of ``service_id``."""
        service = self.catalogue.services[service_id]
        probe = next(p for p in service.probes if p.id == probe_id)
        ca = str(self.ca_file) if self.ca_file else None
        if isinstance(probe, HttpProbe | JourneyProbe):
            url = probe.url if isinstance(probe, HttpProbe) else probe.steps[0].url
            https = url.lower().startswith("https:")
            port = self.https_port if https else self.http_port
            scheme = "https" if https else "http"
            return Address(HOST, port, f"{scheme}://{HOST}:{port}/{service_id}/{probe_id}", ca)
        if isinstance(probe, TlsProbe):
            expiring = self.profiles.get(service_id) is Profile.expiring_cert
            return Address(HOST, self.expiring_tls_port if expiring else self.tls_port, "", ca)
        if isinstance(probe, TcpProbe):
            return Address(HOST, self.tcp_ports[(service_id, probe_id)])
        if isinstance(probe, DnsProbe):
            return Address(HOST, self.dns_port)
        if isinstance(probe, IcmpProbe):
            return Address(HOST)  # the loopback answers echo requests itself
        raise ValueError(f"unknown probe kind {probe.kind}")

    # ------------------------------------------------------------------ HTTP

    async def _handle_http(self, request: web.Request) -> web.StreamResponse:
        service_id = request.match_info["service"]
        probe_id = request.match_info["probe"]
        key = (service_id, probe_id)
        if key not in self._http and key not in self._journeys:
            return web.Response(status=404, text="no such demo endpoint\n")
        verdict = self.behaviour.verdict(service_id, self.clock())
        if key in self._journeys:
            return await self._journey_step(request, service_id, self._journeys[key], verdict.up)
        if verdict.delay_seconds:
            await asyncio.sleep(verdict.delay_seconds)
        if not verdict.up:
            return web.Response(status=503, text=f"Service Unavailable ({verdict.why})\n")
        probe = self._http[key]
        body = body_for(_listed(probe.expect.body), _listed(probe.expect.body_not))
        return web.Response(status=_status(probe.expect.status), text=body)

    async def _journey_step(
        self, request: web.Request, service_id: str, journey: _Journey, up: bool
    ) -> web.StreamResponse:
        await asyncio.sleep(self.behaviour.step_delay_seconds())
        if not up:
            return web.Response(status=503, text="Service Unavailable\n")
        tail = "/" + request.match_info["tail"]
        step = next(
            (s for s in journey.steps if s.method == request.method and _step_path(s.url) == tail),
            None,
        )
        if step is None:
            return web.Response(status=404, text="no such step\n")
        session = request.cookies.get(SESSION_COOKIE)
        tokens: dict[str, str] = {}
        new_session = None
        if step.extract:
            token = secrets.token_urlsafe(12)
            new_session = secrets.token_urlsafe(12)
            if len(journey.sessions) > 1000:
                journey.sessions.clear()
            journey.sessions[new_session] = token
            tokens = dict.fromkeys(step.extract.values(), token)
        elif step.form is not None:
            form = await request.post()
            issued = journey.sessions.get(session or "")
            if issued is None or issued not in form.values():
                return web.Response(status=403, text="invalid or missing login token\n")
        elif session not in journey.sessions:
            return web.Response(status=401, text="not signed in\n")
        body = body_for(_listed(step.expect.body), _listed(step.expect.body_not), tokens)
        status = _status(step.expect.status)
        if step.form is not None and step.expect.status and 302 in step.expect.status:
            status = 302
        response = web.Response(status=status, text=body, content_type="text/html")
        if status == 302:
            response.headers["Location"] = f"/{service_id}/home"
        if new_session:
            response.set_cookie(SESSION_COOKIE, new_session, httponly=True, path="/")
        return response

    # ------------------------------------------------------------------ TCP / TLS

    async def _handshake_only(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _close(writer)

    def _banner_handler(self, service_id: str, probe: TcpProbe):
        ok_banner = _banner(probe)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            verdict = self.behaviour.verdict(service_id, self.clock())
            try:
                if verdict.delay_seconds:
                    await asyncio.sleep(verdict.delay_seconds)
                line = ok_banner if verdict.up else "421 Service not available, closing channel\r\n"
                writer.write(line.encode())
                await asyncio.wait_for(writer.drain(), timeout=IO_TIMEOUT_SECONDS)
                if probe.send:
                    with contextlib.suppress(TimeoutError, ConnectionError):
                        await asyncio.wait_for(reader.read(1024), timeout=1.0)
            except (ConnectionError, TimeoutError):
                pass
            finally:
                await _close(writer)

        return handle

    # ------------------------------------------------------------------ DNS

    def dns_answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        qname = question.name.to_text(omit_final_dot=True).lower()
        rdtype = question.rdtype
        probe_key = next(
            (k for k, p in self._dns.items()
             if p.name.rstrip(".").lower() == qname
             and dns.rdatatype.from_text(p.record_type) == rdtype),
            None,
        )
        if probe_key is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response
        service_id = probe_key[0]
        if not self.behaviour.verdict(service_id, self.clock()).up:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        probe = self._dns[probe_key]
        answers = list(probe.expect.answers) or _default_answers(qname, probe.record_type)
        response.answer.append(
            dns.rrset.from_text_list(question.name, 300, "IN", probe.record_type, answers)
        )
        return response


class _DnsProtocol(asyncio.DatagramProtocol):
    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[override]
        try:
            query = dns.message.from_wire(data)
        except Exception:  # a malformed packet from a stranger: ignore it
            return
        response = self.estate.dns_answer(query)
        assert self.transport is not None
        self.transport.sendto(response.to_wire(max_size=512), addr)


def _default_answers(name: str, record_type: str) -> list[str]:
    return {
        "A": ["192.0.2.10"],
        "AAAA": ["2001:db8::10"],
        "MX": [f"10 mail.{name}."],
        "NS": [f"ns1.{name}."],
        "CNAME": [f"www.{name}."],
        "TXT": ['"v=spf1 -all"'],
        "SOA": [f"ns1.{name}. hostmaster.{name}. 2026010101 7200 3600 1209600 300"],
    }.get(record_type, ["192.0.2.10"])


_BANNERS = (
    "220 demo.slamon ESMTP ready\r\n",
    "SSH-2.0-OpenSSH_9.2\r\n",
    "+OK ready\r\n",
    "* OK IMAP4rev1 ready\r\n",
    "RFB 003.008\n",
)


def banner_pattern(probe: TcpProbe) -> str | None:
    """What the demo's listener must greet ``probe`` with: its ``expect``, or the first
    step of its dialogue when that step only listens (an SMTP banner). The estate
    plays no dialogue: the derived catalogue probes a dialogue as that greeting."""
    if probe.expect or not probe.dialogue:
        return probe.expect
    first = probe.dialogue[0]
    return first.expect if first.send is None and first.send_hex is None else None


def _banner(probe: TcpProbe) -> str:
    import re

    pattern = banner_pattern(probe)
    if not pattern:
        return ""
    for banner in _BANNERS:
        if re.search(pattern, banner):
            return banner
    return body_for([pattern], []) + "\r\n"


def _listed(pattern: str | None) -> list[str]:
    return [pattern] if pattern else []


def _server_context(files: CertFiles) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(files.cert, files.key)
    return ctx


def _new_port(runner: web.AppRunner, before: set[tuple]) -> int:
    """The port of the site just started on ``runner`` (its addresses minus ``before``)."""
    new = [a for a in runner.addresses if tuple(a) not in before]
    assert new, "the site started without a socket"
    return int(new[0][1])


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), timeout=1.0)
