"""Connection options against real servers on 127.0.0.1: ``proxy`` (absolute form and
CONNECT, with credentials, from the environment only when asked), mutual TLS client
certificates (http, tcp with TLS, tls), ``tls_verify``/``ca_file`` for tcp, and
``basic_auth`` fields."""

from __future__ import annotations

import base64
import datetime as dt
import ssl

import pytest
import pytest_asyncio
from aiohttp import BasicAuth, web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from slamon.core.results import Reason
from slamon.probes import ProbeContext, run_probe
from tests.probe_helpers import make_probe
from tests.proxy_server import start_proxy
from tests.servers import start_http, start_tcp

pytest_plugins = ["tests.servers"]

PROXY_PASSWORD = "pröxy pass:w/rd%1"
KEY_PASSWORD = "key-pass-31"
ENV = {"PROXY_PW": PROXY_PASSWORD, "KEY_PW": KEY_PASSWORD, "BASIC_PW": "bäsic: pw/%+"}


@pytest_asyncio.fixture
async def ctx():
    c = ProbeContext.create(max_body_bytes=4096, env=ENV)
    yield c
    await c.close()


def http(url: str, **fields):
    return make_probe(kind="http", url=url, **fields)


# --------------------------------------------------------------------------- proxy


async def test_plain_http_goes_to_the_proxy_in_absolute_form(ctx, http_server):
    async with start_proxy() as proxy:
        out = await run_probe(http(f"{http_server.url}/ok", proxy=proxy.url, expect={"body": "OK"}), ctx)
        assert out.success, out.detail
        assert [(m, t) for m, t, _ in proxy.requests] == [("GET", f"{http_server.url}/ok")]
        assert proxy.requests[0][2]["host"] == f"127.0.0.1:{http_server.port}"
        assert "proxy-authorization" not in proxy.requests[0][2]
    assert http_server.state["hits"].get("/ok") == 1


async def test_https_goes_through_a_connect_tunnel(ctx, https_server, pki):
    async with start_proxy() as proxy:
        probe = http(f"{https_server.url}/redirect/1", proxy=proxy.url, ca_file=str(pki.ca_file))
        out = await run_probe(probe, ctx)
        assert out.success, out.detail
        # each hop (the redirect and its target) tunnels through the proxy
        assert len(proxy.requests) >= 2
        assert {(m, t) for m, t, _ in proxy.requests} == {("CONNECT", f"127.0.0.1:{https_server.port}")}
        assert out.tls_version and out.phases["tls"] > 0 and out.cert_expiry_timestamp


async def test_proxy_credentials_come_from_the_environment_and_are_masked(ctx, http_server, https_server, pki):
    async with start_proxy(credentials=("probe", PROXY_PASSWORD)) as proxy:
        with_auth = f"http://probe:${{env:PROXY_PW}}@127.0.0.1:{proxy.port}"
        out = await run_probe(http(f"{http_server.url}/ok", proxy=with_auth), ctx)
        assert out.success, out.detail
        token = base64.b64encode(f"probe:{PROXY_PASSWORD}".encode()).decode()
        assert proxy.requests[-1][2]["proxy-authorization"] == f"Basic {token}"
        out = await run_probe(http(f"{https_server.url}/ok", proxy=with_auth, ca_file=str(pki.ca_file)), ctx)
        assert out.success, out.detail
        assert proxy.requests[-1][0] == "CONNECT"
        assert proxy.requests[-1][2]["proxy-authorization"] == f"Basic {token}"

        # no credentials: the proxy's 407 is the answer for http, a failure to tunnel for https
        out = await run_probe(http(f"{http_server.url}/ok", proxy=proxy.url), ctx)
        assert (out.success, out.reason, out.status_code) == (False, Reason.status, 407)
        out = await run_probe(http(f"{https_server.url}/ok", proxy=proxy.url, ca_file=str(pki.ca_file)), ctx)
        assert (out.success, out.reason) == (False, Reason.error)
        assert "407" in out.detail and "credentials" in out.detail

        # a wrong password shows in no form in the detail
        wrong = f"http://probe:${{env:BASIC_PW}}@127.0.0.1:{proxy.port}"
        out = await run_probe(http(f"{https_server.url}/ok", proxy=wrong, ca_file=str(pki.ca_file)), ctx)
        assert out.reason is Reason.error and "407" in out.detail
        assert "bäsic" not in out.detail and "b%C3%A4sic" not in out.detail


