"""The tcp, tls and dns probes against real servers on 127.0.0.1."""

from __future__ import annotations

import time

import pytest
import pytest_asyncio

from slamon.core.results import Reason, WarningReason
from slamon.probes import ProbeContext, run_probe
from tests.probe_helpers import make_probe

pytest_plugins = ["tests.servers"]


@pytest_asyncio.fixture
async def ctx():
    c = ProbeContext.create(max_body_bytes=4096, env={"GREETING": "PING"})
    yield c
    await c.close()


# --------------------------------------------------------------------------- tcp


def tcp(port: int, **fields):
    return make_probe(kind="tcp", host="127.0.0.1", port=port, **fields)


async def test_tcp_connect_and_banner(ctx, banner_server):
    out = await run_probe(tcp(banner_server), ctx)
    assert out.success and out.reason is None
    assert "connect" in out.phases and out.ip_protocol == 4
    out = await run_probe(tcp(banner_server, expect="^220 .*ESMTP"), ctx)
    assert out.success, out.detail


async def test_tcp_send_and_expect(ctx, banner_server):
    out = await run_probe(tcp(banner_server, send="PING\r\n", expect="PONG"), ctx)
    assert out.success, out.detail
    # send with a secret from the environment
    out = await run_probe(tcp(banner_server, send="${env:GREETING}\r\n", expect="PONG"), ctx)
    assert out.success, out.detail


async def test_tcp_expect_not_met(ctx, banner_server):
    out = await run_probe(tcp(banner_server, send="QUIT\r\n", expect="PONG"), ctx)
    assert out.reason is Reason.assertion and "closed" in out.detail
    out = await run_probe(tcp(banner_server, expect="never", timeout="200ms"), ctx)
    assert out.reason is Reason.timeout


async def test_tcp_expect_read_is_bounded(ctx, http_server):
    # the endless body never matches: the read stops at the cap
    probe = tcp(http_server.port, send="GET /endless HTTP/1.1\r\nHost: x\r\n\r\n", expect="nomatch")
    out = await run_probe(probe, ctx)
    assert out.reason is Reason.assertion and "4096 bytes" in out.detail


async def test_tcp_failures(ctx, closed_port, raw_servers):
    assert (await run_probe(tcp(closed_port), ctx)).reason is Reason.refused
    out = await run_probe(tcp(raw_servers.reset, expect="x"), ctx)
    assert out.reason in (Reason.reset, Reason.assertion)  # RST, or EOF seen first
    out = await run_probe(tcp(raw_servers.hang, expect="x", timeout="200ms"), ctx)
    assert out.reason is Reason.timeout
    out = await run_probe(make_probe(kind="tcp", host="no-such-host.invalid", port=25), ctx)
    assert out.reason is Reason.dns
    out = await run_probe(tcp(closed_port, ip_version="6"), ctx)
    assert out.reason is Reason.error and "IPv4" in out.detail


async def test_tcp_with_tls(ctx, tls_banner_server, pki, banner_server):
    # the system trust store does not know the test CA
    out = await run_probe(tcp(tls_banner_server, tls=True, expect="220"), ctx)
    assert out.reason is Reason.tls
    # a plain server where TLS is expected
    out = await run_probe(tcp(banner_server, tls=True), ctx)
    assert out.reason in (Reason.tls, Reason.reset)


# --------------------------------------------------------------------------- tls


def tls(port: int, **fields):
    return make_probe(kind="tls", host="127.0.0.1", port=port, **fields)


async def test_tls_valid_reports_expiry(ctx, https_servers, pki):
    ca = str(pki.ca_file)
    out = await run_probe(tls(https_servers["valid"].port, ca_file=ca, min_days_left=21), ctx)
    assert out.success, out.detail
    assert out.cert_expiry_timestamp == pytest.approx(pki.not_after["valid"].timestamp())
    assert {"connect", "tls"} <= set(out.phases)
    assert out.tls_version and out.tls_version.startswith("TLS")


async def test_tls_days_left_is_a_warning_not_a_failure(ctx, https_servers, pki):
    ca = str(pki.ca_file)
    out = await run_probe(tls(https_servers["expiring"].port, ca_file=ca, min_days_left=14), ctx)
    # still valid: a success with a warning, never an outage
    assert out.success and out.reason is None, out.detail
    assert out.warning is WarningReason.cert_expiry_soon
    assert "fewer than min_days_left 14" in out.warning_detail
    assert 4 * 86400 < out.cert_expiry_timestamp - time.time() < 6 * 86400
    out = await run_probe(tls(https_servers["expiring"].port, ca_file=ca, min_days_left=3), ctx)
    assert out.success and out.warning is None
    # a certificate with more days left than asked carries no warning either
    out = await run_probe(tls(https_servers["valid"].port, ca_file=ca, min_days_left=21), ctx)
    assert out.success and out.warning is None


