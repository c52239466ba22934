"""Scale (issue 7 item 3), as worker functions run in fresh subprocesses:

- ``load``: catalogue load and validation time of a synthetic catalogue;
- ``daemon_like``: a process wired like the daemon (loader, monitor, scheduler, real
  probes against the farm, result sink, collector) run briefly, then every probe
  given a result (a filled ``Runtime``): resident memory and ``/metrics`` render time;
- ``store_write``: results per second written through the store in batches, into
  SQLite or PostgreSQL.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import tempfile
import time
from pathlib import Path

from benchmarks.measure import (
    NotAvailable,
    make_profiler,
    median,
    pin_to_core,
    rss_bytes,
    worker_main,
    write_profile,
)
from benchmarks.synth import write_catalogue

RELOADS = 3


def load(services: int, core: int = 0, profile_to: str | None = None) -> dict:
    """Cold load as ``slamon run`` and ``slamon check`` do it (a ``CatalogueLoader``, the
    collector paused by ``tuning``), the same load as a plain library call (collector
    on), then reloads after one changed file each (the loader kept, as the daemon keeps
    it; the median of ``RELOADS``)."""
    from slamon import tuning
    from slamon.loader import CatalogueLoader, load_catalogue

    pinned = pin_to_core(core)
    profiler = make_profiler(profile_to)
    top = None
    with tempfile.TemporaryDirectory(prefix="slamon-bench-") as tmp:
        root = write_catalogue(Path(tmp) / "catalogue", services)
        time.sleep(1.1)  # files written well before the daemon starts, as in life
        loader = CatalogueLoader(root)
        if profiler:
            profiler.start()
        t0, c0 = time.perf_counter(), time.process_time()
        with tuning.paused_collector():
            report = loader.load()
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        if profiler:
            profiler.stop()
            top = write_profile(profiler, profile_to)
        t0, c0 = time.perf_counter(), time.process_time()
        plain = load_catalogue(root)
        plain_seconds, plain_cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        del plain
        files = sorted((root / "services").rglob("*.yaml"))
        reloads, reload_cpu, checked = [], [], []
        for i in range(RELOADS):
            edited = files[(i * 7919) % len(files)]
            edited.write_text(edited.read_text(encoding="utf-8") + f"# edit {i}\n", encoding="utf-8")
            t0, c0 = time.perf_counter(), time.process_time()
            again = loader.load()
            reloads.append(time.perf_counter() - t0)
            reload_cpu.append(time.process_time() - c0)
            checked.append(loader.stats.files_checked)
            assert again.ok
    loaded = len(report.catalogue.services) if report.catalogue is not None else 0
    return {
        "services": services,
        "load_seconds": seconds,
        "load_gc_on_seconds": plain_seconds,
        "reload_seconds": median(reloads),
        # CPU time of the same: what the wall time is on an idle core, and steadier than
        # wall time on a shared machine (the loader runs on one thread)
        "load_cpu_seconds": cpu_seconds,
        "load_gc_on_cpu_seconds": plain_cpu_seconds,
        "reload_cpu_seconds": median(reload_cpu),
        "reload_files_checked": max(checked),
        "loaded_services": loaded,
        "errors": len(report.errors),
        "pinned": pinned,
        "profile": profile_to if profiler else None,
        "profile_top": top if profiler else None,
    }


def synthetic_outcome(i: int):
    from slamon.core.results import ProbeOutcome, Reason

    ok = i % 13 != 0
    return ProbeOutcome(
        success=ok,
        duration_seconds=0.02 + (i % 50) / 1000,
        reason=None if ok else Reason.status,
        status_code=200 if ok else 500,
        phases={"resolve": 0.0, "connect": 0.0004, "processing": 0.01, "transfer": 0.0002},
        http_version="1.1",
        ip_protocol=4,
    )


def synthetic_result(task, i: int):
    from slamon.core.results import ProbeResult

    return ProbeResult(task.vantage, task.service.id, task.probe.id, task.probe.kind,
                       time.time(), synthetic_outcome(i))  # fmt: skip


def daemon_like(
    services: int,
    port: int,
    run_seconds: float = 5.0,
    core: int = 0,
    renders: int = 3,
    profile_to: str | None = None,
) -> dict:
    pinned = pin_to_core(core)
    import uvloop

    uvloop.install()
    with tempfile.TemporaryDirectory(prefix="slamon-bench-") as tmp:
        out = asyncio.run(_daemon_like(Path(tmp), services, port, run_seconds, renders, profile_to))
    return out | {"pinned": pinned}


async def _daemon_like(
    tmp: Path, services: int, port: int, run_seconds: float, renders: int, profile_to: str | None
) -> dict:

    from benchmarks.probe_cost import _probe_function, _sink
    from exporters.exposition import (  # at once: the render's own time, not the scrape's
        ExpositionRegistry,
        render,
    )
    from exporters.metrics import SlamonCollector
    from slamon import tuning
    from slamon.loader import load_catalogue
    from slamon.monitor import Monitor
    from slamon.runtime import Runtime
    from slamon.scheduler import Scheduler

    tuning.map_large_blocks()  # the runtime policy of the daemon (Daemon.serve)
    root = write_catalogue(tmp / "catalogue", services, f"http://127.0.0.1:{port}")
    rss_start = rss_bytes()
    with tuning.paused_collector():
        report = load_catalogue(root)
    if report.catalogue is None:
        raise RuntimeError("synthetic catalogue invalid")
    runtime = Runtime(started_timestamp_seconds=time.time())
    holder: dict = {}
    try:
        run, opener, probe_desc = _probe_function("slamon", holder)
    except NotAvailable:
        run, opener, probe_desc = _probe_function("bare", holder)
    await opener()
    sink, store, sink_desc = _sink(tmp, runtime)
    monitor = Monitor(runtime, [sink], root)
    scheduler = Scheduler(run, monitor.on_result, runtime.scheduler)
    monitor.attach(scheduler)
    registry = ExpositionRegistry(auto_describe=False)
    registry.register(SlamonCollector(runtime))
    tasks = monitor.apply(report.catalogue)
    tuning.settle_heap()
    scheduler.start()
    try:
        await asyncio.sleep(run_seconds)
        ran = runtime.scheduler.runs_total
        # a filled Runtime: every probe has a result, as after one full interval
        for i, task in enumerate(tasks):
            monitor.on_result(synthetic_result(task, i))
        times = []
        size = series = 0
        profiler = make_profiler(profile_to)  # the renders only
        if profiler is not None:
            profiler.start()
        for _ in range(renders):
            t0 = time.perf_counter()
            body, _ = render(registry, "text/plain")
            times.append(time.perf_counter() - t0)
            size = len(body)
            series = body.count(b"\n") - body.count(b"\n#")
            # the body is the scrape's, sent and dropped by the web adapter: holding
            # it here (some 23 MB at 10,000 services) would count it as the daemon's
            del body
            tuning.release_free_heap()  # as the daemon does once a response is sent
        top = None
        if profiler is not None:
            profiler.stop()
            top = write_profile(profiler, profile_to)
        gc.collect()
        rss = rss_bytes()
    finally:
        await scheduler.drain(2.0)
        await sink.flush(5.0)
        close = sink.close()
        if inspect.isawaitable(close):
            await close
        if store is not None:
            store.close()
        await holder["ctx"].close()
    return {
        "services": services,
        "probes": len(tasks),
        "runs_during_run": ran,
        "rss_bytes": rss,
        "rss_before_load_bytes": rss_start,
        "metrics_render_first_ms": times[0] * 1000,
        "metrics_render_ms": median(times[1:] or times) * 1000,
        "metrics_bytes": size,
        "metrics_series": series,
        "probe_impl": probe_desc,
        "sink_impl": sink_desc,
        "profile": profile_to if top is not None else None,
        "profile_top": top,
    }


def _pg_database(url: str):
    """A fresh database on the server of ``url`` for this run: (its url, dropper)."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = f"slamon_bench_{os.getpid()}"
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return parsed.set(database=name).render_as_string(hide_password=False), drop


