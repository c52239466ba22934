"""Probe throughput and CPU cost on one core (issue 7 item 2), as worker functions.

Run by ``benchmarks.run`` in fresh subprocesses, each pinned to one core:

- ``bare``: the reference, a bare aiohttp GET with a fresh connection per probe,
  ``concurrency`` probes in flight, on uvloop or the default loop;
- ``pipeline``: slamon's own path, scheduler -> probe -> ``Monitor.on_result``
  (observations, state) -> result sink (the store's writer when the store is in this
  build) and a ``/metrics`` render every few seconds, as the daemon wires them.
  ``probe`` chooses the probe function: ``slamon`` (``slamon.probes.run_probe``),
  ``bare`` (the bare aiohttp GET, a stand-in while the probes package is missing),
  ``slamon-python`` (``run_probe`` with the pure-Python HTTP response parser, the
  fallback when httptools is missing), or ``null`` (answers at once: the cost of
  everything but the probe).

Saturation: more probes are due than one core can run, so the rate measured is the
most the pipeline sustains. Lag: the scheduler's own start lag (start minus due) at
a set rate.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import tempfile
import time
from pathlib import Path

from benchmarks.measure import (
    NotAvailable,
    Window,
    make_profiler,
    percentile,
    pin_to_core,
    worker_main,
    write_profile,
)

PROBE_TIMEOUT_SECONDS = 5.0


def _install_loop(loop: str) -> None:
    if loop == "uvloop":
        import uvloop

        uvloop.install()


# ---------------------------------------------------------------- bare reference


def bare(
    port: int,
    seconds: float = 5.0,
    warmup_seconds: float = 1.0,
    concurrency: int = 100,
    loop: str = "uvloop",
    core: int = 0,
    targets: int = 1000,
) -> dict:
    pinned = pin_to_core(core)
    _install_loop(loop)
    return asyncio.run(_bare(port, seconds, warmup_seconds, concurrency, targets)) | {
        "pinned": pinned,
        "loop": loop,
    }


async def _bare(port: int, seconds: float, warmup: float, concurrency: int, targets: int) -> dict:
    import aiohttp

    done = ok = 0
    stop = False
    connector = aiohttp.TCPConnector(force_close=True, limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker(i: int) -> None:
            nonlocal done, ok
            n = i
            while not stop:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/t/{n % targets}") as resp:
                        await resp.read()
                        ok += resp.status == 200
                except (aiohttp.ClientError, TimeoutError):
                    pass
                done += 1
                n += concurrency

        tasks = [asyncio.create_task(worker(i)) for i in range(concurrency)]
        await asyncio.sleep(warmup)
        window = Window()
        window.start(done, ok)
        await asyncio.sleep(seconds)
        figures = window.stop(done, ok)
        stop = True
        await asyncio.wait(tasks, timeout=PROBE_TIMEOUT_SECONDS + 1)
    return figures


# ---------------------------------------------------------------- the pipeline


def pipeline(
    port: int,
    services: int,
    interval_ms: int,
    seconds: float = 5.0,
    warmup_seconds: float = 1.5,
    probe: str = "slamon",
    loop: str = "uvloop",
    core: int = 0,
    max_in_flight: int = 100,
    scrape_every_seconds: float = 5.0,
    record_lag: bool = False,
    profile_to: str | None = None,
    sink: str = "store",
) -> dict:
    pinned = pin_to_core(core)
    _install_loop(loop)
    with tempfile.TemporaryDirectory(prefix="slamon-bench-") as tmp:
        result = asyncio.run(
            _pipeline(
                Path(tmp), port, services, interval_ms, seconds, warmup_seconds, probe,
                max_in_flight, scrape_every_seconds, record_lag, profile_to, sink,
            )
        )  # fmt: skip
    return result | {"pinned": pinned, "loop": loop, "probe": probe}


def _probe_function(kind: str, ctx_holder: dict):
    """(run function, closer, description) for the chosen probe implementation."""
    from slamon.core.results import ProbeOutcome, Reason

    if kind == "null":

        async def run(task):
            return ProbeOutcome(success=True, duration_seconds=0.0, status_code=200)

        return run, None, "null probe (answers at once)"
    if kind in ("slamon", "slamon-python"):
        try:
            from slamon.probes import ProbeContext, run_probe
        except ImportError as exc:
            raise NotAvailable(f"slamon.probes: {exc}") from None

        async def run(task):
            return await run_probe(task.probe, ctx_holder["ctx"])

        async def open_ctx():
            parser = {"http_parser": "python"} if kind == "slamon-python" else {}
            ctx = ProbeContext.create(max_body_bytes=1 << 20, env=os.environ, **parser)
            if inspect.isawaitable(ctx):
                ctx = await ctx
            ctx_holder["ctx"] = ctx
            return ctx

        suffix = " (pure-Python parser)" if kind == "slamon-python" else ""
        return run, open_ctx, f"slamon.probes.run_probe{suffix}"
    import aiohttp

    async def open_session():
        connector = aiohttp.TCPConnector(force_close=True, limit=0)
        ctx_holder["ctx"] = aiohttp.ClientSession(connector=connector)
        return ctx_holder["ctx"]

    async def run(task):
        session = ctx_holder["ctx"]
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        try:
            async with session.get(
                task.probe.url, timeout=aiohttp.ClientTimeout(total=float(task.probe.timeout))
            ) as resp:
                await resp.read()
                status = resp.status
        except TimeoutError:
            return ProbeOutcome(False, loop.time() - t0, reason=Reason.timeout)
        except aiohttp.ClientError:
            return ProbeOutcome(False, loop.time() - t0, reason=Reason.error)
        return ProbeOutcome(status == 200, loop.time() - t0, status_code=status,
                            reason=None if status == 200 else Reason.status)  # fmt: skip

    return run, open_session, "bare aiohttp GET (stand-in for slamon.probes)"


def _sink(tmp: Path, runtime, kind: str = "store"):
    """The store's writer on a SQLite file when the store is in this build, else memory
    (``kind="memory"`` asks for memory anyway, to leave the store's cost out)."""
    from slamon.sinks import MemorySink

    if kind == "memory":
        return MemorySink(per_probe=10), None, "MemorySink (asked for)"
    try:
        from slamon.store import Store
        from slamon.store.writer import ResultWriter, catalogue_thresholds
    except ImportError:
        return MemorySink(per_probe=10), None, "MemorySink (slamon.store not in this build)"
    store = Store.open(f"sqlite:///{tmp / 'bench.db'}")
    writer = ResultWriter(store, runtime.store, catalogue_thresholds(lambda: runtime.catalogue))
    writer.start()
    return writer, store, "slamon.store ResultWriter on SQLite"


async def _pipeline(
    tmp: Path,
    port: int,
    services: int,
    interval_ms: int,
    seconds: float,
    warmup: float,
    probe: str,
    max_in_flight: int,
    scrape_every: float,
    record_lag: bool,
    profile_to: str | None,
    sink_kind: str = "store",
) -> dict:

    from benchmarks.synth import write_catalogue
    from exporters.exposition import ExpositionRegistry, metrics_renderer
    from exporters.metrics import SlamonCollector
    from slamon.loader import load_catalogue
    from slamon.monitor import Monitor
    from slamon.runtime import Runtime, SchedulerStats
    from slamon.scheduler import Scheduler

    timeout_ms = max(1, min(int(PROBE_TIMEOUT_SECONDS * 1000), interval_ms - 1))
    root = write_catalogue(
        tmp / "catalogue", services, f"http://127.0.0.1:{port}",
        interval=f"{interval_ms}ms", timeout=f"{timeout_ms}ms",
    )  # fmt: skip
    report = load_catalogue(root)
    if report.catalogue is None or report.errors:
        raise RuntimeError(f"synthetic catalogue invalid: {report.errors[:3]}")

    lags: list[float] = []

    class LagStats(SchedulerStats):
        def observe_lag(self, lag_seconds: float) -> None:
            super().observe_lag(lag_seconds)
            if record_lag:
                lags.append(lag_seconds)

    runtime = Runtime(scheduler=LagStats(), started_timestamp_seconds=time.time())
    holder: dict = {}
    run, opener, probe_desc = _probe_function(probe, holder)
    if opener is not None:
        await opener()
    sink, store, sink_desc = _sink(tmp, runtime, sink_kind)
    monitor = Monitor(runtime, [sink], root)
    counts = {"results": 0, "ok": 0}

    def on_result(result) -> None:
        counts["results"] += 1
        counts["ok"] += result.outcome.success
        monitor.on_result(result)

    scheduler = Scheduler(
        run, on_result, runtime.scheduler,
        max_in_flight=max_in_flight, max_in_flight_per_host=max_in_flight,
    )  # fmt: skip
    monitor.attach(scheduler)
    registry = ExpositionRegistry(auto_describe=False)
    registry.register(SlamonCollector(runtime))
    render = metrics_renderer(registry)
    renders: list[float] = []

    async def scraper() -> None:
        while True:
            await asyncio.sleep(scrape_every)
            t0 = time.perf_counter()
            await render("text/plain")
            renders.append(time.perf_counter() - t0)

    monitor.apply(report.catalogue)
    scheduler.start()
    scrapes = asyncio.create_task(scraper())
    profiler = None
    top = None
    try:
        await asyncio.sleep(warmup)
        profiler = make_profiler(profile_to)
        if profiler is not None:
            profiler.start()
        lags.clear()
        window = Window()
        window.start(counts["results"], counts["ok"])
        overruns0 = runtime.scheduler.overruns_total
        await asyncio.sleep(seconds)
        figures = window.stop(counts["results"], counts["ok"])
        overruns1 = runtime.scheduler.overruns_total
        if profiler is not None:
            profiler.stop()
            top = write_profile(profiler, profile_to)
    finally:
        scrapes.cancel()
        await scheduler.drain(2.0)
        flushed = await sink.flush(5.0)
        close = sink.close()
        if inspect.isawaitable(close):
            await close
        if store is not None:
            store.close()
        ctx = holder.get("ctx")
        if ctx is not None:
            await ctx.close()
    out = {
        "services": services,
        "interval_ms": interval_ms,
        "demand_per_second": services * 1000 / interval_ms,
        **figures,
        "overruns": overruns1 - overruns0,
        "probe_impl": probe_desc,
        "sink_impl": sink_desc,
        "flushed": flushed is not False,
        # the longest scrape, wall time: render_async lets the loop run probes between its steps
        "metrics_render_ms": max(renders) * 1000 if renders else None,
        "profile": profile_to if profiler is not None else None,
        "profile_top": top,
    }
    if record_lag and lags:
        out["lag_p50_ms"] = percentile(lags, 50) * 1000
        out["lag_p99_ms"] = percentile(lags, 99) * 1000
        out["lag_max_ms"] = max(lags) * 1000
    return out


if __name__ == "__main__":
    raise SystemExit(worker_main({"bare": bare, "pipeline": pipeline}))
