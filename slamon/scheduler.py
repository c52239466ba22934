"""Runs every probe on its own interval, bounded, on time, and never stalled.

- Ticks come from a fixed origin on the loop's monotonic clock (``due = first + n *
  interval``), so they never drift however long a run or the loop itself takes.
- Each probe's first tick is spread over its interval by a stable hash of its key,
  aligned to wall-clock phase, so restarts and other daemons agree on when it runs.
- A run waits for a slot of its host, then for a global slot; its timeout (and the
  scheduler's hard outer timeout) starts only once it holds both, so queueing never
  shows up as a target being slow or down (DESIGN, performance notes).
- A run still going when its next tick comes makes that tick an overrun: skipped and
  counted, never stacked.
- A probe function that raises is logged and counted as ``Reason.error``; one that
  hangs past ``timeout + grace`` is abandoned (cancelled, its slots released) and
  reported as ``Reason.timeout``. Neither stops the loop.

Every task the scheduler creates is kept in a set it owns and ends in ``drain()``.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import urlsplit

from slamon.core.catalogue import ProbeTask
from slamon.core.results import ProbeOutcome, ProbeResult, Reason
from slamon.runtime import SchedulerStats

log = logging.getLogger("slamon.scheduler")

Key = tuple[str, str, str]
RunFn = Callable[[ProbeTask], Awaitable[ProbeOutcome]]
ResultFn = Callable[[ProbeResult], None]

DEFAULT_GRACE_SECONDS = 1.0
# Ticks due this soon are started now: event-loop timers have about 1 ms resolution,
# and waking for each sub-millisecond gap only spins the loop.
DISPATCH_AHEAD_SECONDS = 0.001


def spread_fraction(key: Key) -> float:
    """Stable position of a probe within its interval, in [0, 1): the same in every process."""
    digest = hashlib.blake2b("\x1f".join(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def offset_seconds(key: Key, interval_seconds: float) -> float:
    return spread_fraction(key) * interval_seconds


def probe_host(task: ProbeTask) -> str:
    """The host a probe loads, for the per-host limit (never a label: it may be anything)."""
    probe = task.probe
    url = getattr(probe, "url", None)
    if url is None and getattr(probe, "steps", None):
        url = probe.steps[0].url
    if url is not None:
        try:
            return (urlsplit(url).hostname or url).lower()
        except ValueError:
            return url
    if probe.kind == "dns":
        return (probe.server or "system-resolver").lower()
    return str(getattr(probe, "host", "")).lower()


@dataclass(slots=True)
class _Entry:
    task: ProbeTask
    interval_seconds: float
    host: str
    first_due: float = 0.0  # loop time of tick 0
    n: int = 0  # index of the next tick
    generation: int = 0  # bumped when rescheduled or removed; stale heap items are skipped
    running: asyncio.Task | None = None

    def due(self) -> float:
        return self.first_due + self.n * self.interval_seconds


@dataclass(slots=True)
class _HostSlots:
    semaphore: asyncio.Semaphore
    users: int = 0  # runs waiting for or holding a slot


@dataclass
class DrainReport:
    completed: int = 0
    cancelled: int = 0
    cancelled_keys: list[Key] = field(default_factory=list)


class Scheduler:
    def __init__(
        self,
        run: RunFn,
        on_result: ResultFn,
        stats: SchedulerStats,
        max_in_flight: int = 100,
        max_in_flight_per_host: int = 4,
        clock: Callable[[], float] = time.time,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
    ) -> None:
        if max_in_flight < 1 or max_in_flight_per_host < 1:
            raise ValueError("concurrency limits must be at least 1")
        self._run = run
        self._on_result = on_result
        self._stats = stats
        self._max_in_flight = max_in_flight
        self._max_per_host = max_in_flight_per_host
        self._clock = clock
        self._grace_seconds = grace_seconds
        self._entries: dict[Key, _Entry] = {}
        self._heap: list[tuple[float, int, Key, int]] = []
        self._seq = 0
        self._global: asyncio.Semaphore | None = None
        self._hosts: dict[str, _HostSlots] = {}
        self._runs: set[asyncio.Task] = set()
        self._abandoned: set[asyncio.Task] = set()
        self._dispatcher: asyncio.Task | None = None
        self._wake: asyncio.Future | None = None
        self._origin: float | None = None  # loop time at start()
        self._origin_wall = 0.0  # wall time at start(), for the phase alignment
        self._stopping = False

    # ------------------------------------------------------------------ public

    @property
    def running(self) -> bool:
        return self._dispatcher is not None and not self._dispatcher.done()

    @property
    def keys(self) -> set[Key]:
        return set(self._entries)

    def next_due(self, key: Key) -> float | None:
        """Loop time of a probe's next tick (for tests and the status page)."""
        entry = self._entries.get(key)
        return entry.due() if entry is not None and self._origin is not None else None

    def update(self, tasks: Iterable[ProbeTask]) -> None:
        """Make ``tasks`` the scheduled set.

        A key that stays keeps its tick schedule (its definition is replaced, so a
        changed URL or timeout applies from the next run); a changed interval gets a
        fresh schedule; new keys start at their offset; removed keys stop and a run of
        theirs in flight is cancelled.
        """
        wanted: dict[Key, ProbeTask] = {}
        for task in tasks:
            wanted[task.key] = task
        for key in [k for k in self._entries if k not in wanted]:
            entry = self._entries.pop(key)
            entry.generation += 1
            if entry.running is not None:
                entry.running.cancel()
        for key, task in wanted.items():
            entry = self._entries.get(key)
            interval = float(task.probe.interval)
            if entry is None:
                entry = self._entries[key] = _Entry(task, interval, probe_host(task))
                if self._origin is not None:
                    self._schedule_first(entry)
                continue
            entry.task = task
            entry.host = probe_host(task)
            if entry.interval_seconds != interval:
                entry.interval_seconds = interval
                if self._origin is not None:
                    self._schedule_first(entry)
        self._prune_hosts()
        self._stats.scheduled_probes = len(self._entries)
        self._kick()

    def start(self) -> None:
        """Start dispatching (inside the running loop)."""
        if self._dispatcher is not None:
            raise RuntimeError("scheduler already started")
        loop = asyncio.get_running_loop()
        self._origin = loop.time()
        self._origin_wall = self._clock()
        self._global = asyncio.Semaphore(self._max_in_flight)
        for entry in self._entries.values():
            self._schedule_first(entry)
        self._dispatcher = loop.create_task(self._dispatch(), name="slamon-scheduler")

    def trigger(self, key: Key) -> bool:
        """Run a probe now, off its grid (its ticks stay where they are).

        False when the probe is unknown, not started, or already running."""
        entry = self._entries.get(key)
        if entry is None or entry.running is not None or self._stopping or self._origin is None:
            return False
        self._launch(entry, asyncio.get_running_loop().time())
        return True

    def cancel_in_flight(self) -> int:
        """Cancel every run in flight (a forced shutdown); returns how many."""
        for t in self._runs:
            t.cancel()
        return len(self._runs)

    async def drain(self, timeout_seconds: float) -> DrainReport:
        """Stop scheduling, let runs in flight finish within ``timeout_seconds``,
        then cancel what is left. Results that arrive meanwhile are still handed on."""
        self._stopping = True
        report = DrainReport()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
        key_of = {e.running: k for k, e in self._entries.items() if e.running is not None}
        runs = set(self._runs)
        if runs:
            _, pending = await asyncio.wait(runs, timeout=max(0.0, timeout_seconds))
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
            # cancelled here, or earlier by cancel_in_flight() (a forced stop)
            cancelled = [t for t in runs if t.cancelled() or t in pending]
            report.cancelled = len(cancelled)
            report.completed = len(runs) - len(cancelled)
            report.cancelled_keys = sorted(key_of[t] for t in cancelled if t in key_of)
        for t in self._abandoned:
            t.cancel()
        if self._abandoned:
            await asyncio.wait(set(self._abandoned), timeout=1.0)
        return report

    # ------------------------------------------------------------------ ticks

    def _schedule_first(self, entry: _Entry) -> None:
        assert self._origin is not None
        interval = entry.interval_seconds
        # wall phase: the probe runs when (wall time - offset) is a multiple of its interval
        phase = (offset_seconds(entry.task.key, interval) - self._origin_wall) % interval
        entry.first_due = self._origin + phase
        now = asyncio.get_running_loop().time()
        entry.n = max(0, math.ceil((now - entry.first_due) / interval))
        entry.generation += 1
        self._push(entry)

    def _push(self, entry: _Entry) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (entry.due(), self._seq, entry.task.key, entry.generation))

    def _kick(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        heap = self._heap
        while not self._stopping:
            now = loop.time()
            horizon = now + DISPATCH_AHEAD_SECONDS
            while heap and heap[0][0] <= horizon:
                due, _, key, generation = heapq.heappop(heap)
                entry = self._entries.get(key)
                if entry is None or entry.generation != generation:
                    continue  # removed or rescheduled since it was queued
                self._tick(entry, due, now)
            self._wake = loop.create_future()
            handle = loop.call_at(heap[0][0], self._kick) if heap else None
            try:
                await self._wake
            finally:
                if handle is not None:
                    handle.cancel()
                self._wake = None

    def _tick(self, entry: _Entry, due: float, now: float) -> None:
        if entry.running is not None:
            self._stats.overruns_total += 1
            log.debug(
                "probe_overrun",
                extra=_ctx(entry.task, interval_seconds=entry.interval_seconds),
            )
        else:
            self._launch(entry, due)
        entry.n += 1
        if entry.due() <= now:
            # the loop fell a whole interval behind: skip the missed ticks, count them
            skipped = math.floor((now - entry.due()) / entry.interval_seconds) + 1
            self._stats.overruns_total += skipped
            entry.n += skipped
        self._push(entry)

    # ------------------------------------------------------------------ runs

    def _launch(self, entry: _Entry, due: float) -> None:
        run = asyncio.get_running_loop().create_task(self._run_one(entry, due))
        entry.running = run
        self._runs.add(run)
        run.add_done_callback(self._runs.discard)

    def _host_slots(self, host: str) -> _HostSlots:
        slots = self._hosts.get(host)
        if slots is None:
            slots = self._hosts[host] = _HostSlots(asyncio.Semaphore(self._max_per_host))
        return slots

    def _prune_hosts(self) -> None:
        in_use = {e.host for e in self._entries.values()}
        for host in [h for h, s in self._hosts.items() if h not in in_use and s.users == 0]:
            del self._hosts[host]

    async def _run_one(self, entry: _Entry, due: float) -> None:
        task = entry.task
        loop = asyncio.get_running_loop()
        stats = self._stats
        host = self._host_slots(entry.host)
        host.users += 1
        try:
            async with host.semaphore, self._global:  # host first: a waiter holds nothing
                started = loop.time()
                started_at = self._clock()
                stats.observe_lag(max(0.0, started - due))
                stats.in_flight += 1
                stats.runs_total += 1
                try:
                    outcome = await self._guarded(task, started)
                finally:
                    stats.in_flight -= 1
        finally:
            host.users -= 1
            if entry.running is asyncio.current_task():
                entry.running = None
        if self._entries.get(task.key) is not entry:
            return  # removed while running
        result = ProbeResult(
            vantage=task.vantage,
            service_id=task.service.id,
            probe_id=task.probe.id,
            kind=task.probe.kind,
            started_at=started_at,
            outcome=outcome,
        )
        try:
            self._on_result(result)
        except Exception:
            log.exception("result_handler_failed", extra=_ctx(task))

    async def _guarded(self, task: ProbeTask, started: float) -> ProbeOutcome:
        """Run the probe function under a hard timeout; never raises (but cancellation)."""
        loop = asyncio.get_running_loop()
        limit = float(task.probe.timeout) + self._grace_seconds
        # The run is awaited through a plain future that either the run or the timer
        # fills: cheaper than asyncio.wait, and a run that ignores its cancellation
        # cannot hold this coroutine (or its slots) past the limit.
        slot = loop.create_future()
        inner = loop.create_task(self._run(task))
        inner.add_done_callback(partial(_fill, slot))
        timer = loop.call_later(limit, _fill, slot, None)
        try:
            finished = await slot
        except asyncio.CancelledError:
            inner.cancel()
            self._abandon(inner)
            raise
        finally:
            timer.cancel()
        if finished is None:
            inner.cancel()
            self._abandon(inner)
            self._stats.hard_timeouts_total += 1
            log.warning("probe_hard_timeout", extra=_ctx(task, limit_seconds=limit))
            return ProbeOutcome(
                success=False,
                duration_seconds=loop.time() - started,
                reason=Reason.timeout,
                detail=f"no answer from the probe within {limit:g}s",
            )
        exc = inner.exception() if not inner.cancelled() else asyncio.CancelledError()
        if exc is None:
            return inner.result()
        self._stats.errors_total += 1
        log.error(
            "probe_function_failed",
            exc_info=(type(exc), exc, exc.__traceback__),
            extra=_ctx(task, error=type(exc).__name__),
        )
        return ProbeOutcome(
            success=False,
            duration_seconds=loop.time() - started,
            reason=Reason.error,
            detail=f"internal error in the probe: {type(exc).__name__}",
        )

    def _abandon(self, inner: asyncio.Task) -> None:
        """Keep a cancelled probe task owned until it really ends (it may ignore cancel)."""
        if inner.done():
            return
        self._abandoned.add(inner)

        def _forget(t: asyncio.Task) -> None:
            self._abandoned.discard(t)
            if not t.cancelled():
                t.exception()  # retrieved: no "never retrieved" warning

        inner.add_done_callback(_forget)


def _fill(slot: asyncio.Future, value: asyncio.Task | None) -> None:
    if not slot.done():
        slot.set_result(value)


def _ctx(task: ProbeTask, **extra: object) -> dict[str, object]:
    return {
        "vantage": task.vantage,
        "service": task.service.id,
        "probe": task.probe.id,
        **extra,
    }
