"""``slamon probe`` against a small catalogue in tmp_path pointing at loopback servers."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

pytest_plugins = ["tests.servers", "tests.dialogue_servers"]

ROOT = Path(__file__).resolve().parents[1]

OFFICES = """\
apiVersion: slamon/v1
kind: Offices
offices:
  - {id: unog, name: United Nations Office at Geneva, city: Geneva, timezone: Europe/Zurich}
  - {id: unhq, name: Headquarters, city: New York, timezone: America/New_York, headquarters: true}
"""
TIERS = """\
apiVersion: slamon/v1
kind: Tiers
tiers:
  - {id: silver, name: Silver, benchmark: "test benchmark", availability: 99.5}
"""
PRACTICES = """\
apiVersion: slamon/v1
kind: Practices
clauses:
  - {clause: "8.3.3", title: Service level management}
"""
INDICATORS = """\
apiVersion: slamon/v1
kind: Indicators
indicators:
  - {id: automated-services, code: "(a)(i)", title: Automated services, unit: count}
"""
SERVICE = """\
apiVersion: slamon/v1
kind: Service
id: {id}
name: Test service
office: unog
description: A service on loopback.
owner:
  group: unog-ict
  contacts:
    - {{role: service-owner, name: Owner, email: owner@unog.example}}
category: infrastructure
lifecycle: production
tier: silver
automation: {{fulfilment: manual}}
probes:
{probes}
"""


def write_catalogue(folder: Path, services: dict[str, str]) -> Path:
    (folder / "services" / "unog").mkdir(parents=True)
    (folder / "offices.yaml").write_text(OFFICES)
    (folder / "tiers.yaml").write_text(TIERS)
    (folder / "practices.yaml").write_text(PRACTICES)
    (folder / "indicators.yaml").write_text(INDICATORS)
    for sid, probes in services.items():
        (folder / "services" / "unog" / f"{sid}.yaml").write_text(SERVICE.format(id=sid, probes=probes))
    return folder


async def slamon_in_process(capsys, *args: str) -> tuple[int, str, str]:
    """The same CLI in this process (faster), in a thread: it runs its own event loop."""
    from slamon.cli import main

    capsys.readouterr()
    code = await asyncio.to_thread(main, list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def slamon(*args: str) -> tuple[int, str, str]:
    """Run the CLI in a subprocess while this test's loop keeps the servers answering."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "slamon", *args,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "CLI_TEST_SECRET": "cli-secret-77"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode, out.decode(), err.decode()


async def test_probe_cli_exit_codes(
    tmp_path, capsys, monkeypatch, http_server, banner_server, dns_server, closed_port
):
    monkeypatch.setenv("CLI_TEST_SECRET", "cli-secret-77")
    base = http_server.url
    good = "\n".join([
        f"  - {{id: web, kind: http, url: '{base}/ok', timeout: 3s, from: [unog, unhq],"
        " expect: {body: OK}, headers: {X-Key: '${env:CLI_TEST_SECRET}'}}",
        f"  - {{id: banner, kind: tcp, host: 127.0.0.1, port: {banner_server}, timeout: 3s, expect: '^220'}}",
        f"  - {{id: dns, kind: dns, name: www.test, server: 127.0.0.1, port: {dns_server.udp_port},"
        " timeout: 3s, expect: {answers: [127.0.0.1]}}",
        f"  - {{id: spare, kind: tcp, host: 127.0.0.1, port: {closed_port}, enabled: false}}",
    ])
    bad = "\n".join([
        f"  - {{id: web, kind: http, url: '{base}/ok', timeout: 3s}}",
        f"  - {{id: down, kind: http, url: 'http://127.0.0.1:{closed_port}/?k=${{env:CLI_TEST_SECRET}}', timeout: 3s}}",
    ])
    cat = write_catalogue(tmp_path / "catalogue", {"unog-good": good, "unog-bad": bad})

    code, out, err = await slamon("probe", "unog-good", "--catalogue", str(cat))
    assert code == 0, (out, err)
    assert "ok   web (http) from unog" in out and "ok   web (http) from unhq" in out
    assert "ok   banner (tcp)" in out and "ok   dns (dns)" in out
    assert "status 200" in out and "connect" in out
    assert "skip spare (disabled)" in out
    assert "4 of 4 succeeded" in out

    code, out, err = await slamon_in_process(capsys, "probe", "unog-bad", "--catalogue", str(cat))
    assert code == 1, (out, err)
    assert "FAIL down (http) from unog" in out and "refused" in out
    assert "cli-secret-77" not in out + err

    code, out, err = await slamon_in_process(
        capsys, "probe", "unog-bad", "--catalogue", str(cat), "--office", "unhq", "--format", "json"
    )
    assert code == 1
    results = json.loads(out)
    assert {(r["probe"], r["vantage"], r["success"]) for r in results} == {
        ("web", "unhq", True), ("down", "unhq", False)
    }
    down = next(r for r in results if r["probe"] == "down")
    assert down["reason"] == "refused" and "cli-secret-77" not in out

    code, out, err = await slamon_in_process(capsys, "probe", "unog-goood", "--catalogue", str(cat))
    assert code == 2
    assert "unknown service 'unog-goood'" in err and "unog-good" in err
    assert "Traceback" not in err


async def test_probe_cli_refuses_a_broken_catalogue(tmp_path, capsys):
    cat = write_catalogue(tmp_path / "catalogue", {"unog-x": "  - {id: web, kind: http, url: 'nope'}"})
    code, _out, err = await slamon_in_process(capsys, "probe", "unog-x", "--catalogue", str(cat))
    assert code == 1
    assert "unog-x.yaml" in err and "invalid" in err
    assert "Traceback" not in err


async def test_probe_cli_prints_icmp_replies_and_dialogue_steps(tmp_path, capsys, dialogue_servers, pki):
    import socket

    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
    except PermissionError:
        from tests.conftest import missing

        missing("raw ICMP sockets need root or CAP_NET_RAW (the datagram path is tested in test_probe_icmp)")
    port = await dialogue_servers.start("pop3")
    probes = "\n".join([
        "  - {id: ping, kind: icmp, host: '::1', count: 2, spacing: 100ms, timeout: 2s}",
        f"  - {{id: pop3, kind: tcp, host: 127.0.0.1, port: {port}, timeout: 3s, dialogue: ["
        "{name: greeting, expect: '^\\+OK'}, {name: stls, send: \"STLS\\r\\n\", expect: '^\\+OK'},"
        f" {{name: upgrade, starttls: {{ca_file: '{pki.ca_file}'}}}}]}}",
    ])  # fmt: skip
    cat = write_catalogue(tmp_path / "catalogue", {"unog-mail": probes})
    code, out, err = await slamon_in_process(capsys, "probe", "unog-mail", "--catalogue", str(cat))
    assert code == 0, (out, err)
    assert "ok   ping (icmp) from unog" in out and "2 of 2 echo replies, round trip" in out
    assert "ok   pop3 (tcp) from unog" in out and "tls " in out
    assert "ok   step greeting" in out and "ok   step upgrade" in out
