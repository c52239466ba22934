"""A certificate inside ``min_days_left`` is a warning, not an outage, end to end.

The real daemon (``slamon run``, a subprocess) probes a loopback TLS server whose
certificate, signed by a test CA the probe trusts, expires in 5 days, with
``min_days_left: 21``. The warning must show in /metrics and on the pages, the
service must stay up, and ``slamon sla`` over the store the daemon wrote must show
100 % availability with nothing bad.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import aiohttp

from tests.daemon_support import service_doc, write_catalogue
from tests.test_daemon_run import ROOT, DaemonProcess, get, poll

pytest_plugins = ["tests.servers"]

SERVICE = "unog-mail"


async def test_an_expiring_certificate_keeps_the_sla_at_100_percent(tmp_path: Path, https_servers, pki):
    server = https_servers["expiring"]
    probes = [
        {"id": "cert", "kind": "tls", "host": "127.0.0.1", "port": server.port, "min_days_left": 21,
         "ca_file": str(pki.ca_file), "interval": "1s", "timeout": "800ms"},
        {"id": "web", "kind": "http", "url": f"{server.url}/ok", "ca_file": str(pki.ca_file),
         "interval": "1s", "timeout": "800ms"},
    ]  # fmt: skip
    cat = write_catalogue(tmp_path / "catalogue", [service_doc(SERVICE, probes)])
    db = f"sqlite:///{tmp_path}/slamon.db"
    args = ["--catalogue", str(cat), "--listen", "127.0.0.1:0", "--office", "unog", "--db", db,
            "--shutdown-timeout", "2"]  # fmt: skip
    expires = pki.not_after["expiring"].timestamp()
    assert 4 * 86400 < expires - time.time() < 6 * 86400
    async with DaemonProcess(*args) as daemon, aiohttp.ClientSession() as session:
        base = await daemon.listening()
        warning = (
            rf'^slamon_probe_warning\{{[^}}]*probe="cert",reason="cert_expiry_soon"'
            rf'[^}}]*service="{SERVICE}"[^}}]*\}} 1\.0$'
        )
        metrics = await poll(session, f"{base}/metrics", warning, timeout_seconds=20)
        await asyncio.sleep(4)  # a few more seconds of probing
        metrics = await poll(session, f"{base}/metrics", warning)
        cert = re.search(r'^probe_ssl_earliest_cert_expiry\{[^}]*probe="cert"[^}]*\} (\S+)$', metrics, re.M)
        assert cert is not None and abs(float(cert.group(1)) - expires) < 2
        assert re.search(r'^probe_success\{[^}]*probe="cert"[^}]*\} 1\.0$', metrics, re.M)
        assert re.search(rf'^slamon_service_up\{{[^}}]*service="{SERVICE}"[^}}]*\}} 1\.0$', metrics, re.M)
        assert not re.search(r'^slamon_probe_failures_total\{[^}]*\} [1-9]', metrics, re.M), metrics
        assert not re.search(r"^slamon_probe_local_faults_total [1-9]", metrics, re.M)
        # the pages: a warning mark in the office's cell, the reason and detail on the service page
        status, page = await get(session, f"{base}/")
        assert status == 200
        row = re.search(rf'<tr class="service-row[^"]*" data-service="{SERVICE}" data-state="up">.*?</tr>', page, re.S)
        assert row is not None, page
        assert 'class="warning-flag" data-reason="cert_expiry_soon"' in row.group(0)
        status, page = await get(session, f"{base}/services/{SERVICE}")
        assert status == 200
        assert "warning: cert_expiry_soon" in page and "fewer than min_days_left 21" in page
        daemon.proc.send_signal(signal.SIGTERM)
        assert await daemon.wait(15) == 0
        assert "Traceback" not in daemon.log()

    # the current period counts complete minutes only: measure as of the next minute, so
    # the minutes just probed are complete (nothing was recorded after them)
    at = dt.datetime.fromtimestamp(time.time() + 61, dt.UTC).isoformat()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "slamon", "sla", SERVICE, "--period", "current", "--vantage", "unog",
        "--db", db, "--catalogue", str(cat), "--format", "json", "--at", at,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    (svc,) = json.loads(out)["services"]
    (unog,) = svc["vantages"]
    assert unog["seconds"]["observed"] >= 60  # at least one complete minute was probed
    assert unog["seconds"]["bad"] == 0
    assert unog["seconds"]["good"] == unog["seconds"]["observed"]
    assert unog["objectives"]["availability"]["actual_ratio"] == 1.0
    assert svc["met"] is True