def store_write(
    backend: str, services: int, results: int = 50_000, batch_size: int = 500, core: int = 0
) -> dict:
    """Results per second through ``Store.write_results`` in batches (as the writer does)."""
    try:
        from slamon.store import Store
    except ImportError as exc:
        raise NotAvailable(f"slamon.store: {exc}") from None
    from slamon.core.results import ProbeResult

    pinned = pin_to_core(core)
    offices = ("unhq", "unog", "unov", "unon")
    keys = [(offices[n % 4], f"{offices[n % 4]}-bench-{n:05d}") for n in range(services)]
    with tempfile.TemporaryDirectory(prefix="slamon-bench-") as tmp:
        drop = None
        if backend == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        else:
            pg = os.environ.get("SLAMON_TEST_PG_URL")
            if not pg:
                raise NotAvailable("SLAMON_TEST_PG_URL is not set")
            url, drop = _pg_database(pg)
        store = Store.open(url)
        try:
            batch = []
            t_start = time.time() - 3600
            written = 0
            elapsed = 0.0
            for i in range(results):
                vantage, service_id = keys[i % len(keys)]
                outcome = synthetic_outcome(i)
                # spread over the last hour, as results of one interval after another
                batch.append(ProbeResult(vantage, service_id, "health", "http", t_start + i * 0.07, outcome))
                if len(batch) == batch_size or i == results - 1:
                    t0 = time.perf_counter()
                    written += store.write_results(batch)
                    elapsed += time.perf_counter() - t0
                    batch = []
            # work the writes deferred (rollup deltas not yet merged into the day
            # rollups) is part of the cost of writing: merge it within the time measured
            t0 = time.perf_counter()
            store.merge_pending_rollups()
            elapsed += time.perf_counter() - t0
        finally:
            store.close()
            if drop is not None:
                drop()
    return {
        "backend": backend,
        "services": services,
        "results": written,
        "batch_size": batch_size,
        "results_per_second": written / elapsed if elapsed else None,
        "pinned": pinned,
    }


if __name__ == "__main__":
    raise SystemExit(
        worker_main({"load": load, "daemon_like": daemon_like, "store_write": store_write})
    )
