"""The ``http`` probe: one request on a fresh connection, checked against ``expect``.

Order of checks, first failure wins: connection (dns, refused, tls, ...), redirects,
status, headers, body size, body regexes. A status failure does not read the body.
"""

from __future__ import annotations

import ipaddress
import time

import aiohttp
import yarl

from slamon.core.model import HttpProbe
from slamon.core.results import ProbeOutcome, Reason
from slamon.probes.attempt import Attempt
from slamon.probes.context import ProbeContext
from slamon.probes.expect import (
    BodyTooLarge,
    body_text,
    check_body,
    check_headers,
    describe_statuses,
    needs_text,
    read_body,
    status_accepted,
)
from slamon.probes.tracing import current_attempt, note_transport


def note_response(attempt: Attempt, resp: aiohttp.ClientResponse) -> None:
    """Record status and HTTP version (the connection itself is noted by the tracing)."""
    attempt.status_code = resp.status
    attempt.http_version = f"{resp.version.major}.{resp.version.minor}"
    if attempt.ip_protocol is None and resp.connection is not None:
        transport = resp.connection.transport
        if transport is not None:  # only when the connector could not note it
            note_transport(attempt, transport)


def family_mismatch(url: str, ip_version: str) -> str:
    """A reason when the URL names an IP address of the other family ("" when fine)."""
    host = yarl.URL(url).host or ""
    try:
        version = ipaddress.ip_address(host).version
    except ValueError:
        return ""
    if str(version) == ip_version:
        return ""
    return f"ip_version is {ip_version} but the URL names the IPv{version} address {host}"


async def probe_http(probe: HttpProbe, ctx: ProbeContext, attempt: Attempt) -> ProbeOutcome:
    secrets = attempt.secrets
    url = secrets.resolve(probe.url)
    headers = {k: secrets.resolve(v) for k, v in probe.headers.items()} if probe.headers else None
    data = secrets.resolve(probe.body).encode() if probe.body is not None else None
    sslctx = ctx.ssl_context(probe.tls_verify, probe.ca_file)  # cached; unused for http://
    if probe.ip_version != "any":
        mismatch = family_mismatch(url, probe.ip_version)
        if mismatch:
            return attempt.outcome(Reason.error, mismatch)
    session = ctx.session(probe.ip_version)
    expect = probe.expect
    token = current_attempt.set(attempt)
    try:
        try:
            resp_cm = session.request(
                probe.method,
                url,
                headers=headers,
                data=data,
                ssl=sslctx,
                allow_redirects=probe.follow_redirects,
                max_redirects=probe.max_redirects,
                trace_request_ctx=attempt,
            )
            async with resp_cm as resp:
                headers_at = time.monotonic()
                note_response(attempt, resp)
                if not status_accepted(expect, resp.status):
                    return attempt.outcome(
                        Reason.status, f"status {resp.status}, expected {describe_statuses(expect)}"
                    )
                failed = check_headers(expect, resp)
                if failed:
                    return attempt.outcome(*failed)
                attempt.stage = "reading the body"
                try:
                    body = await read_body(resp, ctx.max_body_bytes)
                except BodyTooLarge as exc:
                    return attempt.outcome(Reason.body_too_large, str(exc))
                finally:
                    attempt.add_phase("transfer", time.monotonic() - headers_at)
                if needs_text(expect):
                    failed = check_body(expect, body_text(resp, body))
                    if failed:
                        return attempt.outcome(*failed)
                return attempt.outcome()
        except aiohttp.TooManyRedirects:
            return attempt.outcome(
                Reason.redirects, f"more than {probe.max_redirects} redirects"
            )
    finally:
        current_attempt.reset(token)
