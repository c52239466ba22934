"""What the daemon does with a catalogue and with each result, apart from I/O wiring.

``Monitor`` turns a loaded catalogue into the scheduled probe set (restricted to this
daemon's offices and shard), reloads the catalogue when asked (refusing a broken one
and keeping the last good one running), and takes every result: observations
(state, counters), a log line on each state change, then the result sinks.
``CatalogueWatcher`` notices file changes by comparing modification times.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from slamon.core.catalogue import Catalogue, ProbeTask, shard_of
from slamon.core.observed import Transition
from slamon.core.results import ProbeResult, Reason
from slamon.core.sla.in_scope import InScope, ScopedExclusion
from slamon.heartbeats import Heartbeats
from slamon.loader import LoadReport, load_catalogue
from slamon.runtime import MAX_KEPT_ERRORS, Runtime
from slamon.scheduler import Scheduler
from slamon.sinks import ResultSink

log = logging.getLogger("slamon.monitor")

MAX_LOGGED_DIAGNOSTICS = 100
CATALOGUE_SUFFIXES = (".yaml", ".yml")
LOCAL_FAULT_LOG_SECONDS = 60.0  # at most one log line per minute while the daemon is short of resources


def select_tasks(
    catalogue: Catalogue,
    offices: Sequence[str] = (),
    shard: tuple[int, int] | None = None,
    held: tuple[frozenset[int], int] | None = None,
) -> list[ProbeTask]:
    """The probe runs this daemon owns: at its offices (all when none given), in its
    static shard, or in the shards it holds leases on (``held``: shards and their count)."""
    tasks = catalogue.probe_tasks(vantages=list(offices) or None, shard=shard)
    if held is not None:
        shards, count = held
        tasks = [t for t in tasks if shard_of(t.service.id, count) in shards]
    return tasks


def parse_shard(text: str) -> tuple[int, int]:
    """``"1/3"`` -> ``(1, 3)``; shards count from 0."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = -1
    if not sep or n < 1 or not 0 <= i < n:
        raise ValueError(f"a shard is I/N with 0 <= I < N, e.g. 0/3 (found {text!r})")
    return i, n


