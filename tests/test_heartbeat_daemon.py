"""Heartbeat (push) probes against a real daemon on 127.0.0.1: a job's heartbeat is a
result (metrics, state, the store and the API), a reported failure and a missed
heartbeat are failures with their reasons, and bad pushes get 401 (counted), 404 and,
for a service another daemon owns (--office), 421."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from tests.daemon_support import service_doc, write_catalogue
from tests.test_daemon_run import DaemonProcess, get, poll

TOKEN = "hb-test-token-7f3a"


def hb(probe_id: str, **fields) -> dict:
    return {"id": probe_id, "kind": "heartbeat", "token": "${env:SLAMON_TEST_HB_TOKEN}", **fields}


async def push(session: aiohttp.ClientSession, base: str, path: str, token: str | None = TOKEN, **params) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with session.post(f"{base}/api/v1/heartbeat/{path}", headers=headers, params=params,
                            timeout=aiohttp.ClientTimeout(total=5)) as r:
        return r.status, await r.json(content_type=None)


def metric(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_heartbeats_through_a_real_daemon(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SLAMON_TEST_HB_TOKEN", TOKEN)
    cat = write_catalogue(tmp_path / "catalogue", [
        service_doc("unog-jobs", [
            hb("backup", every="5s", grace="2s", interval="1s"),
            hb("nightly", cron="30 1 * * *", grace="3h"),
            {"id": "web", "kind": "tcp", "host": "127.0.0.1", "port": 9, "interval": "60s", "timeout": "1s"},
        ]),
        service_doc("unhq-jobs", [hb("backup", every="24h")]),  # owned by a daemon at unhq
    ])
    args = ["--catalogue", str(cat), "--listen", "127.0.0.1:0", "--office", "unog", "--shutdown-timeout", "2"]
    async with DaemonProcess(*args) as daemon, aiohttp.ClientSession() as session:
        base = await daemon.listening()
        await poll(session, f"{base}/readyz", "ready")

        # bad pushes
        assert (await push(session, base, "unog-jobs/backup", token=None))[0] == 401
        status, body = await push(session, base, "unog-jobs/backup", token="wrong")
        assert status == 401 and TOKEN not in str(body)
        status, body = await push(session, base, "unog-nothing/backup")
        assert status == 404 and "unknown service" in body["detail"]
        status, body = await push(session, base, "unog-jobs/nope")
        assert status == 404 and "no probe" in body["detail"]
        status, body = await push(session, base, "unog-jobs/web")
        assert status == 404 and "not a heartbeat" in body["detail"]
        status, body = await push(session, base, "unhq-jobs/backup")
        assert status == 421 and body["title"] == "Misdirected Request"
        assert (await push(session, base, "unog-jobs/backup", status="maybe"))[0] == 400
        metrics = await poll(session, f"{base}/metrics", r'slamon_heartbeat_rejected_total\{reason="unauthorized"\} 2\.0')
        assert metric(metrics, "slamon_heartbeat_rejected_total", reason="unknown") == 3.0
        assert metric(metrics, "slamon_heartbeat_rejected_total", reason="misdirected") == 1.0
        # nothing received yet: no result, no age
        assert metric(metrics, "probe_success", service="unog-jobs", probe="backup") is None
        assert metric(metrics, "slamon_heartbeat_last_seconds", service="unog-jobs") is None

        # a good heartbeat is a success at once
        status, body = await push(session, base, "unog-jobs/backup", message="1234 files")
        assert status == 202 and body["status"] == "accepted"
        metrics = await poll(session, f"{base}/metrics",
                             r'^probe_success\{[^}]*probe="backup",service="unog-jobs"[^}]*\} 1\.0$')
        age = metric(metrics, "slamon_heartbeat_last_seconds", vantage="unog", service="unog-jobs", probe="backup")
        assert age is not None and 0 <= age < 7
        assert metric(metrics, "slamon_heartbeat_received_total", service="unog-jobs", probe="backup", status="ok") == 1.0

        # the job reports a failure (form fields work as well as the query)
        async with session.post(f"{base}/api/v1/heartbeat/unog-jobs/backup",
                                headers={"Authorization": f"Bearer {TOKEN}"},
                                data={"status": "fail", "message": "tape library offline"}) as r:
            assert r.status == 202
        await poll(session, f"{base}/metrics", r'^slamon_probe_failures_total\{[^}]*probe="backup"[^}]*reason="reported"[^}]*\} [1-9]')
        await daemon.wait_for_log(r"event=probe_state_changed .*service=unog-jobs .*probe=backup .*state=down")
        # the job's message is shown with the latest result (never as a label)
        await poll(session, f"{base}/api/v1/services/unog-jobs", r'"reason": "reported".*tape library offline')

        # good again, then silence: missed once every (5s) + grace (2s) passed
        assert (await push(session, base, "unog-jobs/backup"))[0] == 202
        await poll(session, f"{base}/metrics",
                   r'^slamon_probe_failures_total\{[^}]*probe="backup"[^}]*reason="missed"[^}]*\} [1-9]',
                   timeout_seconds=20)

        # results are stored like any probe's, with their reasons
        api = await poll(session, f"{base}/api/v1/services/unog-jobs",
                         r'"recent_results".*"kind": "heartbeat".*"reason": "missed"',
                         r'"recent_results".*"reason": "reported"', timeout_seconds=10)
        assert "tape library offline" not in metrics
        # the nightly cron heartbeat was never due since the daemon started: no result
        doc = json.loads(api)
        nightly = next(p for p in doc["probes"] if p["probe"] == "nightly")
        assert (nightly["state"], nightly["results_total"], nightly["latest"]) == ("unknown", 0, None)
        assert not [r for r in doc["recent_results"] if r["probe"] == "nightly"]
        status, page = await get(session, f"{base}/services/unog-jobs")
        assert status == 200 and "backup" in page and "missed" in page and "no heartbeat since" in page
    assert TOKEN not in daemon.log()


async def test_with_shards_only_the_owning_daemon_takes_a_heartbeat(tmp_path: Path, monkeypatch):
    from slamon.core.catalogue import shard_of

    monkeypatch.setenv("SLAMON_TEST_HB_TOKEN", TOKEN)
    ids = [f"unog-job{i}" for i in range(8)]
    mine = [s for s in ids if shard_of(s, 2) == 0]
    theirs = [s for s in ids if shard_of(s, 2) == 1]
    assert mine and theirs
    cat = write_catalogue(tmp_path / "catalogue", [service_doc(s, [hb("run", every="24h")]) for s in ids])
    args = ["--catalogue", str(cat), "--listen", "127.0.0.1:0", "--shard", "0/2", "--shutdown-timeout", "2"]
    async with DaemonProcess(*args) as daemon, aiohttp.ClientSession() as session:
        base = await daemon.listening()
        await poll(session, f"{base}/readyz", "ready")
        for sid in mine:
            assert (await push(session, base, f"{sid}/run"))[0] == 202, sid
        for sid in theirs:
            status, body = await push(session, base, f"{sid}/run")
            assert status == 421 and "--office/--shard" in body["detail"], sid
        metrics = await poll(session, f"{base}/metrics", rf'slamon_heartbeat_rejected_total\{{reason="misdirected"\}} {len(theirs)}\.0')
        assert metric(metrics, "slamon_heartbeat_received_total", service=mine[0], probe="run", status="ok") == 1.0
