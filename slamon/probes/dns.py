"""The ``dns`` probe: one query, its response code and answers checked.

With a ``server``, the query goes straight to ``server:port`` over UDP (falling back
to TCP when the answer is truncated) or TCP. Without one, the system resolver
configuration (``/etc/resolv.conf``) is used, as the service's users would.

Answers are compared as text with trailing dots removed and names lower-cased, so
``expect.answers: [mail.unog.example]`` matches ``MAIL.unog.example.``; TXT answers are
compared without their quotes, addresses in their canonical form. Every expected
answer must be among the answers; extra answers are fine.

- ``dns``: the expected rcode was NOERROR and the server answered something else
  (NXDOMAIN, SERVFAIL, REFUSED), or no server could be reached;
- ``assertion``: an unexpected rcode otherwise, or an expected answer is missing;
- ``timeout``: no answer within the probe's time limit.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

from slamon.core.model import DnsProbe
from slamon.core.results import ProbeOutcome, Reason
from slamon.probes.attempt import Attempt
from slamon.probes.context import ProbeContext


def normalise(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]  # TXT: compare the content, case kept
    try:
        return str(ipaddress.ip_address(text))  # 0:0::1 and ::1 are the same address
    except ValueError:
        return text.rstrip(".").lower()


async def _server_address(server: str, attempt: Attempt) -> str:
    try:
        ipaddress.ip_address(server)
        return server
    except ValueError:
        pass
    attempt.stage = "resolving the server name"
    t0 = time.monotonic()
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(server, None, type=socket.SOCK_DGRAM)
    finally:
        attempt.add_phase("resolve", time.monotonic() - t0)
    return infos[0][4][0]


def _remaining(deadline: float) -> float:
    return max(0.001, deadline - asyncio.get_running_loop().time())


async def probe_dns(
    probe: DnsProbe, ctx: ProbeContext, attempt: Attempt, deadline: float
) -> ProbeOutcome:
    rdtype = dns.rdatatype.from_text(probe.record_type)
    try:
        qname = dns.name.from_text(probe.name)
    except dns.exception.DNSException as exc:
        return attempt.outcome(Reason.error, f"invalid name {probe.name!r}: {exc}")
    attempt.stage = "waiting for the DNS answer"
    if probe.server is not None:
        where = await _server_address(probe.server, attempt)
        query = dns.message.make_query(qname, rdtype)
        t0 = time.monotonic()
        if probe.transport == "tcp":
            response = await dns.asyncquery.tcp(
                query, where, timeout=_remaining(deadline), port=probe.port
            )
        else:
            response, _ = await dns.asyncquery.udp_with_fallback(
                query, where, timeout=_remaining(deadline), port=probe.port
            )
        attempt.dns_lookup_seconds = time.monotonic() - t0
    else:
        resolver = ctx.dns_resolver()
        t0 = time.monotonic()
        try:
            answer = await resolver.resolve(
                qname, rdtype, raise_on_no_answer=False, lifetime=_remaining(deadline)
            )
            response = answer.response
        except dns.resolver.NXDOMAIN as exc:
            response = exc.response(exc.qnames()[0]) if exc.qnames() else None
            if response is None:
                attempt.dns_lookup_seconds = time.monotonic() - t0
                return _check_rcode(probe, "NXDOMAIN", attempt) or attempt.outcome()
        except dns.resolver.NoNameservers as exc:
            attempt.dns_lookup_seconds = time.monotonic() - t0
            return _check_rcode(probe, "SERVFAIL", attempt, str(exc)) or attempt.outcome()
        except dns.resolver.LifetimeTimeout:
            raise TimeoutError from None
        attempt.dns_lookup_seconds = time.monotonic() - t0

    rcode = dns.rcode.to_text(response.rcode())
    failed = _check_rcode(probe, rcode, attempt)
    if failed is not None:
        return failed
    found = {normalise(rd.to_text()) for rrset in response.answer for rd in rrset}
    missing = [a for a in probe.expect.answers if normalise(a) not in found]
    if missing:
        shown = ", ".join(sorted(found)[:5]) or "none"
        return attempt.outcome(
            Reason.assertion, f"expected answer {missing[0]!r} not found (answers: {shown})"
        )
    return attempt.outcome()


def _check_rcode(
    probe: DnsProbe, rcode: str, attempt: Attempt, why: str = ""
) -> ProbeOutcome | None:
    expected = probe.expect.rcode
    if rcode == expected:
        return None
    detail = f"rcode {rcode}, expected {expected}" + (f" ({why})" if why else "")
    return attempt.outcome(Reason.dns if expected == "NOERROR" else Reason.assertion, detail)
