"""The composition root: ``slamon run`` from start to exit, and nothing else.

Startup: load the catalogue (invalid: print every error, exit 1), check the alert
targets, open the store (a bad URL or an unreachable database: exit 1), build the
runtime, the probe context, the scheduler, the result sinks (the store's batched
writer among them), the SLA evaluator, the alert notifier and the web server, then run.
While running: SIGHUP or a changed catalogue file reloads (a broken catalogue is
refused and the last good one keeps running); each good load is recorded in the
store as catalogue revisions. A database that goes away later is the writer's
business: results wait in its bounded buffer. SIGTERM/SIGINT: stop the evaluator and
scheduling, drain the probes in flight within ``shutdown_timeout_seconds``, cancel and
log what is left, flush and close the sinks, deliver pending alerts, close the store,
the probe context and the web server, exit 0. A second signal forces a quick exit.
Signal handlers only set flags. With ``--shards N`` (PostgreSQL), ``slamon.leases``
decides which shards this daemon probes and whether it evaluates; the leases are
taken before scheduling starts and released last, once the results are written.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import TextIO

from prometheus_client import CollectorRegistry

from exporters.alerting import AlertNotifier, AlertTarget, AlertTargetError, parse_alert_targets
from exporters.exposition import metrics_renderer
from exporters.metrics import SlamonCollector
from slamon import __version__
from slamon.config import Config
from slamon.core.alert_events import BreachChange, event_for_breach, event_for_transition
from slamon.core.catalogue import Catalogue, ProbeTask
from slamon.core.observed import Transition
from slamon.core.results import ProbeOutcome
from slamon.evaluator import SlaEvaluator
from slamon.heap import map_large_blocks
from slamon.leases import ShardLeases, default_identity, refusal
from slamon.loader import load_catalogue
from slamon.loader.diagnostics import Diagnostic, Severity
from slamon.monitor import CatalogueWatcher, Monitor, select_tasks
from slamon.probes import ProbeContext, run_probe
from slamon.runtime import LeaseStats, Runtime
from slamon.scheduler import Scheduler
from slamon.sinks import MemorySink, ResultSink
from slamon.store import Store, StoreError
from slamon.store.writer import ResultWriter, catalogue_thresholds
from slamon.web import PortLimits, WebServer, admin_exposure_problem, build_app

log = logging.getLogger("slamon.daemon")

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


def load_or_report(config: Config, err: TextIO) -> Catalogue | None:
    """The catalogue to start with, or None after printing why there is none."""
    if not config.catalogue_dir.is_dir():
        print(f"slamon: catalogue directory {config.catalogue_dir} does not exist", file=err)
        return None
    report = load_catalogue(config.catalogue_dir)
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
        problem = problem or refusal(config.db_url, config.shards, config.shard)
        if problem:
            print(f"slamon: {problem}", file=err)
            return 1
        map_large_blocks()  # freed bodies and load buffers go back to the system at once
        # the file snapshot comes first: an edit made while the catalogue loads is seen
        watcher = await asyncio.to_thread(CatalogueWatcher, config.catalogue_dir)
        catalogue = await asyncio.to_thread(load_or_report, config, err)
        if catalogue is None:
            return 1
        try:
            targets = alert_targets(config, catalogue)
        except AlertTargetError as exc:
            print(f"slamon: {exc}", file=err)
            return 1
        try:
            store = await asyncio.to_thread(Store.open, config.db_url)
        except StoreError as exc:
            print(f"slamon: {exc}", file=err)
            return 1

        store.identity = default_identity()  # stored with each result: who probed
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        runtime = Runtime(started_timestamp_seconds=self.clock())
        sinks = build_sinks(config, runtime, store)
        monitor = Monitor(
            runtime, sinks, config.catalogue_dir, config.offices, config.shard, clock=self.clock
        )
        notifier = AlertNotifier(targets) if targets else None
        leases = self._leases(config, monitor, runtime, store)
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

        monitor.on_catalogue = on_catalogue
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
        registry.register(SlamonCollector(runtime, alert_stats=notifier.stats if notifier else None))
        web = WebServer(
            build_app(
                runtime,
                metrics_renderer(registry),
                store=store,
                reload=self.handle_reload,
                admin_token=os.environ.get(config.admin_token_env) or None,
                clock=self.clock,
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
            print(f"slamon: cannot listen on {config.listen}: {exc.strerror or exc}", file=err)
            for sink in sinks:
                await _close_quietly(sink)
            await _close_quietly(ctx)
            await asyncio.to_thread(store.close)
            return 1
        log.info("listening", extra={"address": f"{host}:{port}"})
        if leases is not None:
            leases.address = advertised(host, port)

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.handle_exit, sig)
        loop.add_signal_handler(signal.SIGHUP, self.handle_reload)
        try:
            if notifier is not None:
                await notifier.start()
            monitor.apply(catalogue)
            if leases is not None:
                leases.on_evaluator = lambda _holds: evaluator.wake()  # evaluate soon after a takeover
                await leases.first_tick(timeout_seconds=5.0)
                leases.start()
            evaluator.start()
            scheduler.start()
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
        finally:
            runtime.ready = False
            try:
                await self._shutdown(scheduler, sinks, ctx, web, evaluator, notifier, store)
            finally:
                if leases is not None:  # released once this daemon's results are written
                    await leases.close()
                # kept until here: a second signal during the drain forces the exit
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    loop.remove_signal_handler(sig)
        return 0

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

        def hook(transition: Transition) -> None:
            if runtime.catalogue is not None:
                event = event_for_transition(transition, runtime.catalogue)
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

    async def _shutdown(
        self,
        scheduler: Scheduler,
        sinks: list[ResultSink],
        ctx: object,
        web: WebServer,
        evaluator: SlaEvaluator,
        notifier: AlertNotifier | None,
        store: Store,
    ) -> None:
        loop = asyncio.get_running_loop()
        timeout = 0.0 if self.force_exit else self.config.shutdown_timeout_seconds
        deadline = loop.time() + timeout
        log.info("daemon_stopping", extra={"timeout_seconds": timeout})
        await evaluator.close(timeout_seconds=min(2.0, timeout) if timeout else 0.1)
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
            if isinstance(sink, ResultWriter):
                await sink.close(timeout_seconds=0.1)  # flushed above, within the bound
            else:
                await _close_quietly(sink)
        if notifier is not None:
            try:
                await notifier.close(max(0.5, deadline - loop.time()) if not self.force_exit else 0.5)
            except Exception:
                log.exception("close_failed", extra={"what": "AlertNotifier"})
        await asyncio.to_thread(store.close)
        await _close_quietly(ctx)
        await web.close()
        log.info("daemon_stopped")

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
