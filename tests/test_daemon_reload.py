"""Reload in process: the monitor, the watcher and a real scheduler with an injected probe."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from types import SimpleNamespace

from slamon.core.results import ProbeOutcome, ProbeResult, Reason
from slamon.core.state import State
from slamon.loader import load_catalogue
from slamon.monitor import CatalogueWatcher, Monitor
from slamon.runtime import Runtime
from slamon.scheduler import Scheduler
from slamon.sinks import MemorySink, ResultSink
from tests.daemon_support import service_doc, write_catalogue, write_service


def http(url: str = "https://a.unog.example/", **kw) -> dict:
    return {"id": "web", "kind": "http", "url": url, "interval": "10s", "timeout": "1s", **kw}


def build(tmp_path: Path, offices=("unog",)):
    root = write_catalogue(tmp_path / "catalogue", [
        service_doc("unog-web", [http()]),
        service_doc("unog-api", [http("https://api.unog.example/")]),
        service_doc("unhq-erp", [http("https://erp.unhq.example/", **{"from": ["unhq", "unog"]})]),
    ])
    runtime = Runtime()
    sink = MemorySink(per_probe=3)
    monitor = Monitor(runtime, [sink], root, offices=offices, clock=lambda: 1.7e9)

    async def run(task):
        return ProbeOutcome(success=True, duration_seconds=0.001)

    scheduler = Scheduler(run, monitor.on_result, runtime.scheduler, clock=lambda: 1.7e9)
    monitor.attach(scheduler)
    report = load_catalogue(root)
    assert report.ok
    return SimpleNamespace(
        root=root, runtime=runtime, sink=sink, monitor=monitor, scheduler=scheduler,
        catalogue=report.catalogue,
    )


async def test_a_broken_catalogue_is_refused_and_the_last_good_one_keeps_running(tmp_path, caplog):
    rig = build(tmp_path)
    root, runtime, monitor, scheduler, catalogue = rig.root, rig.runtime, rig.monitor, rig.scheduler, rig.catalogue
    monitor.apply(catalogue)
    scheduler.start()
    before = scheduler.keys
    assert before == {("unog", "unog-web", "web"), ("unog", "unog-api", "web"), ("unog", "unhq-erp", "web")}
    assert runtime.catalogue is catalogue and runtime.catalogue_stats.load_success

    bad = root / "services" / "unog" / "unog-api.yaml"
    bad.write_text(bad.read_text().replace("tier: silver", "tier: silver\ntierr: gold"), encoding="utf-8")
    caplog.set_level(logging.INFO, logger="slamon")
    assert await monitor.reload("test") is False
    assert runtime.catalogue is catalogue  # the old one
    assert scheduler.keys == before
    stats = runtime.catalogue_stats
    assert stats.load_success is False and stats.reloads_total["failure"] == 1 and stats.errors >= 1
    # why, for the status page's badge: each error as `slamon check` prints it
    assert stats.last_errors and "unog-api.yaml:" in stats.last_errors[0] and "tierr" in " ".join(stats.last_errors)
    assert stats.last_failure_timestamp_seconds is not None
    errors = [r for r in caplog.records if r.getMessage() == "catalogue_error"]
    assert errors and errors[0].file.endswith("unog-api.yaml") and errors[0].code.startswith("E")
    assert any(r.getMessage() == "catalogue_reload_refused" and r.errors >= 1 for r in caplog.records)

    write_service(root, service_doc("unog-api", [http("https://api.unog.example/v2")]))
    write_service(root, service_doc("unog-new", [http("https://new.unog.example/")]))
    (root / "services" / "unog" / "unog-web.yaml").unlink()
    assert await monitor.reload("test") is True
    assert runtime.catalogue is not catalogue
    assert scheduler.keys == {("unog", "unog-api", "web"), ("unog", "unhq-erp", "web"), ("unog", "unog-new", "web")}
    assert stats.load_success is True and stats.reloads_total["success"] == 1
    assert stats.last_errors == ()  # a good load clears the reasons
    await scheduler.drain(0.5)


async def test_a_loader_crash_is_a_refused_reload_not_a_dead_daemon(tmp_path, caplog):
    rig = build(tmp_path)
    runtime, monitor, catalogue = rig.runtime, rig.monitor, rig.catalogue
    monitor.apply(catalogue)

    def crash(path):
        raise RuntimeError("loader bug")

    monitor.loader = crash
    assert await monitor.reload("test") is False
    assert runtime.catalogue is catalogue
    assert runtime.catalogue_stats.reloads_total["failure"] == 1
    assert "loader" in runtime.catalogue_stats.last_errors[0]
    assert any(r.getMessage() == "catalogue_reload_failed" and r.exc_info for r in caplog.records)


async def test_results_update_state_log_transitions_and_reach_the_sinks(tmp_path, caplog):
    rig = build(tmp_path)
    runtime, sink, monitor, catalogue = rig.runtime, rig.sink, rig.monitor, rig.catalogue
    monitor.apply(catalogue)
    key = ("unog", "unog-web", "web")
    caplog.set_level(logging.INFO, logger="slamon")

    def result(ok: bool, t: float) -> ProbeResult:
        return ProbeResult("unog", "unog-web", "web", "http", t, ProbeOutcome(
            success=ok, duration_seconds=0.01, reason=None if ok else Reason.refused))

    for i, ok in enumerate([True, True, False, True, False, False, False]):
        monitor.on_result(result(ok, 1.7e9 + i))
    changes = [r for r in caplog.records if r.getMessage() == "probe_state_changed"]
    assert [r.state for r in changes] == ["up", "down"]  # one lost result does not flip it
    assert changes[1].reason == "refused"
    rec = runtime.observations.probes[key]
    assert rec.state.state is State.down and rec.results_total == 7 and rec.in_scope_total == 7
    assert [r.started_at for r in sink.recent(key)] == [1.7e9 + 4, 1.7e9 + 5, 1.7e9 + 6]  # bounded


async def test_a_failing_sink_does_not_stop_the_others(tmp_path, caplog):
    rig = build(tmp_path)
    sink, monitor, catalogue = rig.sink, rig.monitor, rig.catalogue

    class Broken:
        def submit(self, result):
            raise OSError("disk full")

        async def flush(self, timeout_seconds):
            return None

        async def close(self):
            return None

    assert isinstance(Broken(), ResultSink) and isinstance(sink, ResultSink)
    monitor.sinks = [Broken(), sink]
    monitor.apply(catalogue)
    r = ProbeResult("unog", "unog-web", "web", "http", 1.7e9, ProbeOutcome(success=True, duration_seconds=0.0))
    monitor.on_result(r)
    assert sink.recent(r.key) == [r]
    assert any(x.getMessage() == "sink_submit_failed" for x in caplog.records)


def test_the_watcher_sees_changes_added_and_removed_files(tmp_path):
    root = write_catalogue(tmp_path / "catalogue", [service_doc("unog-web", [http()])])
    watcher = CatalogueWatcher(root)
    assert watcher.changed() is False
    path = root / "services" / "unog" / "unog-web.yaml"
    st = path.stat()
    path.write_text(path.read_text() + "# comment\n", encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert watcher.changed() is True
    assert watcher.changed() is False
    write_service(root, service_doc("unog-new", [http()]))
    assert watcher.changed() is True
    (root / "services" / "unog" / "unog-new.yaml").unlink()
    assert watcher.changed() is True
    (root / "notes.txt").write_text("not catalogue")
    assert watcher.changed() is False


async def test_apply_drops_state_of_probes_that_left(tmp_path):
    rig = build(tmp_path, offices=())
    runtime, monitor, catalogue = rig.runtime, rig.monitor, rig.catalogue
    monitor.apply(catalogue)
    assert ("unhq", "unhq-erp", "web") in runtime.observations.probes
    assert runtime.vantages == ("unhq", "unog", "unon", "unov")
    monitor.offices = ("unog",)
    monitor.apply(catalogue)
    assert ("unhq", "unhq-erp", "web") not in runtime.observations.probes
    assert runtime.vantages == ("unog",)
    await asyncio.sleep(0)


async def test_a_kept_loader_reloads_only_the_changed_file(tmp_path):
    """As the daemon wires it: the monitor's loader is the CatalogueLoader of the cold
    load, so a reload parses and validates only the file that changed."""
    from slamon.loader import CatalogueLoader

    rig = build(tmp_path)
    loader = CatalogueLoader(rig.root)
    rig.monitor.loader = loader
    first = loader.load()
    assert first.ok and loader.stats.files_checked == 3
    rig.monitor.apply(first.catalogue)
    write_service(rig.root, service_doc("unog-api", [http("https://api.unog.example/v3")]))
    assert await rig.monitor.reload("test") is True
    assert loader.stats.files_checked == 1 and loader.stats.files_reused == 2
    api = rig.runtime.catalogue.services["unog-api"]
    assert str(api.probes[0].url) == "https://api.unog.example/v3"
    assert rig.runtime.catalogue.services["unog-web"] is first.catalogue.services["unog-web"]
