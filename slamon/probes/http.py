"""The ``http`` probe: one request on a fresh connection, checked against ``expect``.

Order of checks, first failure wins: connection (dns, refused, tls, ...), redirects,
status, headers, body size, body regexes. A status failure does not read the body.
The client is ``slamon.probes.h1`` (phases, redirects, cookies across redirects, header
and body caps), the same as journey steps use.
"""

from __future__ import annotations

import ipaddress
import time

import yarl

from slamon.core.model import HttpProbe
from slamon.core.results import ProbeOutcome, Reason
from slamon.probes import connect, h1
from slamon.probes.attempt import Attempt
from slamon.probes.context import ProbeContext
from slamon.probes.expect import (
    BodyTooLarge,
    body_text,
    check_body,
    check_headers,
    describe_statuses,
    needs_text,
    status_accepted,
)
from slamon.probes.tls import expiry_warning


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
    url = h1.resolve_url(probe.url, secrets.resolve)
    headers = {k: secrets.resolve(v) for k, v in probe.headers.items()} if probe.headers else None
    data = secrets.resolve(probe.body).encode() if probe.body is not None else None
    proxy = connect.proxies_for(probe.proxy, secrets, ctx.env) if probe.proxy is not None else None
    if probe.basic_auth is not None:
        auth = probe.basic_auth
        value = connect.basic_authorization(secrets, auth.username, secrets.resolve(auth.password))
        headers = {**(headers or {}), "Authorization": value}
    client = connect.client_cert_for(probe, secrets)
    sslctx = ctx.ssl_context(probe.tls_verify, probe.ca_file, client)  # cached; unused for http://
    if probe.ip_version != "any":
        mismatch = family_mismatch(url, probe.ip_version)
        if mismatch:
            return attempt.outcome(Reason.error, mismatch)
    expect = probe.expect
    try:
        resp = await h1.request(
            ctx, attempt, probe.method, url, headers, data, sslctx,
            probe.ip_version, probe.follow_redirects, probe.max_redirects, proxy,
            max_header_bytes=probe.max_header_bytes,
        )  # fmt: skip
    except h1.TooManyRedirects:
        return attempt.outcome(Reason.redirects, f"more than {probe.max_redirects} redirects")
    try:
        attempt.status_code = resp.status
        attempt.http_version = resp.version
        if not status_accepted(expect, resp.status):
            return attempt.outcome(
                Reason.status, f"status {resp.status}, expected {describe_statuses(expect)}"
            )
        if expect.headers:
            failed = check_headers(expect, resp)
            if failed:
                return attempt.outcome(*failed)
        attempt.stage = "reading the body"
        try:
            body = await resp.read()
        except BodyTooLarge as exc:
            return attempt.outcome(Reason.body_too_large, str(exc))
        finally:
            attempt.add_phase("transfer", (resp.done_at or time.monotonic()) - resp.headers_at)
        if needs_text(expect):
            failed = check_body(expect, body_text(resp, body))
            if failed:
                return attempt.outcome(*failed)
        return attempt.outcome(*expiry_warning(attempt.cert_expiry_timestamp, probe.min_days_left))
    finally:
        resp.close()