async def test_tls_untrusted_expiring_certificate_stays_a_failure(ctx, https_servers, pki):
    # the expiring certificate is signed by the test CA: without trusting it, a failure
    out = await run_probe(tls(https_servers["expiring"].port, min_days_left=14), ctx)
    assert not out.success and out.reason is Reason.tls
    assert out.warning is None


async def test_tls_expired_reports_the_missed_date(ctx, https_servers, pki):
    out = await run_probe(tls(https_servers["expired"].port, ca_file=str(pki.ca_file)), ctx)
    assert out.reason is Reason.cert_expiry and "expired" in out.detail
    assert out.cert_expiry_timestamp == pytest.approx(pki.not_after["expired"].timestamp())


async def test_tls_verification_failures(ctx, https_servers, pki):
    ca = str(pki.ca_file)
    out = await run_probe(tls(https_servers["wrong_host"].port, ca_file=ca), ctx)
    assert out.reason is Reason.tls and "certificate verify failed" in out.detail
    out = await run_probe(tls(https_servers["self_signed"].port, ca_file=ca), ctx)
    assert out.reason is Reason.tls
    # server_name changes what is verified
    out = await run_probe(
        tls(https_servers["wrong_host"].port, ca_file=ca, server_name="wrong.example"), ctx
    )
    assert out.success, out.detail
    # without verification the self-signed certificate is read
    out = await run_probe(tls(https_servers["self_signed"].port, verify=False), ctx)
    assert out.success
    assert out.cert_expiry_timestamp == pytest.approx(pki.not_after["self_signed"].timestamp())


async def test_tls_failures(ctx, closed_port, banner_server, raw_servers):
    assert (await run_probe(tls(closed_port), ctx)).reason is Reason.refused
    out = await run_probe(tls(banner_server), ctx)
    assert out.reason in (Reason.tls, Reason.reset)
    out = await run_probe(tls(raw_servers.hang, timeout="200ms"), ctx)
    assert out.reason is Reason.timeout and "TLS handshake" in out.detail


# --------------------------------------------------------------------------- dns


def dns_probe(server, name: str, **fields):
    return make_probe(
        kind="dns", name=name, server="127.0.0.1", port=server.udp_port, **fields
    )


async def test_dns_answers(ctx, dns_server):
    out = await run_probe(dns_probe(dns_server, "www.test", expect={"answers": ["127.0.0.2"]}), ctx)
    assert out.success, out.detail
    assert out.dns_lookup_seconds is not None and out.dns_lookup_seconds >= 0
    probe = dns_probe(dns_server, "mail.test", record_type="MX", expect={"answers": ["10 MX.test."]})
    assert (await run_probe(probe, ctx)).success
    probe = dns_probe(dns_server, "txt.test", record_type="TXT", expect={"answers": ["hello world"]})
    assert (await run_probe(probe, ctx)).success
    probe = dns_probe(dns_server, "alias.test", record_type="CNAME", expect={"answers": ["www.test"]})
    assert (await run_probe(probe, ctx)).success


async def test_dns_over_tcp(ctx, dns_server):
    probe = make_probe(
        kind="dns", name="www.test", server="127.0.0.1", port=dns_server.tcp_port,
        transport="tcp", record_type="AAAA", expect={"answers": ["0:0::1"]},
    )
    out = await run_probe(probe, ctx)
    assert out.success, out.detail


async def test_dns_wrong_answers_and_rcodes(ctx, dns_server):
    out = await run_probe(dns_probe(dns_server, "www.test", expect={"answers": ["10.0.0.1"]}), ctx)
    assert out.reason is Reason.assertion and "10.0.0.1" in out.detail
    out = await run_probe(dns_probe(dns_server, "missing.test"), ctx)
    assert out.reason is Reason.dns and "NXDOMAIN" in out.detail
    out = await run_probe(dns_probe(dns_server, "missing.test", expect={"rcode": "NXDOMAIN"}), ctx)
    assert out.success
    out = await run_probe(dns_probe(dns_server, "www.test", expect={"rcode": "NXDOMAIN"}), ctx)
    assert out.reason is Reason.assertion
    out = await run_probe(dns_probe(dns_server, "servfail.test"), ctx)
    assert out.reason is Reason.dns and "SERVFAIL" in out.detail


async def test_dns_invalid_name_is_a_result(ctx, dns_server):
    out = await run_probe(dns_probe(dns_server, "a" * 70 + ".test"), ctx)
    assert out.reason is Reason.error and "invalid name" in out.detail


async def test_dns_timeouts_and_refusals(ctx, dns_server, closed_port):
    out = await run_probe(dns_probe(dns_server, "silent.test", timeout="200ms"), ctx)
    assert out.reason is Reason.timeout
    probe = make_probe(
        kind="dns", name="silent.test", server="127.0.0.1", port=dns_server.tcp_port,
        transport="tcp", timeout="200ms",
    )
    assert (await run_probe(probe, ctx)).reason is Reason.timeout
    probe = make_probe(
        kind="dns", name="www.test", server="127.0.0.1", port=closed_port, transport="tcp"
    )
    assert (await run_probe(probe, ctx)).reason is Reason.refused