async def test_environment_proxies_are_ignored_unless_the_probe_asks(http_server, closed_port):
    async with start_proxy() as proxy:
        env = {"http_proxy": proxy.url, "HTTP_PROXY": proxy.url, "https_proxy": proxy.url, "ALL_PROXY": proxy.url}
        async with ProbeContext.create(env=env) as ctx:
            out = await run_probe(http(f"{http_server.url}/ok"), ctx)
            assert out.success and proxy.requests == []  # direct
            out = await run_probe(http(f"{http_server.url}/ok", proxy="environment"), ctx)
            assert out.success and [t for _, t, _ in proxy.requests] == [f"{http_server.url}/ok"]
        bypass = {**env, "no_proxy": "example.org, 127.0.0.1"}
        async with ProbeContext.create(env=bypass) as ctx:
            out = await run_probe(http(f"{http_server.url}/ok", proxy="environment"), ctx)
            assert out.success and len(proxy.requests) == 1  # no_proxy: direct again
        # an environment without proxy variables: direct
        async with ProbeContext.create(env={}) as ctx:
            out = await run_probe(http(f"{http_server.url}/ok", proxy="environment"), ctx)
            assert out.success and len(proxy.requests) == 1
    async with ProbeContext.create(env={"https_proxy": "socks5://127.0.0.1:1080"}) as ctx:
        out = await run_probe(http("https://127.0.0.1:1/", proxy="environment"), ctx)
        assert out.reason is Reason.error and "http:// only" in out.detail


async def test_a_proxy_that_is_down_or_cannot_reach_the_target(ctx, http_server, closed_port):
    out = await run_probe(http(f"{http_server.url}/ok", proxy=f"http://127.0.0.1:{closed_port}"), ctx)
    assert (out.success, out.reason) == (False, Reason.refused)
    async with start_proxy() as proxy:
        out = await run_probe(http(f"https://127.0.0.1:{closed_port}/", proxy=proxy.url), ctx)
        assert (out.success, out.reason) == (False, Reason.unreachable)
        assert "502" in out.detail and f"127.0.0.1:{proxy.port}" in out.detail


# --------------------------------------------------------------------------- mutual TLS


def _issue_client(pki, folder, password: str | None):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "slamon probe")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(pki.ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(pki.ca_key, hashes.SHA256())
    )
    crypt = (
        serialization.BestAvailableEncryption(password.encode())
        if password else serialization.NoEncryption()
    )
    cert_file = folder / "client.pem"
    key_file = folder / ("client-encrypted.key" if password else "client.key")
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, crypt))
    return cert_file, key_file


@pytest.fixture
def client_files(pki, tmp_path):
    cert, key = _issue_client(pki, tmp_path, None)
    (tmp_path / "enc").mkdir()
    _, encrypted = _issue_client(pki, tmp_path / "enc", KEY_PASSWORD)
    both = tmp_path / "both.pem"
    both.write_bytes(cert.read_bytes() + key.read_bytes())
    return {"cert": str(cert), "key": str(key), "encrypted_cert": str(tmp_path / "enc" / "client.pem"),
            "encrypted_key": str(encrypted), "both": str(both)}


@pytest.fixture
def mtls_context(pki):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*pki.files["valid"])
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(pki.ca_file)
    return context


async def test_http_with_a_client_certificate(ctx, pki, client_files, mtls_context):
    async with start_http(mtls_context) as server:
        url, ca = f"{server.url}/ok", str(pki.ca_file)
        # without a certificate the server ends the handshake; asyncio's TLS server closes
        # without sending its alert, so the client sees the connection closed (``reset``);
        # a server that sends the alert gives ``tls``
        out = await run_probe(http(url, ca_file=ca), ctx)
        assert not out.success and out.reason in (Reason.tls, Reason.reset), out.detail
        out = await run_probe(http(url, ca_file=ca, client_cert=client_files["cert"], client_key=client_files["key"]), ctx)
        assert out.success, out.detail
        out = await run_probe(http(url, ca_file=ca, client_cert=client_files["both"]), ctx)
        assert out.success, out.detail
        encrypted = {"client_cert": client_files["encrypted_cert"], "client_key": client_files["encrypted_key"]}
        out = await run_probe(http(url, ca_file=ca, client_key_password="${env:KEY_PW}", **encrypted), ctx)
        assert out.success, out.detail
        out = await run_probe(http(url, ca_file=ca, **encrypted), ctx)
        assert out.reason is Reason.error and "client_key_password" in out.detail
        out = await run_probe(http(url, ca_file=ca, client_key_password="${env:PROXY_PW}", **encrypted), ctx)
        assert out.reason is Reason.error and "cannot load client certificate" in out.detail
        assert PROXY_PASSWORD not in out.detail
        out = await run_probe(http(url, ca_file=ca, client_cert="/nonexistent/client.pem"), ctx)
        assert out.reason is Reason.error and "/nonexistent/client.pem" in out.detail
        out = await run_probe(http(url, ca_file=ca, client_cert=client_files["cert"], client_key=client_files["encrypted_key"],
                                   client_key_password="${env:KEY_PW}"), ctx)
        assert out.reason is Reason.error  # a key that is not the certificate's


