"""Faults of the monitor itself are reason ``local``: unobserved time, never downtime.

The real fault: a child Python process lowers its own RLIMIT_NOFILE, fills what is
left, and runs the http and tcp probes against a loopback server; every run while it
has no descriptor to spare must say ``local``, and the same probes succeed once the
descriptors are back. Its results then go through the daemon's own paths: the state
machine (no transition, no down), the metrics (a daemon-health counter, no failure),
the store and ``slamon sla`` (the minutes are unobserved, never bad). Last, the real
daemon (``slamon run`` in a child process) runs out of descriptors for a whole minute
while probing a loopback server: no service goes down, the daemon-health counter
rises, and ``slamon sla`` over its store shows that minute unobserved and 100 %.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import socket
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from exporters.metrics import SlamonCollector
from slamon.cli import main
from slamon.core.results import ProbeOutcome, ProbeResult, Reason
from slamon.core.state import State
from slamon.probes.errors import classify
from slamon.runtime import Runtime
from slamon.store import Store
from tests.conftest import DATA_DIR
from tests.store_support import utc

pytest_plugins = ["tests.servers"]

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """
    import asyncio, json, os, resource, sys
    from slamon.probes import ProbeContext, run_probe
    from tests.probe_helpers import make_probe

    port = int(sys.argv[1])
    probes = [
        make_probe(kind="http", id="web", url=f"http://127.0.0.1:{port}/ok"),
        make_probe(kind="tcp", id="port", host="127.0.0.1", port=port),
    ]

    def described(outcome):
        return {"success": outcome.success, "reason": outcome.reason and outcome.reason.value,
                "detail": outcome.detail}

    async def main():
        ctx = ProbeContext.create(max_body_bytes=65536, env={})
        out = {"before": [], "starved": [], "after": []}
        for p in probes:
            out["before"].append(described(await run_probe(p, ctx)))
        # lower the limit to just above the highest descriptor in use, then take every
        # free number below it: no socket can be opened any more
        in_use = [int(n) for n in os.listdir("/proc/self/fd")]
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(in_use) + 1, hard))
        hog = []
        try:
            while True:
                hog.append(os.open(os.devnull, os.O_RDONLY))
        except OSError as exc:
            out["errno"] = exc.errno
        for _ in range(3):
            for p in probes:
                out["starved"].append(described(await run_probe(p, ctx)))
        for fd in hog:
            os.close(fd)
        for p in probes:
            out["after"].append(described(await run_probe(p, ctx)))
        await ctx.close()
        print(json.dumps(out))

    asyncio.run(main())
    """
)


async def _run_child(port: int) -> dict:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, str(port),
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode(errors="replace")
    return json.loads(out)


@pytest.fixture
async def starved(http_server) -> dict:
    return await _run_child(http_server.port)


def _result(minute: int, outcome: ProbeOutcome, probe: str = "sso") -> ProbeResult:
    start = utc(2026, 11, 2, 10, 0).timestamp()
    return ProbeResult("unhq", "unhq-identity", probe, "http", start + 60 * minute + 5, outcome)


def _outcome(found: dict) -> ProbeOutcome:
    reason = Reason(found["reason"]) if found["reason"] else None
    return ProbeOutcome(success=found["success"], duration_seconds=0.01, reason=reason, detail=found["detail"])


async def test_descriptor_exhaustion_in_a_child_process_is_a_local_fault(starved):
    assert starved["errno"] == errno.EMFILE
    assert all(r["success"] for r in starved["before"]), starved["before"]
    assert len(starved["starved"]) == 6
    for r in starved["starved"]:
        assert not r["success"] and r["reason"] == "local", r
        assert "Too many open files" in r["detail"] and "not the target" in r["detail"]
    assert all(r["success"] for r in starved["after"]), starved["after"]


async def test_local_faults_never_mark_a_service_down_and_count_as_daemon_health(starved):
    runtime = Runtime()
    obs = runtime.observations
    obs.configure(("unhq", "unhq-identity", "sso"), failure_threshold=2, success_threshold=1)
    ok = _outcome(starved["before"][0])
    local = [_outcome(r) for r in starved["starved"]]
    assert obs.record(_result(0, ok)) is not None  # unknown -> up
    transitions = [obs.record(_result(1 + i, o)) for i, o in enumerate(local)]
    assert transitions == [None] * len(local)
    rec = obs.probes[("unhq", "unhq-identity", "sso")]
    assert rec.state.state is State.up and rec.state.consecutive_failures == 0
    assert rec.last is not None and rec.last.success  # the last observation of the target
    assert rec.results_total == 1 and not rec.failures_total and rec.in_scope_total == 1
    assert obs.local_faults_total == len(local)
    assert obs.service_state("unhq", "unhq-identity") is State.up

    registry = CollectorRegistry(auto_describe=True)
    registry.register(SlamonCollector(runtime))
    text = generate_latest(registry).decode()
    assert f"slamon_probe_local_faults_total {float(len(local))}" in text
    assert 'reason="local"' not in text  # never a failure of the probe
    assert 'slamon_service_up{office="unhq",service="unhq-identity",vantage="unhq"} 1.0' in text


async def test_local_fault_minutes_are_unobserved_in_the_sla(starved, tmp_path, capsys):
    ok = _outcome(starved["before"][0])
    local = _outcome(starved["starved"][0])
    failed = ProbeOutcome(success=False, duration_seconds=0.01, reason=Reason.refused, detail="connection refused")
    # 10:00-10:19 fine, 10:20-10:49 only local faults, 10:50-10:54 one local fault and
    # one success a minute (observed, good), 10:55-10:59 fine
    results = [_result(m, ok) for m in range(20)]
    results += [_result(m, local) for m in range(20, 50)]
    results += [_result(m, local) for m in range(50, 55)] + [_result(m, ok, "sso2") for m in range(50, 55)]
    results += [_result(m, ok) for m in range(55, 60)]
    url = f"sqlite:///{tmp_path}/slamon.db"
    store = Store.open(url)
    try:
        store.write_results(results)
        # the raw rows keep the local faults, for the record
        rows = store.results(utc(2026, 11, 2, 10), utc(2026, 11, 2, 11), service_id="unhq-identity")
        assert sum(1 for r in rows if r.outcome.reason is Reason.local) == 35
    finally:
        store.close()
    args = ["sla", "unhq-identity", "--period", "2026-11", "--db", url, "--catalogue",
            str(DATA_DIR / "mini_catalogue"), "--at", "2026-11-02T11:00Z", "--format", "json"]  # fmt: skip
    assert main(args) == 0
    unhq = next(v for v in json.loads(capsys.readouterr().out)["services"][0]["vantages"] if v["vantage"] == "unhq")
    assert unhq["seconds"]["observed"] == 30 * 60  # 20 + 5 + 5 minutes
    assert unhq["seconds"]["good"] == 30 * 60 and unhq["seconds"]["bad"] == 0
    assert unhq["objectives"]["availability"]["actual_ratio"] == pytest.approx(1.0)
    # the 30 minutes of local faults are unobserved, like every other minute without a result
    assert unhq["seconds"]["unobserved"] == unhq["seconds"]["eligible"] - 30 * 60
    # a real failure of the target in a minute is still bad (control)
    store = Store.open(url)
    try:
        store.write_results([_result(61, failed)])
    finally:
        store.close()
    assert main([*args[:-4], "--at", "2026-11-02T11:05Z", "--format", "json"]) == 0
    unhq = next(v for v in json.loads(capsys.readouterr().out)["services"][0]["vantages"] if v["vantage"] == "unhq")
    assert unhq["seconds"]["bad"] == 60


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (OSError(errno.EMFILE, "Too many open files"), Reason.local),
        (OSError(errno.ENFILE, "Too many open files in system"), Reason.local),
        (OSError(errno.ENOBUFS, "No buffer space available"), Reason.local),
        (MemoryError(), Reason.local),
        (socket.gaierror(socket.EAI_MEMORY, "Memory allocation failure"), Reason.local),
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), Reason.refused),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), Reason.dns),
    ],
)
def test_classification_of_local_faults(exc, reason):
    found = classify(exc)
    assert found is not None and found[0] is reason


async def test_a_probe_function_out_of_memory_is_a_local_fault_in_the_scheduler():
    from tests.test_scheduler import Harness, make_task, wait_until

    task = make_task(1, interval="50ms", timeout="20ms")

    async def run(t):
        raise MemoryError

    h = Harness(run)
    h.scheduler.update([task])
    h.scheduler.start()
    await wait_until(lambda: len(h.results) >= 2)
    await h.scheduler.drain(0.5)
    assert all(r.outcome.reason is Reason.local and r.local_fault for r in h.results)


def test_the_monitor_logs_local_faults_once_a_minute_and_still_stores_them(tmp_path, caplog):
    from slamon.monitor import Monitor
    from slamon.sinks import MemorySink

    sink = MemorySink()
    runtime = Runtime()
    monitor = Monitor(runtime, [sink], tmp_path)
    local = ProbeOutcome(False, 0.0, reason=Reason.local, detail="fault of the monitor, not the target: Too many open files")
    for minute in range(3):
        monitor.on_result(_result(minute, local))
    logged = [r for r in caplog.records if r.getMessage() == "probe_local_fault"]
    assert len(logged) == 1 and logged[0].levelname == "ERROR"
    assert not [r for r in caplog.records if r.getMessage() == "probe_state_changed"]
    assert runtime.observations.local_faults_total == 3 and not runtime.observations.probes
    assert len(sink.recent(("unhq", "unhq-identity", "sso"))) == 3  # the raw record is kept


# --------------------------------------------------------------------------- the daemon

DAEMON_CHILD = textwrap.dedent(
    """
    import os, resource, sys, threading, time
    from slamon.cli import main

    start, hold = float(sys.argv[1]), float(sys.argv[2])

    def starve():
        # the daemon's process runs out of descriptors from ``start`` for ``hold`` seconds:
        # the limit is lowered to just above the highest one in use and every free number
        # below it is taken (and taken again whenever the daemon frees one)
        time.sleep(max(0.0, start - time.time()))
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        in_use = [int(n) for n in os.listdir("/proc/self/fd")]
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(in_use) + 1, hard))
        hog = []
        print(f"starving from {time.time():.3f}", file=sys.stderr, flush=True)
        while time.time() < start + hold:
            try:
                while True:
                    hog.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                pass
            time.sleep(0.002)
        for fd in hog:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        print(f"starving ended {time.time():.3f}", file=sys.stderr, flush=True)

    threading.Thread(target=starve, daemon=True).start()
    sys.exit(main(["run", *sys.argv[3:]]))
    """
)


@pytest.mark.slow
async def test_the_daemon_out_of_descriptors_records_unobserved_time_not_downtime(tmp_path, http_server):
    import datetime as dt
    import re
    import signal
    import time

    import aiohttp

    from tests.daemon_support import service_doc, write_catalogue
    from tests.test_daemon_run import DaemonProcess, poll

    sid = "unog-files"
    probe = {"id": "web", "kind": "http", "url": f"{http_server.url}/ok", "interval": "1s", "timeout": "800ms"}
    cat = write_catalogue(tmp_path / "catalogue", [service_doc(sid, [probe])])
    db = f"sqlite:///{tmp_path}/slamon.db"
    # starve from 2 s before a minute boundary (at least 20 s away, for the start-up) to
    # 3 s into the minute after: one whole minute with local faults only
    now = time.time()
    boundary = (now // 60 + 1) * 60
    if boundary - now < 22:
        boundary += 60
    start, hold = boundary - 2, 65.0
    starved_minute = int(boundary // 60)

    class Starving(DaemonProcess):
        async def __aenter__(self):
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", DAEMON_CHILD, str(start), str(hold), *self.args,
                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            self._reader = asyncio.create_task(self._read())
            return self

    args = ["--catalogue", str(cat), "--listen", "127.0.0.1:0", "--office", "unog", "--db", db,
            "--shutdown-timeout", "2"]  # fmt: skip
    async with Starving(*args) as daemon, aiohttp.ClientSession() as session:
        base = await daemon.listening()
        await daemon.wait_for_log(r"event=probe_state_changed .*service=unog-files .*state=up", 20)
        await daemon.wait_for_log(r"starving ended", start + hold + 30 - time.time())
        metrics = await poll(session, f"{base}/metrics", r"^slamon_probe_local_faults_total [1-9]", timeout_seconds=20)
        await asyncio.sleep(3)  # successes again
        metrics = await poll(session, f"{base}/metrics", r"^slamon_probe_local_faults_total [1-9]")
        faults = float(re.search(r"^slamon_probe_local_faults_total (\S+)$", metrics, re.M).group(1))
        assert faults >= 30, metrics  # about one a second for a minute
        assert re.search(rf'^slamon_service_up\{{[^}}]*service="{sid}"[^}}]*\}} 1\.0$', metrics, re.M)
        assert not re.search(r'^slamon_probe_failures_total\{[^}]*\} [1-9]', metrics, re.M), metrics
        log = daemon.log()
        assert "event=probe_local_fault" in log and "Too many open files" in log
        assert not re.search(r"event=probe_state_changed .*state=down", log), log
        daemon.proc.send_signal(signal.SIGTERM)
        assert await daemon.wait(20) == 0

    at = dt.datetime.fromtimestamp(time.time() + 61, dt.UTC).isoformat()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "slamon", "sla", sid, "--period", "current", "--vantage", "unog",
        "--db", db, "--catalogue", str(cat), "--format", "json", "--at", at,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    (svc,) = json.loads(out)["services"]
    (unog,) = svc["vantages"]
    assert unog["seconds"]["bad"] == 0 and unog["seconds"]["good"] == unog["seconds"]["observed"] > 0
    assert unog["objectives"]["availability"]["actual_ratio"] == 1.0 and svc["met"] is True
    # the starved minute is not observed: its results are all local faults; every minute
    # with a result of the target is observed (and good)
    store = Store.open(db)
    try:
        rows = store.results(0.0, time.time() + 1, service_id=sid)
    finally:
        store.close()
    starved = [r for r in rows if int(r.started_at // 60) == starved_minute]
    assert starved and all(r.outcome.reason is Reason.local for r in starved), [r.outcome for r in starved]
    seen = {int(r.started_at // 60) for r in rows if r.outcome.reason is not Reason.local}
    assert starved_minute not in seen
    assert unog["seconds"]["observed"] == len(seen) * 60
    assert all(r.success for r in rows if r.outcome.reason is not Reason.local)
