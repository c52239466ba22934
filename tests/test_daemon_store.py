"""The daemon joined to the store, the SLA engine and the alert notifier, end to end.

- ``slamon run`` (subprocess) writes results and rollups into a SQLite file; SIGTERM
  flushes everything submitted; ``slamon sla`` on that file shows observed time;
- kill -9 leaves a readable database with what was committed;
- an outage of a loopback target (in-process daemon, its clock shifted so that a
  minute ends within seconds) makes the service down, opens a breach stored in the
  database and delivers the alerts to a webhook receiver started by the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import json
import os
import re
import signal
import socket
import sqlite3
import sys
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from slamon.cli import main
from slamon.config import Config
from slamon.daemon import Daemon
from slamon.store import Store
from tests.daemon_support import LoopbackServer, service_doc, write_catalogue
from tests.test_daemon_run import DaemonProcess, Target, get, http_probe, poll

ROOT = Path(__file__).resolve().parents[1]


def _catalogue(root: Path, base: str, sla: dict | None = None, path: str = "/ok") -> Path:
    doc = service_doc("unog-web", [http_probe(f"{base}{path}", interval="1s", timeout="500ms")])
    if sla:
        doc["sla"] = sla
    return write_catalogue(root, [doc])


def _metric(body: str, name: str) -> float:
    total = 0.0
    for m in re.finditer(rf"^{name}(?:\{{[^}}]*\}})? (\S+)$", body, re.M):
        total += float(m.group(1))
    return total


async def _sla_json(db: str, cat: Path, at: dt.datetime) -> dict:
    """``slamon sla`` (in this process: the daemon has stopped or was killed)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["sla", "unog-web", "--db", db, "--catalogue", str(cat), "--at", at.isoformat(),
                       "--format", "json"])
    assert status == 0
    return json.loads(out.getvalue())


async def test_results_land_in_the_store_and_sigterm_flushes(tmp_path: Path):
    db = f"sqlite:///{tmp_path}/slamon.db"
    async with Target() as target:
        cat = _catalogue(tmp_path / "catalogue", target.base)
        args = ["--catalogue", str(cat), "--listen", "127.0.0.1:0", "--db", db, "--office", "unog",
                "--sla-eval-interval", "1", "--shutdown-timeout", "3"]
        async with DaemonProcess(*args) as daemon, aiohttp.ClientSession() as session:
            base = await daemon.listening()
            body = await poll(session, f"{base}/metrics", r"^slamon_store_written_total [1-9]")
            # the evaluator publishes the current-period SLA of the service
            body = await poll(session, f"{base}/metrics",
                              r'^slamon_sla_objective_ratio\{[^}]*service="unog-web"[^}]*\} 0\.995$')
            assert re.search(r"^slamon_sla_period_end_timestamp_seconds\{", body, re.M)
            assert re.search(r'^slamon_sli_events_total\{[^}]*objective="availability"[^}]*\} [1-9]', body, re.M)
            assert re.search(r"^slamon_alerts_queue_length 0\.0$", body, re.M)
            await asyncio.sleep(1.2)  # a few more results, some still buffered at SIGTERM
            _, body = await get(session, f"{base}/metrics")
            taken = _metric(body, "slamon_probe_results_total")
            daemon.proc.send_signal(signal.SIGTERM)
            assert await daemon.wait(10) == 0
            log = daemon.log()
        assert re.search(r"store_writer_closed unwritten=0", log), log

    store = Store.open(db)
    try:
        written = store.count_results()
        assert written >= taken > 0  # everything taken in before the last scrape, and the rest
        rollups = store.rollups("unog-web", vantage="unog")
        assert rollups and sum(r.observed.bit_count() for r in rollups) >= 1
        assert [s.id for s in store.services_at(dt.datetime.now(dt.UTC))] == ["unog-web"]
    finally:
        store.close()
    # two minutes on, the minutes probed are complete: observed time shows
    doc = await _sla_json(db, cat, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2))
    (vantage,) = doc["services"][0]["vantages"]
    assert vantage["vantage"] == "unog"
    assert vantage["seconds"]["observed"] >= 60
    assert vantage["seconds"]["good"] == vantage["seconds"]["observed"]


