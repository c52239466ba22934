"""The http probe against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time

import pytest
import pytest_asyncio

from slamon.core.results import Reason
from slamon.probes import ProbeContext, run_probe
from tests.probe_helpers import make_probe

pytest_plugins = ["tests.servers"]


@pytest_asyncio.fixture
async def ctx():
    c = ProbeContext.create(max_body_bytes=64 * 1024, env={"TOKEN": "tok-very-secret-1"})
    yield c
    await c.close()


def http(url: str, **fields):
    return make_probe(kind="http", url=url, **fields)


async def test_ok_with_phases_status_and_version(ctx, http_server):
    out = await run_probe(http(f"{http_server.url}/ok", expect={"body": "^OK$"}), ctx)
    assert out.success, out.detail
    assert out.reason is None
    assert out.status_code == 200
    assert out.http_version == "1.1"
    assert out.ip_protocol == 4
    assert {"connect", "processing", "transfer"} <= set(out.phases)
    assert "tls" not in out.phases
    assert all(v >= 0 for v in out.phases.values())
    assert 0 < out.duration_seconds < 0.5
    assert sum(out.phases.values()) <= out.duration_seconds + 1e-6


async def test_every_probe_uses_a_fresh_connection(ctx):
    """Each probe opens its own connection, asks for it to be closed, and closes it,
    even when the server would keep it alive."""
    connections: list[bytes] = []
    closed = asyncio.Event()
    ended = 0

    async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal ended
        head = await reader.readuntil(b"\r\n\r\n")
        connections.append(head)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nOK")
        await writer.drain()
        assert await reader.read() == b""  # the client closes: no second request
        writer.close()
        ended += 1
        if ended == 3:
            closed.set()

    server = await asyncio.start_server(keep_alive, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        for _ in range(3):
            assert (await run_probe(http(f"http://127.0.0.1:{port}/ok"), ctx)).success
        await asyncio.wait_for(closed.wait(), 5)
    finally:
        server.close()
    assert len(connections) == 3
    assert all(b"\r\nConnection: close\r\n" in head for head in connections)


async def test_status_list_and_default_range(ctx, http_server):
    out = await run_probe(http(f"{http_server.url}/status/500"), ctx)
    assert (out.success, out.reason, out.status_code) == (False, Reason.status, 500)
    assert "500" in out.detail and "200-399" in out.detail
    # 404 accepted when listed; 200 refused when not listed
    assert (await run_probe(http(f"{http_server.url}/status/404", expect={"status": [404]}), ctx)).success
    out = await run_probe(http(f"{http_server.url}/ok", expect={"status": [204]}), ctx)
    assert out.reason is Reason.status


async def test_body_regexes(ctx, http_server):
    url = f"{http_server.url}/ok"
    assert (await run_probe(http(url, expect={"body": "O.", "body_not": "error"}), ctx)).success
    out = await run_probe(http(url, expect={"body": "healthy"}), ctx)
    assert out.reason is Reason.body and "healthy" in out.detail
    out = await run_probe(http(url, expect={"body_not": "OK"}), ctx)
    assert out.reason is Reason.body


async def test_header_regexes(ctx, http_server):
    url = f"{http_server.url}/headers"
    assert (await run_probe(http(url, expect={"headers": {"X-Probe": "^yes$"}}), ctx)).success
    out = await run_probe(http(url, expect={"headers": {"X-Probe": "^no$"}}), ctx)
    assert out.reason is Reason.header
    out = await run_probe(http(url, expect={"headers": {"X-Missing": "."}}), ctx)
    assert out.reason is Reason.header and "missing" in out.detail


async def test_method_headers_body_and_secret(ctx, http_server):
    probe = http(
        f"{http_server.url}/echo",
        method="POST",
        headers={"Authorization": "Bearer ${env:TOKEN}", "X-Plain": "1"},
        body='{"q": 1}',
        expect={"body": '"method": "POST"'},
    )
    out = await run_probe(probe, ctx)
    assert out.success, out.detail
    # the server saw the resolved secret, but the outcome never shows it
    probe_fail = http(
        f"{http_server.url}/echo",
        method="POST",
        headers={"Authorization": "Bearer ${env:TOKEN}"},
        expect={"body": "never-there"},
    )
    out = await run_probe(probe_fail, ctx)
    assert out.reason is Reason.body
    assert "tok-very-secret-1" not in repr(out)


async def test_missing_secret_is_a_result(ctx, http_server):
    probe = http(f"{http_server.url}/ok", headers={"Authorization": "${env:NOT_SET_ANYWHERE}"})
    out = await run_probe(probe, ctx)
    assert out.reason is Reason.secret
    assert "NOT_SET_ANYWHERE" in out.detail


async def test_secret_in_url_is_masked_in_detail(ctx, closed_port):
    out = await run_probe(http(f"http://127.0.0.1:{closed_port}/x?key=${{env:TOKEN}}"), ctx)
    assert out.reason is Reason.refused
    assert "tok-very-secret-1" not in repr(out)


async def test_redirects(ctx, http_server):
    out = await run_probe(http(f"{http_server.url}/redirect/3", expect={"body": "OK"}), ctx)
    assert out.success and out.status_code == 200
    out = await run_probe(http(f"{http_server.url}/redirect/3", max_redirects=2), ctx)
    assert out.reason is Reason.redirects
    assert "more than 2 redirects" in out.detail
    # /redirect/n answers with n + 1 redirects: exactly max_redirects are followed
    out = await run_probe(http(f"{http_server.url}/redirect/1", max_redirects=2), ctx)
    assert out.success and out.status_code == 200
    out = await run_probe(http(f"{http_server.url}/redirect/2", max_redirects=2), ctx)
    assert out.reason is Reason.redirects
    out = await run_probe(http(f"{http_server.url}/redirect/0", max_redirects=1), ctx)
    assert out.success and out.status_code == 200
    out = await run_probe(http(f"{http_server.url}/redirect/0", max_redirects=0), ctx)
    assert out.reason is Reason.redirects
    out = await run_probe(http(f"{http_server.url}/loop"), ctx)
    assert out.reason is Reason.redirects
    # not following: the 302 itself is checked
    out = await run_probe(http(f"{http_server.url}/loop", follow_redirects=False), ctx)
    assert out.success and out.status_code == 302
    out = await run_probe(
        http(f"{http_server.url}/loop", follow_redirects=False, expect={"status": [200]}), ctx
    )
    assert out.reason is Reason.status


async def test_body_cap(ctx, http_server):
    assert (await run_probe(http(f"{http_server.url}/big/65536"), ctx)).success
    out = await run_probe(http(f"{http_server.url}/big/65537"), ctx)
    assert out.reason is Reason.body_too_large


async def test_huge_and_endless_bodies_are_cut(ctx, http_server):
    t0 = time.monotonic()
    out = await run_probe(http(f"{http_server.url}/huge", timeout="5s"), ctx)
    assert out.reason is Reason.body_too_large
    assert "1000000000" in out.detail
    out = await run_probe(http(f"{http_server.url}/endless", timeout="5s"), ctx)
    assert out.reason is Reason.body_too_large
    assert time.monotonic() - t0 < 4  # stopped after the cap, not after a gigabyte


async def test_timeouts(ctx, http_server, raw_servers):
    out = await run_probe(http(f"{http_server.url}/hang", timeout="500ms"), ctx)
    assert out.reason is Reason.timeout
    assert "no result within 0.5 s (waiting for the response)" in out.detail
    assert 0.45 < out.duration_seconds < 2.0
    assert "connect" in out.phases  # what completed is still reported
    assert out.phases["processing"] > 0.1  # and the phase it was stuck in
    out = await run_probe(http(f"http://127.0.0.1:{raw_servers.hang}/", timeout="200ms"), ctx)
    assert out.reason is Reason.timeout
    out = await run_probe(http(f"{http_server.url}/slow-body", timeout="500ms"), ctx)
    assert out.reason is Reason.timeout and "reading the body" in out.detail
    out = await run_probe(http(f"http://127.0.0.1:{raw_servers.dribble}/", timeout="200ms"), ctx)
    assert out.reason is Reason.timeout


async def test_slow_answer_within_the_limit_succeeds(ctx, raw_servers):
    out = await run_probe(http(f"http://127.0.0.1:{raw_servers.dribble}/", timeout="5s"), ctx)
    assert out.success, out.detail


async def test_network_failures(ctx, closed_port, raw_servers, banner_server):
    cases = {
        f"http://127.0.0.1:{closed_port}/": Reason.refused,
        f"http://127.0.0.1:{raw_servers.reset}/": Reason.reset,
        f"http://127.0.0.1:{raw_servers.close}/": Reason.reset,
        f"http://127.0.0.1:{raw_servers.truncated}/": Reason.reset,
        f"http://127.0.0.1:{raw_servers.garbage}/": Reason.protocol,
        f"http://127.0.0.1:{banner_server}/": Reason.protocol,
        "http://no-such-host.invalid/": Reason.dns,
    }
    for url, reason in cases.items():
        out = await run_probe(http(url), ctx)
        assert (out.success, out.reason) == (False, reason), (url, out)
        assert out.detail


async def test_https_valid_with_ca_file(ctx, https_server, pki):
    out = await run_probe(http(f"{https_server.url}/ok", ca_file=str(pki.ca_file)), ctx)
    assert out.success, out.detail
    assert {"connect", "tls", "processing"} <= set(out.phases)
    assert out.tls_version and out.tls_version.startswith("TLS")
    assert out.cert_expiry_timestamp == pytest.approx(pki.not_after["valid"].timestamp())


async def test_https_failures(ctx, https_servers, pki):
    ca = str(pki.ca_file)
    for kind in ("expired", "self_signed", "wrong_host"):
        out = await run_probe(http(f"{https_servers[kind].url}/ok", ca_file=ca), ctx)
        assert out.reason is Reason.tls, (kind, out)
        assert "certificate verify failed" in out.detail
        assert {"connect", "tls"} <= set(out.phases)  # where it failed shows in the phases
    # the system trust store does not know our CA
    out = await run_probe(http(f"{https_servers['valid'].url}/ok"), ctx)
    assert out.reason is Reason.tls
    # verification off: the expired certificate is accepted and its date reported
    out = await run_probe(http(f"{https_servers['expired'].url}/ok", tls_verify=False), ctx)
    assert out.success, out.detail
    assert out.cert_expiry_timestamp == pytest.approx(pki.not_after["expired"].timestamp())


async def test_missing_ca_file_is_a_result(ctx, https_server, tmp_path):
    out = await run_probe(http(f"{https_server.url}/ok", ca_file=str(tmp_path / "nope.pem")), ctx)
    assert out.reason is Reason.error and "ca_file" in out.detail


async def test_http_to_https_port_is_a_protocol_or_reset_failure(ctx, https_server):
    out = await run_probe(http(f"http://127.0.0.1:{https_server.port}/ok"), ctx)
    assert out.reason in (Reason.protocol, Reason.reset)


async def test_ip_version(ctx, http_server):
    assert (await run_probe(http(f"http://localhost:{http_server.port}/ok", ip_version="4"), ctx)).success
    out = await run_probe(http(f"http://127.0.0.1:{http_server.port}/ok", ip_version="6"), ctx)
    assert not out.success
    assert out.reason in (Reason.dns, Reason.unreachable, Reason.error, Reason.refused)
