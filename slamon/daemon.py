"""The composition root: ``slamon run`` from start to exit, and nothing else.

Startup: load the catalogue (invalid: print every error, exit 1), check the alert
targets, open the store (a bad URL or an unreachable database: exit 1), build the
runtime, the probe context, the scheduler, the result sinks (the store's batched
writer among them), the SLA evaluator, the alert notifier and the web server, then run.
While running: SIGHUP or a changed catalogue file reloads (a broken catalogue is
refused and the last good one keeps running); each good load is recorded in the
store as catalogue revisions. A database that goes away later is the writer's
business: results wait in its bounded buffer. Each part is entered into one
``AsyncExitStack`` as it is opened (``STARTUP_STEPS``), so stopping, and a failure at
any startup step, close what was opened in reverse order: stop the evaluator and
scheduling, drain the probes in flight within ``shutdown_timeout_seconds``, cancel and
log what is left, deliver pending alerts, close the web server and the probe context,
flush and close the sinks, close the store; exit 0 (a failed step: exit 1, or its
exception). A second signal forces a quick exit. Signal handlers only set flags.
Process-wide settings (collector, C heap) are made through ``slamon.tuning`` only.
With ``--shards N`` (PostgreSQL), ``slamon.leases`` decides which shards this daemon
probes and whether it evaluates; the leases are taken before scheduling starts and
released last, once the results are written.

Why one module above 500 lines: it is the one place where every part is built, wired
and closed in order; split, the order of opening and closing would be read in two places.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import TextIO

from exporters.alerting import AlertNotifier, AlertTarget, AlertTargetError, parse_alert_targets
from exporters.alerting.silences import MaintenanceSilencer
from exporters.exposition import ExpositionRegistry, fast_path_available, metrics_renderer
from exporters.fast_paths import FastPathCollector
from exporters.heartbeat_metrics import HeartbeatCollector
from exporters.metrics import SlamonCollector
from slamon import __version__, tuning
from slamon.config import Config
from slamon.core.alert_events import (
    BreachChange,
    dependency_cause,
    event_for_breach,
    event_for_transition,
)
from slamon.core.catalogue import Catalogue, ProbeTask
from slamon.core.observed import Transition
from slamon.core.results import ProbeOutcome
from slamon.core.state import State
from slamon.evaluator import SlaEvaluator
from slamon.heartbeats import Heartbeats
from slamon.leases import ShardLeases, default_identity, refusal
from slamon.loader import CatalogueLoader
from slamon.loader.diagnostics import Diagnostic, Severity
from slamon.loader.yaml_nodes import LIBYAML
from slamon.monitor import CatalogueWatcher, Monitor, select_tasks
from slamon.probes import ProbeContext, run_probe
from slamon.runtime import LeaseStats, Runtime
from slamon.scheduler import Scheduler
from slamon.sinks import MemorySink, ResultSink
from slamon.store import Store, StoreError
from slamon.store.writer import ResultWriter, catalogue_thresholds
from slamon.web import PortLimits, WebServer, admin_exposure_problem, build_app

log = logging.getLogger("slamon.daemon")

STARTUP_STEPS = ("store", "sinks", "probe_context", "web", "notifier", "catalogue", "scheduler", "evaluator")
"""What ``Daemon.serve`` opens, in order; each is closed, in reverse, on the way out."""

FORCED_FLUSH_SECONDS = 0.5
MIN_FLUSH_SECONDS = 1.0


def build_sinks(config: Config, runtime: Runtime, store: Store) -> list[ResultSink]:
    """Where results go: recent results in memory, and the store's batched writer."""
    writer = ResultWriter(
        store,
        runtime.store,
        catalogue_thresholds(lambda: runtime.catalogue),
        batch_size=config.write_batch_size,
        interval_seconds=config.write_interval_seconds,
        buffer_max_results=config.buffer_max_results,
        retention_days=config.retention_days,
    )
    writer.start()
    return [MemorySink(per_probe=10), writer]


def alert_targets(config: Config, catalogue: Catalogue) -> list[AlertTarget]:
    """The ``--alertmanager`` and ``--alert-webhook`` targets (raises ``AlertTargetError``)."""
    offices = list(catalogue.offices)
    return parse_alert_targets(config.alertmanagers, "alertmanager", offices) + parse_alert_targets(
        config.alert_webhooks, "webhook", offices
    )


def log_diagnostic(diag: Diagnostic) -> None:
    """One catalogue problem as one structured event (file, line, column, code, ...)."""
    level = logging.ERROR if diag.severity is Severity.error else logging.WARNING
    log.log(level, "catalogue_diagnostic", extra=diag.log_fields())