async def _greet(reader, writer):
    writer.write(b"220 mtls ready\r\n")
    await writer.drain()
    await reader.read(100)


async def test_tcp_and_tls_probes_with_a_client_certificate(ctx, pki, client_files, mtls_context):
    async with start_tcp(_greet, mtls_context) as port:
        client = {"client_cert": client_files["cert"], "client_key": client_files["key"]}
        tcp = dict(kind="tcp", host="127.0.0.1", port=port, tls=True, expect="^220 mtls")
        out = await run_probe(make_probe(**tcp, ca_file=str(pki.ca_file), **client), ctx)
        assert out.success, out.detail
        out = await run_probe(make_probe(**tcp, ca_file=str(pki.ca_file)), ctx)
        assert not out.success and out.reason in (Reason.tls, Reason.reset, Reason.assertion), out.detail
        tls = dict(kind="tls", host="127.0.0.1", port=port, ca_file=str(pki.ca_file), min_days_left=1)
        out = await run_probe(make_probe(**tls, **client), ctx)
        assert out.success and out.cert_expiry_timestamp, out.detail


async def test_tcp_verify_and_ca_file(ctx, pki):
    async with start_tcp(_greet, pki.server_context("valid")) as port:
        tcp = dict(kind="tcp", host="127.0.0.1", port=port, tls=True, expect="^220")
        out = await run_probe(make_probe(**tcp), ctx)  # the system store does not know the test CA
        assert (out.success, out.reason) == (False, Reason.tls)
        assert "certificate verify failed" in out.detail
        out = await run_probe(make_probe(**tcp, ca_file=str(pki.ca_file)), ctx)
        assert out.success, out.detail
        out = await run_probe(make_probe(**tcp, tls_verify=False), ctx)
        assert out.success, out.detail
        out = await run_probe(make_probe(**tcp, ca_file="/nonexistent/ca.pem"), ctx)
        assert out.reason is Reason.error and "ca_file" in out.detail
    async with start_tcp(_greet, pki.server_context("self_signed")) as port:
        tcp = dict(kind="tcp", host="127.0.0.1", port=port, tls=True, expect="^220")
        out = await run_probe(make_probe(**tcp, ca_file=str(pki.ca_file)), ctx)
        assert out.reason is Reason.tls
        out = await run_probe(make_probe(**tcp, tls_verify=False), ctx)
        assert out.success, out.detail


# --------------------------------------------------------------------------- basic auth