async def test_kill_9_leaves_a_readable_database(tmp_path: Path):
    db_path = tmp_path / "slamon.db"
    db = f"sqlite:///{db_path}"
    async with Target() as target:
        cat = _catalogue(tmp_path / "catalogue", target.base)
        args = ["--catalogue", str(cat), "--listen", "127.0.0.1:0", "--db", db]
        async with DaemonProcess(*args) as daemon, aiohttp.ClientSession() as session:
            base = await daemon.listening()
            await poll(session, f"{base}/metrics", r"^slamon_store_written_total [1-9]")
            daemon.proc.kill()
            assert await daemon.wait(10) == -signal.SIGKILL
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store = Store.open(db)
    try:
        assert store.count_results() > 0
        assert store.rollups("unog-web")
    finally:
        store.close()
    doc = await _sla_json(db, cat, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2))
    assert doc["services"][0]["vantages"][0]["seconds"]["observed"] >= 60


class Switch(LoopbackServer):
    """/svc answers 200 until switched off, then 500; /hook collects webhook posts."""

    def __init__(self) -> None:
        self.healthy = True
        self.posts: list[dict] = []

    async def svc(self, request: web.Request) -> web.Response:
        return web.Response(text="OK", status=200 if self.healthy else 500)

    async def hook(self, request: web.Request) -> web.Response:
        self.posts.append(await request.json())
        return web.Response(status=204)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/svc", self.svc)
        app.router.add_post("/hook", self.hook)

    def alerts(self, name: str, status: str = "firing") -> list[dict]:
        return [p for p in self.posts if p.get("alertname") == name and p.get("status") == status]


async def _until(check, timeout_seconds: float, what: str):
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_outage_opens_a_stored_breach_and_alerts_the_webhook(tmp_path: Path):
    db = f"sqlite:///{tmp_path}/slamon.db"
    async with Switch() as switch:
        cat = _catalogue(
            tmp_path / "catalogue", switch.base, path="/svc",
            sla={"availability": 99.9, "unplanned_outages": 0},
        )
        # shift the daemon's clock so that its minute ends about 4 s from now: the
        # outage below falls in a minute that is complete (and measured) soon after
        real = time.time()
        offset = (56 - real % 60) % 60
        config = Config(
            catalogue_dir=cat, db_url=db, listen="127.0.0.1:0", offices=("unog",),
            sla_eval_interval_seconds=0.5, shutdown_timeout_seconds=3,
            alert_webhooks=(f"{switch.base}/hook",), write_interval_seconds=0.2,
        )
        daemon = Daemon(config, clock=lambda: time.time() + offset)
        serving = asyncio.create_task(daemon.serve())
        try:
            store = Store.open(db)  # opened after the daemon created it (retried below)
            await asyncio.sleep(1.0)
            switch.healthy = False  # the outage: every probe from now on gets a 500
            down = await _until(lambda: switch.alerts("SlamonServiceDown"), 15, "the service-down alert")
            assert down[0]["labels"]["service"] == "unog-web" and down[0]["labels"]["vantage"] == "unog"
            breached = await _until(lambda: switch.alerts("SlamonSLABreached"), 20, "the breach alert")
            objectives = {p["labels"]["objective"] for p in breached}
            assert objectives <= {"availability", "unplanned_outages"} and objectives
            rows = await _until(lambda: store.breaches(service_id="unog-web", open_only=True), 10, "stored breaches")
            assert {r.objective for r in rows} >= objectives
            assert all(r.vantage == "unog" for r in rows)
            # each alert posted once, however many evaluations re-announced it
            await asyncio.sleep(1.5)
            assert len(switch.alerts("SlamonSLABreached")) == len(objectives)
            store.close()
        finally:
            daemon.handle_exit(signal.SIGTERM)
            assert await asyncio.wait_for(serving, 15) == 0


async def _refused(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "slamon", "run", *args,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1, err.decode()
    return err.decode()


async def test_start_up_refusals_for_the_store_and_alert_targets(tmp_path: Path):
    cat = _catalogue(tmp_path / "catalogue", "http://127.0.0.1:9")
    common = ("--catalogue", str(cat), "--listen", "127.0.0.1:0")
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    unreachable, bad_url, bad_target = await asyncio.gather(
        _refused(*common, "--db", f"postgresql+psycopg://slamon:topsecret@127.0.0.1:{port}/x"),
        _refused(*common, "--db", "not a url"),
        _refused(*common, "--db", f"sqlite:///{tmp_path}/x.db", "--alert-webhook", "geneva=http://127.0.0.1:1/hook"),
    )
    assert "cannot open the store" in unreachable and "topsecret" not in unreachable
    assert "not a database URL" in bad_url
    assert "unknown office geneva" in bad_target
    for err in (unreachable, bad_url, bad_target):
        assert "Traceback" not in err