class CatalogueWatcher:
    """Modification times and sizes of the catalogue's YAML files; cheap to rescan."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._seen = self.scan()

    def scan(self) -> dict[str, tuple[int, int]]:
        found: dict[str, tuple[int, int]] = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "schema"]
            for name in filenames:
                if name.endswith(CATALOGUE_SUFFIXES):
                    path = os.path.join(dirpath, name)
                    try:
                        st = os.stat(path)
                    except OSError:
                        continue
                    found[path] = (st.st_mtime_ns, st.st_size)
        return found

    def changed(self) -> bool:
        """True when a file was added, removed or modified since the last call."""
        now = self.scan()
        if now == self._seen:
            return False
        self._seen = now
        return True


class Monitor:
    def __init__(
        self,
        runtime: Runtime,
        sinks: Iterable[ResultSink],
        catalogue_dir: Path,
        offices: Sequence[str] = (),
        shard: tuple[int, int] | None = None,
        clock: Callable[[], float] = time.time,
        loader: Callable[[Path], LoadReport] = load_catalogue,
    ) -> None:
        self.runtime = runtime
        self.sinks = list(sinks)
        self.catalogue_dir = Path(catalogue_dir)
        self.offices = tuple(offices)
        self.shard = shard
        self.held: tuple[frozenset[int], int] | None = None  # leased shards (set_held_shards)
        self.clock = clock
        self.loader = loader
        self.scheduler: Scheduler | None = None
        self.tasks: list[ProbeTask] = []
        # SLI counting: which results fall in eligible time (rebuilt per catalogue load
        # and when the recorded exclusions change)
        self.exclusions: tuple[ScopedExclusion, ...] = ()
        self.in_scope: InScope | None = None
        # hooks set by the daemon: a good catalogue load, a probe state change
        self.on_catalogue: Callable[[Catalogue], None] | None = None
        self.on_transition: Callable[[Transition], None] | None = None
        self._local_fault_logged_at = -LOCAL_FAULT_LOG_SECONDS
        self._local_faults_unlogged = 0
        # heartbeat (push) probes: ``slamon.heartbeats.Heartbeats``, set by the daemon
        self.heartbeats: Heartbeats | None = None

    def attach(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    # ------------------------------------------------------------------ catalogue

    def unknown_offices(self, catalogue: Catalogue) -> list[str]:
        return [o for o in self.offices if o not in catalogue.offices]

    def apply(self, catalogue: Catalogue) -> list[ProbeTask]:
        """Run ``catalogue`` from now on: the scheduled set, thresholds, and stats."""
        self.runtime.catalogue = catalogue
        self.runtime.vantages = self.offices or tuple(sorted(catalogue.offices))
        stats = self.runtime.catalogue_stats
        stats.load_success = True
        stats.loaded_timestamp_seconds = self.clock()
        stats.last_errors = ()
        self.in_scope = InScope(catalogue, self.exclusions)
        tasks = self._run_tasks(catalogue)
        if self.on_catalogue is not None:
            self.on_catalogue(catalogue)
        return tasks

    def set_held_shards(self, shards: frozenset[int], count: int) -> list[ProbeTask]:
        """The leased shards changed: probe exactly the services in ``shards`` of ``count``
        from now on (probes that stay keep their tick schedule)."""
        self.held = (frozenset(shards), count)
        catalogue = self.runtime.catalogue
        return self._run_tasks(catalogue) if catalogue is not None else []

    def _run_tasks(self, catalogue: Catalogue) -> list[ProbeTask]:
        """The scheduled set for ``catalogue`` under the offices, shard and leases now."""
        tasks = select_tasks(catalogue, self.offices, self.shard, self.held)
        obs = self.runtime.observations
        for task in tasks:
            obs.configure(task.key, task.probe.failure_threshold, task.probe.success_threshold)
        keys = {t.key for t in tasks}
        obs.retain(keys)
        for sink in self.sinks:
            retain = getattr(sink, "retain", None)
            if retain is not None:
                retain(keys)
        self.tasks = tasks
        if self.scheduler is not None:
            # heartbeats are received, not run: the daemon's Heartbeats records them
            self.scheduler.update([t for t in tasks if t.probe.kind != "heartbeat"])
        if self.heartbeats is not None:
            self.heartbeats.update(catalogue, tasks)
        return tasks

    def set_exclusions(self, exclusions: Iterable[ScopedExclusion]) -> None:
        """Recorded exclusions changed: count in-scope events against the new set."""
        self.exclusions = tuple(exclusions)
        if self.runtime.catalogue is not None:
            self.in_scope = InScope(self.runtime.catalogue, self.exclusions)

    async def reload(self, trigger: str) -> bool:
        """Load the catalogue again; run it when valid, else keep the running one."""
        stats = self.runtime.catalogue_stats
        try:
            report = await asyncio.to_thread(self.loader, self.catalogue_dir)
        except Exception:
            log.exception("catalogue_reload_failed", extra={"trigger": trigger})
            stats.load_success = False
            stats.last_errors = ("the catalogue could not be read (a fault of the loader: see the daemon log)",)
            stats.last_failure_timestamp_seconds = self.clock()
            stats.reloads_total["failure"] += 1
            return False
        stats.errors = len(report.errors)
        stats.warnings = len(report.warnings)
        if report.catalogue is None or report.errors:
            for diag in report.errors[:MAX_LOGGED_DIAGNOSTICS]:
                log.error("catalogue_error", extra=diag.log_fields())
            stats.load_success = False
            stats.last_errors = tuple(str(d) for d in report.errors[:MAX_KEPT_ERRORS]) or ("no catalogue could be built",)
            stats.last_failure_timestamp_seconds = self.clock()
            stats.reloads_total["failure"] += 1
            log.error(
                "catalogue_reload_refused",
                extra={
                    "trigger": trigger,
                    "errors": len(report.errors),
                    "warnings": len(report.warnings),
                    "running": "last good catalogue",
                },
            )
            return False
        missing = self.unknown_offices(report.catalogue)
        if missing:
            log.warning("office_not_in_catalogue", extra={"offices": missing})
        before = {t.key for t in self.tasks}
        tasks = self.apply(report.catalogue)
        after = {t.key for t in tasks}
        stats.reloads_total["success"] += 1
        log.info(
            "catalogue_reloaded",
            extra={
                "trigger": trigger,
                "services": len(report.catalogue.services),
                "probes": len(tasks),
                "added": len(after - before),
                "removed": len(before - after),
                "warnings": len(report.warnings),
            },
        )
        return True

    # ------------------------------------------------------------------ results

    def _local_fault(self, result: ProbeResult) -> None:
        """The daemon itself failed a probe run (descriptors, memory): logged at most
        once per ``LOCAL_FAULT_LOG_SECONDS`` with the count since, never as the service's
        failure (``Observations.record`` only counts it)."""
        now = time.monotonic()
        self._local_faults_unlogged += 1
        if now - self._local_fault_logged_at < LOCAL_FAULT_LOG_SECONDS:
            return
        log.error(
            "probe_local_fault",
            extra={
                "vantage": result.vantage,
                "service": result.service_id,
                "probe": result.probe_id,
                "faults": self._local_faults_unlogged,
                "detail": result.outcome.detail,
            },
        )
        self._local_fault_logged_at = now
        self._local_faults_unlogged = 0

    def on_result(self, result: ProbeResult) -> None:
        in_scope, fast = True, None
        if result.outcome.reason is Reason.local:
            self._local_fault(result)  # unobserved time: no SLI event, no state change
        elif self.in_scope is not None:
            in_scope, fast = self.in_scope.classify(result)
        transition = self.runtime.observations.record(result, in_scope=in_scope, fast=fast)
        if transition is not None:
            out = result.outcome
            log.info(
                "probe_state_changed",
                extra={
                    "vantage": result.vantage,
                    "service": result.service_id,
                    "probe": result.probe_id,
                    "state": transition.state.value,
                    "reason": out.reason.value if out.reason else None,
                    "status_code": out.status_code,
                    "duration_seconds": round(out.duration_seconds, 6),
                    "detail": out.detail,
                },
            )
            if self.on_transition is not None:
                try:
                    self.on_transition(transition)
                except Exception:
                    log.exception("transition_hook_failed")
        for sink in self.sinks:
            try:
                sink.submit(result)
            except Exception:
                log.exception("sink_submit_failed", extra={"sink": type(sink).__name__})
