"""The composition root: ``slamon run`` from start to exit, and nothing else.

Startup: load the catalogue (invalid: print every error, exit 1), build the runtime,
the probe context, the scheduler, the result sinks and the web server, then run.
While running: SIGHUP or a changed catalogue file reloads (a broken catalogue is
refused and the last good one keeps running). SIGTERM/SIGINT: stop scheduling, drain
the probes in flight within ``shutdown_timeout_seconds``, cancel and log what is
left, flush and close the sinks, close the probe context and the web server, exit 0.
A second signal forces a quick exit. Signal handlers only set flags.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import TextIO

from prometheus_client import CollectorRegistry

from exporters.exposition import metrics_renderer
from exporters.metrics import SlamonCollector
from slamon import __version__
from slamon.config import Config
from slamon.core.catalogue import Catalogue, ProbeTask
from slamon.core.results import ProbeOutcome
from slamon.loader import load_catalogue
from slamon.monitor import CatalogueWatcher, Monitor
from slamon.probes import ProbeContext, run_probe
from slamon.runtime import Runtime
from slamon.scheduler import Scheduler
from slamon.sinks import MemorySink, ResultSink
from slamon.web import WebServer, admin_exposure_problem, build_app

log = logging.getLogger("slamon.daemon")

FORCED_FLUSH_SECONDS = 0.5
MIN_FLUSH_SECONDS = 1.0


def build_sinks(config: Config) -> list[ResultSink]:
    """Where results go. The store's batched writer (``--db``) plugs in here."""
    return [MemorySink(per_probe=10)]


def load_or_report(config: Config, err: TextIO) -> Catalogue | None:
    """The catalogue to start with, or None after printing why there is none."""
    if not config.catalogue_dir.is_dir():
        print(f"slamon: catalogue directory {config.catalogue_dir} does not exist", file=err)
        return None
    report = load_catalogue(config.catalogue_dir)
    for diag in report.diagnostics:
        print(diag, file=err)
    if report.catalogue is None or report.errors:
        print(
            f"slamon: the catalogue in {config.catalogue_dir} has {len(report.errors)} "
            "error(s); not starting",
            file=err,
        )
        return None
    catalogue = report.catalogue
    unknown = [o for o in config.offices if o not in catalogue.offices]
    if unknown:
        print(
            f"slamon: unknown office(s) {', '.join(unknown)} "
            f"(the catalogue has {', '.join(sorted(catalogue.offices))})",
            file=err,
        )
        return None
    return catalogue