async def test_basic_auth_fields(ctx):
    seen: list[str | None] = []

    async def protected(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization")
        seen.append(header)
        try:
            auth = BasicAuth.decode(header or "", encoding="utf-8")  # a reference decoder
        except ValueError:
            return web.Response(status=401)
        ok = (auth.login, auth.password) == ("probe", ENV["BASIC_PW"])
        return web.Response(status=200 if ok else 403, text="in" if ok else "no")

    async def away(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://localhost:{request.url.port}/")  # another origin

    async def same(request: web.Request) -> web.Response:
        raise web.HTTPFound("/")

    app = web.Application()
    app.router.add_get("/", protected)
    app.router.add_get("/away", away)
    app.router.add_get("/same", same)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        url = f"http://127.0.0.1:{port}/"
        out = await run_probe(http(url, basic_auth={"username": "probe", "password": "${env:BASIC_PW}"}), ctx)
        assert out.success, out.detail
        out = await run_probe(http(url, basic_auth={"username": "other", "password": "${env:BASIC_PW}"}), ctx)
        assert (out.reason, out.status_code) == (Reason.status, 403)
        out = await run_probe(http(url), ctx)
        assert (out.reason, out.status_code) == (Reason.status, 401)
        assert seen[-1] is None
        # kept on a redirect within the origin, dropped on a redirect to another one
        out = await run_probe(http(url + "same", basic_auth={"username": "probe", "password": "${env:BASIC_PW}"}), ctx)
        assert out.success, out.detail
        out = await run_probe(http(url + "away", basic_auth={"username": "probe", "password": "${env:BASIC_PW}"}), ctx)
        assert (out.reason, out.status_code, seen[-1]) == (Reason.status, 401, None)
        out = await run_probe(http(url, basic_auth={"username": "probe", "password": "${env:ABSENT}"}), ctx)
        assert out.reason is Reason.secret and "ABSENT" in out.detail
    finally:
        await runner.cleanup()


async def test_a_renewed_client_certificate_is_loaded_again(ctx, pki, client_files):
    import os

    from slamon.probes.connect import ClientCert

    client = ClientCert(client_files["cert"], client_files["key"], None)
    first = ctx.ssl_context(True, str(pki.ca_file), client)
    assert ctx.ssl_context(True, str(pki.ca_file), client) is first  # cached
    stat = os.stat(client_files["cert"])
    os.utime(client_files["cert"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert ctx.ssl_context(True, str(pki.ca_file), client) is not first
    assert ctx.ssl_context(True, str(pki.ca_file)) is not first  # contexts without a certificate stay apart


def test_no_proxy_entries():
    from slamon.probes.connect import _bypassed

    assert _bypassed("a.example.org", 443, "example.org")
    assert _bypassed("example.org", 443, ".example.org")
    assert not _bypassed("badexample.org", 443, "example.org")
    assert _bypassed("10.1.2.3", 80, "192.168.0.1, 10.0.0.0/8")
    assert not _bypassed("11.1.2.3", 80, "10.0.0.0/8")
    assert _bypassed("::1", 80, "::1")
    assert _bypassed("h.example", 8080, "h.example:8080") and not _bypassed("h.example", 443, "h.example:8080")
    assert _bypassed("anything", 1, "*") and not _bypassed("anything", 1, "")


def test_the_tunnel_works_on_uvloop_too(pki):
    """The daemon runs on uvloop: the tunnel switches protocols on its transports too."""
    uvloop = pytest.importorskip("uvloop")

    async def main():
        async with start_http(pki.server_context("valid")) as server, start_proxy(("u", "p w")) as proxy:
            async with ProbeContext.create(env={"PW": "p w"}) as ctx:
                probe = http(f"{server.url}/ok", proxy=f"http://u:${{env:PW}}@127.0.0.1:{proxy.port}",
                             ca_file=str(pki.ca_file), expect={"body": "OK"})
                out = await run_probe(probe, ctx)
                assert out.success, out.detail
                assert [m for m, _, _ in proxy.requests] == ["CONNECT"]

    uvloop.run(main())


def test_the_options_survive_the_stores_round_trip():
    """A stored revision writes every field (defaults included) and reads it back."""
    from pathlib import Path

    import yaml

    from slamon.core.model import Service
    from slamon.store.codec import canonical_service, service_from_body

    data = yaml.safe_load(
        (Path(__file__).parent / "data/mini_catalogue/services/unhq/unhq-identity.yaml").read_text()
    )
    data["probes"] = [
        {"id": "web", "kind": "http", "url": "https://sso.unhq.example/", "proxy": "http://p:${env:PW}@proxy:3128",
         "basic_auth": {"username": "probe", "password": "${env:PW}"}, "client_cert": "/c.pem",
         "client_key": "/c.key", "client_key_password": "${env:KEY}"},
        {"id": "plain", "kind": "tcp", "host": "h", "port": 25},
        {"id": "ldaps", "kind": "tcp", "host": "h", "port": 636, "tls": True, "tls_verify": False, "client_cert": "/c.pem"},
        {"id": "cert", "kind": "tls", "host": "h", "client_cert": "/c.pem"},
    ]
    service = Service.model_validate(data)
    body, _ = canonical_service(service)
    assert service_from_body(body) == service