def cold_load(config: Config, err: TextIO, loader: CatalogueLoader) -> Catalogue | None:
    """The catalogue to start with, or None after printing why there is none.

    Loaded before the event loop serves anything, with the cyclic collector paused
    (``tuning.paused_collector``): the one time a whole catalogue is built at once."""
    if not config.catalogue_dir.is_dir():
        print(f"slamon: catalogue directory {config.catalogue_dir} does not exist", file=err)
        return None
    with tuning.paused_collector():
        report = loader.load()
    for diag in report.diagnostics:
        log_diagnostic(diag)
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
    def __init__(
        self,
        config: Config,
        clock: Callable[[], float] = time.time,
        on_startup_step: Callable[[str, object], None] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        # called with (step, part) after each of ``STARTUP_STEPS`` (tests inject failures)
        self.on_startup_step = on_startup_step
        self._deadline: float | None = None
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
        problem = problem or refusal(config.db_url, config.shards, config.shard)
        if problem:
            print(f"slamon: {problem}", file=err)
            return 1
        # freed bodies and load buffers go back to the system at once
        fast_paths = {"large_block_mapping": tuning.map_large_blocks()}
        loader = CatalogueLoader(config.catalogue_dir)  # kept: a reload re-checks changed files only
        # the file snapshot comes first: an edit made while the catalogue loads is seen
        watcher = await asyncio.to_thread(CatalogueWatcher, config.catalogue_dir)
        catalogue = await asyncio.to_thread(cold_load, config, err, loader)
        if catalogue is None:
            return 1
        try:
            targets = alert_targets(config, catalogue)
        except AlertTargetError as exc:
            print(f"slamon: {exc}", file=err)
            return 1

        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._deadline = None
        # every part opened below is closed in reverse order on the way out, whether
        # the daemon stops or a later startup step fails
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(log.info, "daemon_stopped")
            stack.callback(self._remove_signal_handlers, loop)  # kept until everything is closed
            try:
                store = await asyncio.to_thread(Store.open, config.db_url)
            except StoreError as exc:
                print(f"slamon: {exc}", file=err)
                return 1
            stack.push_async_callback(_close_quietly, store, True)
            self._opened("store", store)
            store.identity = default_identity()  # stored with each result: who probed
            held_leases: list[ShardLeases] = []  # released after the sinks are flushed
            stack.push_async_callback(self._release_leases, held_leases)

            runtime = Runtime(started_timestamp_seconds=self.clock())
            sinks = build_sinks(config, runtime, store)
            stack.push_async_callback(self._close_sinks, sinks)
            self._opened("sinks", sinks)

            monitor = Monitor(
                runtime, sinks, config.catalogue_dir, config.offices, config.shard,
                clock=self.clock, loader=loader,
            )  # fmt: skip
            notifier = AlertNotifier(targets) if targets else None
            leases = self._leases(config, monitor, runtime, store)
            if leases is not None:
                held_leases.append(leases)
            # maintenance windows as silences in the --alertmanager targets (docs/alerting.md)
            silencer = MaintenanceSilencer(targets)
            evaluator = SlaEvaluator(
                store,
                runtime,
                (lambda: {t.service.id for t in monitor.tasks}) if leases is None
                else (lambda: {t.service.id for t in select_tasks(runtime.catalogue, config.offices)}),
                vantages=config.offices or None,
                interval_seconds=config.sla_eval_interval_seconds,
                indicators_interval_seconds=config.indicators_interval_seconds,
                on_breach=self._breach_hook(notifier, runtime),
                on_exclusions=monitor.set_exclusions,
                clock=self.clock,
                may_evaluate=(lambda: leases.is_evaluator) if leases is not None else None,
            )
            monitor.on_transition = self._transition_hook(notifier, runtime)

            def on_catalogue(loaded: Catalogue) -> None:
                evaluator.wake()  # record the revision and measure under the new catalogue soon
                if notifier is not None:
                    notifier.retain_services(set(loaded.services))
                tuning.settle_heap()  # the new catalogue lives until the next: out of the gc's walks

            monitor.on_catalogue = on_catalogue
            heartbeats = Heartbeats(monitor.on_result, os.environ, clock=self.clock)
            monitor.heartbeats = heartbeats
            ctx = ProbeContext.create(max_body_bytes=config.max_body_bytes, env=os.environ)
            if inspect.isawaitable(ctx):
                ctx = await ctx
            stack.push_async_callback(_close_quietly, ctx)
            self._opened("probe_context", ctx)

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
            registry = ExpositionRegistry(auto_describe=False)
            registry.register(SlamonCollector(runtime, alert_stats=notifier.stats if notifier else None))
            registry.register(HeartbeatCollector(heartbeats, clock=self.clock))
            fast_paths["libyaml"] = LIBYAML
            fast_paths["exposition_cache"] = fast_path_available(registry)
            fast_paths["heap_trim"] = tuning.heap_trim_available()
            registry.register(FastPathCollector(fast_paths))
            web = WebServer(
                build_app(
                    runtime,
                    metrics_renderer(registry),
                    store=store,
                    reload=self.handle_reload,
                    admin_token=os.environ.get(config.admin_token_env) or None,
                    clock=self.clock,
                    after_metrics=tuning.release_free_heap,  # the scrape's temporaries, once sent
                    heartbeats=heartbeats,
                ),
                config.listen_host,
                config.listen_port,
                PortLimits(
                    max_connections=config.web_max_connections,
                    head_timeout_seconds=config.web_head_timeout_seconds,
                    keepalive_timeout_seconds=config.web_keepalive_timeout_seconds,
                ),
            )
            try:
                host, port = await web.start()
            except OSError as exc:
                await web.close()
                print(f"slamon: cannot listen on {config.listen}: {exc.strerror or exc}", file=err)
                return 1
            stack.push_async_callback(web.close)
            self._opened("web", web)
            log.info("listening", extra={"address": f"{host}:{port}"})
            if leases is not None:
                leases.address = advertised(host, port)
            self._log_fast_paths(fast_paths)

            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.handle_exit, sig)
            loop.add_signal_handler(signal.SIGHUP, self.handle_reload)

            if notifier is not None:
                await notifier.start()
                stack.push_async_callback(self._close_notifier, notifier)
            self._opened("notifier", notifier)
            monitor.apply(catalogue)
            self._opened("catalogue", catalogue)
            if leases is not None:
                leases.on_evaluator = lambda _holds: evaluator.wake()  # evaluate soon after a takeover
                await leases.first_tick(timeout_seconds=5.0)
                leases.start()
            scheduler.start()
            stack.push_async_callback(self._drain_scheduler, scheduler)
            self._opened("scheduler", scheduler)
            evaluator.start()
            stack.push_async_callback(self._close_evaluator, evaluator)
            self._opened("evaluator", evaluator)
            heartbeats.start()
            stack.push_async_callback(heartbeats.close)
            silencer.start(lambda: runtime.catalogue, lambda: {t.service.id for t in monitor.tasks})
            stack.push_async_callback(silencer.close)
            stack.callback(self._stopping, runtime)  # the first thing done on the way out
            runtime.ready = True
            log.info(
                "daemon_started",
                extra={
                    "version": __version__,
                    "catalogue": str(config.catalogue_dir),
                    "services": len(catalogue.services),
                    "probes": len(monitor.tasks),
                    "vantages": runtime.vantages,
                    "shard": "/".join(map(str, config.shard)) if config.shard else "all",
                    "shards": config.shards,
                },
            )
            await self._main_loop(monitor, watcher)
        return 0

    def _opened(self, step: str, part: object) -> None:
        """A startup step is done (``STARTUP_STEPS``): the ``on_startup_step`` hook sees it."""
        if self.on_startup_step is not None:
            self.on_startup_step(step, part)

    @staticmethod
    def _log_fast_paths(fast_paths: dict[str, bool]) -> None:
        off = sorted(name for name, on in fast_paths.items() if not on)
        if off:
            log.warning("fast_paths_off", extra={"off": off, "why": "see docs/operations.md"})
        else:
            log.info("fast_paths_on", extra={"paths": sorted(fast_paths)})

    # ------------------------------------------------------------------ shutdown steps
    # run by the exit stack in reverse order of opening: stop the evaluator, drain the
    # scheduler, close the notifier, the web server and the probe context, flush and
    # close the sinks, close the store

    def _stopping(self, runtime: Runtime) -> None:
        runtime.ready = False
        log.info("daemon_stopping", extra={"timeout_seconds": self._remaining()})

    def _remaining(self) -> float:
        """Seconds left of the shutdown deadline, fixed the first time it is asked for."""
        loop = asyncio.get_running_loop()
        if self._deadline is None:
            timeout = 0.0 if self.force_exit else self.config.shutdown_timeout_seconds
            self._deadline = loop.time() + timeout
        return max(0.0, self._deadline - loop.time())

    def _remove_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)

    async def _close_evaluator(self, evaluator: SlaEvaluator) -> None:
        timeout = self._remaining()
        await evaluator.close(timeout_seconds=min(2.0, timeout) if timeout else 0.1)

    async def _drain_scheduler(self, scheduler: Scheduler) -> None:
        loop = asyncio.get_running_loop()
        drain = loop.create_task(scheduler.drain(self._remaining()))
        forced = loop.create_task(self._wait_forced())
        await asyncio.wait({drain, forced}, return_when=asyncio.FIRST_COMPLETED)
        if not drain.done():
            log.warning("shutdown_forced")
            scheduler.cancel_in_flight()
        forced.cancel()
        await asyncio.gather(forced, return_exceptions=True)
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

    async def _close_notifier(self, notifier: AlertNotifier) -> None:
        try:
            await notifier.close(0.5 if self.force_exit else max(0.5, self._remaining()))
        except Exception:
            log.exception("close_failed", extra={"what": "AlertNotifier"})

    async def _close_sinks(self, sinks: list[ResultSink]) -> None:
        flush_seconds = FORCED_FLUSH_SECONDS if self.force_exit else max(MIN_FLUSH_SECONDS, self._remaining())
        for sink in sinks:
            try:
                await asyncio.wait_for(sink.flush(flush_seconds), timeout=flush_seconds + 0.5)
            except TimeoutError:
                log.error("sink_flush_timeout", extra={"sink": type(sink).__name__})
            except Exception:
                log.exception("sink_flush_failed", extra={"sink": type(sink).__name__})
            if isinstance(sink, ResultWriter):
                await sink.close(timeout_seconds=0.1)  # flushed above, within the bound
            else:
                await _close_quietly(sink)

    @staticmethod
    def _leases(config: Config, monitor: Monitor, runtime: Runtime, store: Store) -> ShardLeases | None:
        """Shard leases with ``--shards N``: the monitor probes only what is held."""
        if config.shards is None:
            return None
        runtime.leases = LeaseStats()
        monitor.held = (frozenset(), config.shards)  # nothing until a lease is held
        return ShardLeases(
            config.db_url,
            config.shards,
            config.offices,
            identity=store.identity or default_identity(),
            on_change=lambda held: monitor.set_held_shards(held, config.shards),
            stats=runtime.leases,
            interval_seconds=config.lease_check_seconds,
            query_timeout_seconds=config.lease_timeout_seconds,
            connect_timeout_seconds=config.lease_timeout_seconds,
            duplicates=store.duplicate_minutes,
        )

    @staticmethod
    async def _release_leases(held: list[ShardLeases]) -> None:
        """Leases go last: once this daemon's results are written, another may take over."""
        for leases in held:
            await leases.close()

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

    @staticmethod
    def _transition_hook(
        notifier: AlertNotifier | None, runtime: Runtime
    ) -> Callable[[Transition], None] | None:
        if notifier is None:
            return None

        causes: dict[tuple[str, str, str], str | None] = {}  # key -> caused_by sent when firing

        def hook(transition: Transition) -> None:
            catalogue = runtime.catalogue
            if catalogue is None:
                return
            vantage, service_id, _ = transition.key
            if transition.state is State.down:
                obs = runtime.observations
                cause = causes[transition.key] = dependency_cause(
                    catalogue, service_id, lambda dep: obs.service_state(vantage, dep) is State.down
                )
            else:
                cause = causes.pop(transition.key, None)
            event = event_for_transition(transition, catalogue, caused_by=cause)
            if event is not None:
                notifier.notify(event)

        return hook

    @staticmethod
    def _breach_hook(
        notifier: AlertNotifier | None, runtime: Runtime
    ) -> Callable[[BreachChange], None] | None:
        if notifier is None:
            return None

        def hook(change: BreachChange) -> None:
            if runtime.catalogue is not None:
                event = event_for_breach(change, runtime.catalogue)
                if event is not None:
                    notifier.notify(event)

        return hook

    async def _wait_forced(self) -> None:
        assert self._wake is not None
        while not self.force_exit:
            self._wake.clear()
            await self._wake.wait()


def advertised(host: str, port: int) -> str:
    """Where Prometheus finds this daemon: the host name when it listens everywhere."""
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _close_quietly(thing: object, in_thread: bool = False) -> None:
    """``thing.close()`` (awaited when it is a coroutine; in a worker thread when it
    blocks), logged and swallowed when it fails: the other parts still close."""
    close = getattr(thing, "close", None)
    if close is None:
        return
    try:
        result = await asyncio.to_thread(close) if in_thread else close()
        if inspect.isawaitable(result):
            await asyncio.wait_for(result, timeout=5.0)
    except Exception:
        log.exception("close_failed", extra={"what": type(thing).__name__})