class Daemon:
    def __init__(self, config: Config, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.should_exit = False
        self.force_exit = False
        self.reload_requested = False
        self._wake: asyncio.Event | None = None

    # ------------------------------------------------------------------ signals

    def handle_exit(self, sig: int) -> None:
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True
        self._poke()

    def handle_reload(self) -> None:
        self.reload_requested = True
        self._poke()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # ------------------------------------------------------------------ life cycle

    async def serve(self, err: TextIO = sys.stderr) -> int:
        config = self.config
        problem = admin_exposure_problem(
            config.listen_host,
            admin_routes=False,
            token_set=bool(os.environ.get(config.admin_token_env)),
        )
        if problem:
            print(f"slamon: {problem}", file=err)
            return 1
        # the file snapshot comes first: an edit made while the catalogue loads is seen
        watcher = await asyncio.to_thread(CatalogueWatcher, config.catalogue_dir)
        catalogue = await asyncio.to_thread(load_or_report, config, err)
        if catalogue is None:
            return 1

        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        runtime = Runtime(started_timestamp_seconds=self.clock())
        sinks = build_sinks(config)
        monitor = Monitor(
            runtime, sinks, config.catalogue_dir, config.offices, config.shard, clock=self.clock
        )
        ctx = ProbeContext.create(max_body_bytes=config.max_body_bytes, env=os.environ)
        if inspect.isawaitable(ctx):
            ctx = await ctx

        async def run(task: ProbeTask) -> ProbeOutcome:
            return await run_probe(task.probe, ctx)

        scheduler = Scheduler(
            run,
            monitor.on_result,
            runtime.scheduler,
            max_in_flight=config.max_in_flight,
            max_in_flight_per_host=config.max_in_flight_per_host,
            clock=self.clock,
        )
        monitor.attach(scheduler)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(SlamonCollector(runtime))
        web = WebServer(
            build_app(runtime, metrics_renderer(registry)), config.listen_host, config.listen_port
        )
        try:
            host, port = await web.start()
        except OSError as exc:
            print(f"slamon: cannot listen on {config.listen}: {exc.strerror or exc}", file=err)
            await _close_quietly(ctx)
            return 1
        log.info("listening", extra={"address": f"{host}:{port}"})

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.handle_exit, sig)
        loop.add_signal_handler(signal.SIGHUP, self.handle_reload)
        try:
            tasks = monitor.apply(catalogue)
            scheduler.start()
            runtime.ready = True
            log.info(
                "daemon_started",
                extra={
                    "version": __version__,
                    "catalogue": str(config.catalogue_dir),
                    "services": len(catalogue.services),
                    "probes": len(tasks),
                    "vantages": runtime.vantages,
                    "shard": "/".join(map(str, config.shard)) if config.shard else "all",
                },
            )
            await self._main_loop(monitor, watcher)
        finally:
            runtime.ready = False
            try:
                await self._shutdown(scheduler, sinks, ctx, web)
            finally:
                # kept until here: a second signal during the drain forces the exit
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    loop.remove_signal_handler(sig)
        return 0

    async def _main_loop(self, monitor: Monitor, watcher: CatalogueWatcher) -> None:
        assert self._wake is not None
        poll = self.config.reload_poll_seconds
        while not self.should_exit:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=poll)
            except TimeoutError:
                pass
            self._wake.clear()
            if self.should_exit:
                break
            if self.reload_requested:
                self.reload_requested = False
                await asyncio.to_thread(watcher.changed)  # take in the files as they are now
                await monitor.reload("sighup")
            elif await asyncio.to_thread(watcher.changed):
                await monitor.reload("file_change")

    async def _shutdown(
        self, scheduler: Scheduler, sinks: list[ResultSink], ctx: object, web: WebServer
    ) -> None:
        loop = asyncio.get_running_loop()
        timeout = 0.0 if self.force_exit else self.config.shutdown_timeout_seconds
        deadline = loop.time() + timeout
        log.info("daemon_stopping", extra={"timeout_seconds": timeout})
        drain = loop.create_task(scheduler.drain(timeout))
        forced = loop.create_task(self._wait_forced())
        await asyncio.wait({drain, forced}, return_when=asyncio.FIRST_COMPLETED)
        if not drain.done():
            log.warning("shutdown_forced")
            scheduler.cancel_in_flight()
        forced.cancel()
        report = await drain
        if report.cancelled:
            log.warning(
                "probes_cancelled",
                extra={
                    "count": report.cancelled,
                    "probes": [f"{v}/{s}/{p}" for v, s, p in report.cancelled_keys[:20]],
                },
            )
        log.info("scheduler_drained", extra={"completed": report.completed, "cancelled": report.cancelled})
        flush_seconds = (
            FORCED_FLUSH_SECONDS
            if self.force_exit
            else max(MIN_FLUSH_SECONDS, deadline - loop.time())
        )
        for sink in sinks:
            try:
                await asyncio.wait_for(sink.flush(flush_seconds), timeout=flush_seconds + 0.5)
            except TimeoutError:
                log.error("sink_flush_timeout", extra={"sink": type(sink).__name__})
            except Exception:
                log.exception("sink_flush_failed", extra={"sink": type(sink).__name__})
            await _close_quietly(sink)
        await _close_quietly(ctx)
        await web.close()
        log.info("daemon_stopped")

    async def _wait_forced(self) -> None:
        assert self._wake is not None
        while not self.force_exit:
            self._wake.clear()
            await self._wake.wait()


async def _close_quietly(thing: object) -> None:
    close = getattr(thing, "close", None)
    if close is None:
        return
    try:
        result = close()
        if inspect.isawaitable(result):
            await asyncio.wait_for(result, timeout=5.0)
    except Exception:
        log.exception("close_failed", extra={"what": type(thing).__name__})
