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

A run costs one task (its probe function) once it holds its slots; waiting for them
is a place in a FIFO queue, not a task. Every task the scheduler creates is kept in a
set it owns and ends in ``drain()``; runs still queued at ``drain()`` never start.

Why one module above 500 lines: it is one thing, the ``Scheduler`` and the slots,
entries and runs only it creates; split, its invariants would be read across files.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
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
    key: Key = ("", "", "")
    first_due: float = 0.0  # loop time of tick 0
    n: int = 0  # index of the next tick
    generation: int = 0  # bumped when rescheduled or removed; stale heap items are skipped
    running: _Run | None = None  # queued for its slots or running

    def due(self) -> float:
        return self.first_due + self.n * self.interval_seconds


class _HostSlots:
    __slots__ = ("free", "users", "waiting")

    def __init__(self, size: int) -> None:
        self.free = size  # slots not held
        self.users = 0  # runs waiting for or holding a slot
        self.waiting: deque[_Run] = deque()  # FIFO


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
        self._free = max_in_flight  # global slots not held
        self._global_waiting: deque[_Run] = deque()  # runs holding a host slot, FIFO
        self._running = 0
        self._idle: asyncio.Future | None = None  # drain() waits for no run in flight
        self._loop: asyncio.AbstractEventLoop | None = None
        self._hosts: dict[str, _HostSlots] = {}
        self._runs: dict[asyncio.Task, _Run] = {}  # probe tasks in flight
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
                self._cancel(entry.running)
        for key, task in wanted.items():
            entry = self._entries.get(key)
            interval = float(task.probe.interval)
            if entry is None:
                entry = self._entries[key] = _Entry(task, interval, probe_host(task), key)
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
        self._loop = loop
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
        """Cancel every run in flight or queued (a forced shutdown); returns how many."""
        runs = [*self._runs.values(), *self._queued()]
        for run in runs:
            self._cancel(run)
        return len(runs)

    async def drain(self, timeout_seconds: float) -> DrainReport:
        """Stop scheduling, let runs in flight finish within ``timeout_seconds``,
        then cancel what is left. Results that arrive meanwhile are still handed on.
        Runs still queued for a slot are dropped: they never start."""
        self._stopping = True
        report = DrainReport()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
        for run in self._queued():
            self._cancel(run)
        active = list(self._runs.values())
        if active:
            await self._wait_idle(max(0.0, timeout_seconds))
            pending = [r for r in active if r.state == _RUNNING]
            for run in pending:
                self._cancel(run)
            if pending:
                await self._wait_idle(1.0)
            for run in pending:
                if run.state == _RUNNING:  # ignores its cancellation: let it go
                    assert run.inner is not None
                    self._runs.pop(run.inner, None)
                    self._abandon(run.inner)
                    run.timer.cancel()
                    self._end(run)
            cancelled = [r for r in active if r.cancel_requested]
            report.cancelled = len(cancelled)
            report.completed = len(active) - len(cancelled)
            report.cancelled_keys = sorted(
                r.entry.key for r in cancelled if self._entries.get(r.entry.key) is r.entry
            )
        for t in self._abandoned:
            t.cancel()
        if self._abandoned:
            await asyncio.wait(set(self._abandoned), timeout=1.0)
        return report

    async def _wait_idle(self, timeout_seconds: float) -> None:
        if self._running == 0:
            return
        loop = asyncio.get_running_loop()
        self._idle = idle = loop.create_future()
        try:
            await asyncio.wait_for(asyncio.shield(idle), timeout_seconds)
        except TimeoutError:
            pass
        finally:
            self._idle = None

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
        heapq.heappush(self._heap, (entry.due(), self._seq, entry.key, entry.generation))

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
            if log.isEnabledFor(logging.DEBUG):
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
    #
    # A run is a plain object, not a task, until it holds its slots: then its probe
    # function runs in one task, and a done callback and a timer (the hard limit)
    # finish it. Slots are counters with FIFO queues of waiting runs, host first, then
    # global, as two nested semaphores would be, without a task or a future per wait.

    def _launch(self, entry: _Entry, due: float) -> None:
        host = self._host_slots(entry.host)
        run = _Run(self, entry, due, host)
        entry.running = run
        host.users += 1
        if host.free > 0:
            host.free -= 1
            self._want_global(run)
        else:
            host.waiting.append(run)

    def _want_global(self, run: _Run) -> None:
        if self._free > 0 and not self._global_waiting:
            self._free -= 1
            self._start(run)
        else:
            run.state = _HOLDS_HOST
            self._global_waiting.append(run)

    def _start(self, run: _Run) -> None:
        loop = self._loop
        task = run.entry.task
        stats = self._stats
        started = loop.time()
        run.started = started
        run.started_at = self._clock()
        stats.observe_lag(max(0.0, started - run.due))
        stats.in_flight += 1
        stats.runs_total += 1
        run.state = _RUNNING
        self._running += 1
        inner = loop.create_task(self._run(task))
        run.inner = inner
        self._runs[inner] = run
        inner.add_done_callback(run.finished)
        limit = float(task.probe.timeout) + self._grace_seconds
        run.timer = loop.call_at(started + limit, self._hard_timeout, run)

    def _finished(self, run: _Run, inner: asyncio.Task) -> None:
        """The probe task ended (done callback)."""
        self._runs.pop(inner, None)
        # retrieved in every case: no "exception was never retrieved" warning
        exc = inner.exception() if not inner.cancelled() else asyncio.CancelledError()
        if run.state != _RUNNING:  # abandoned at the hard limit: already reported
            return
        run.timer.cancel()
        self._end(run)
        if run.cancel_requested:
            return  # removed, or a shutdown: nothing is delivered
        task = run.entry.task
        if exc is None:
            outcome = inner.result()
        else:
            self._stats.errors_total += 1
            log.error(
                "probe_function_failed",
                exc_info=(type(exc), exc, exc.__traceback__),
                extra=_ctx(task, error=type(exc).__name__),
            )
            local = isinstance(exc, MemoryError)  # the daemon's fault, not the target's
            outcome = ProbeOutcome(
                success=False,
                duration_seconds=self._loop.time() - run.started,
                reason=Reason.local if local else Reason.error,
                detail=f"internal error in the probe: {type(exc).__name__}",
            )
        self._deliver(run, outcome)

    def _hard_timeout(self, run: _Run) -> None:
        """The probe function ran past ``timeout + grace``: abandon it, report a timeout."""
        if run.state != _RUNNING:
            return
        inner = run.inner
        assert inner is not None
        inner.cancel()
        self._runs.pop(inner, None)
        self._abandon(inner)
        self._end(run)
        if run.cancel_requested:
            return
        task = run.entry.task
        limit = float(task.probe.timeout) + self._grace_seconds
        self._stats.hard_timeouts_total += 1
        log.warning("probe_hard_timeout", extra=_ctx(task, limit_seconds=limit))
        self._deliver(
            run,
            ProbeOutcome(
                success=False,
                duration_seconds=self._loop.time() - run.started,
                reason=Reason.timeout,
                detail=f"no answer from the probe within {limit:g}s",
            ),
        )

    def _end(self, run: _Run) -> None:
        """A running run is over: its slots go to the next runs waiting for them."""
        run.state = _DONE
        self._running -= 1
        self._stats.in_flight -= 1
        entry = run.entry
        if entry.running is run:
            entry.running = None
        if self._running == 0 and self._idle is not None and not self._idle.done():
            self._idle.set_result(None)
        self._free += 1
        self._release_host(run.host)
        self._next_global()

    def _next_global(self) -> None:
        waiting = self._global_waiting
        while waiting and self._free > 0:
            nxt = waiting.popleft()
            self._free -= 1
            self._start(nxt)

    def _release_host(self, host: _HostSlots) -> None:
        host.users -= 1
        host.free += 1
        waiting = host.waiting
        while waiting and host.free > 0:
            host.free -= 1
            self._want_global(waiting.popleft())

    def _cancel(self, run: _Run) -> None:
        """Cancel a run: a queued one is dropped, a running one is cancelled (and its
        result not delivered)."""
        run.cancel_requested = True
        state = run.state
        if state == _RUNNING:
            assert run.inner is not None
            run.inner.cancel()
            return
        if state == _DONE:
            return
        run.state = _DONE
        if run.entry.running is run:
            run.entry.running = None
        if state == _QUEUED:
            run.host.waiting.remove(run)
            run.host.users -= 1
        else:  # holds its host slot, waits for a global one
            self._global_waiting.remove(run)
            self._release_host(run.host)

    def _queued(self) -> list[_Run]:
        runs = list(self._global_waiting)
        for host in self._hosts.values():
            runs.extend(host.waiting)
        return runs

    def _deliver(self, run: _Run, outcome: ProbeOutcome) -> None:
        entry = run.entry
        if self._entries.get(entry.key) is not entry:
            return  # removed while running
        task = entry.task
        result = ProbeResult(
            vantage=task.vantage,
            service_id=task.service.id,
            probe_id=task.probe.id,
            kind=task.probe.kind,
            started_at=run.started_at,
            outcome=outcome,
        )
        try:
            self._on_result(result)
        except Exception:
            log.exception("result_handler_failed", extra=_ctx(task))

    def _host_slots(self, host: str) -> _HostSlots:
        slots = self._hosts.get(host)
        if slots is None:
            slots = self._hosts[host] = _HostSlots(self._max_per_host)
        return slots

    def _prune_hosts(self) -> None:
        in_use = {e.host for e in self._entries.values()}
        for host in [h for h, s in self._hosts.items() if h not in in_use and s.users == 0]:
            del self._hosts[host]

    def _abandon(self, inner: asyncio.Task) -> None:
        """Keep a cancelled probe task owned until it really ends (it may ignore cancel)."""
        if inner.done():
            return
        self._abandoned.add(inner)
        inner.add_done_callback(self._abandoned.discard)


_QUEUED, _HOLDS_HOST, _RUNNING, _DONE = range(4)


class _Run:
    """One run of a probe, from its tick to its result."""

    __slots__ = (
        "cancel_requested", "due", "entry", "host", "inner", "scheduler", "started",
        "started_at", "state", "timer",
    )  # fmt: skip

    def __init__(self, scheduler: Scheduler, entry: _Entry, due: float, host: _HostSlots) -> None:
        self.scheduler = scheduler
        self.entry = entry
        self.due = due
        self.host = host
        self.state = _QUEUED
        self.cancel_requested = False
        self.inner: asyncio.Task | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.started = 0.0
        self.started_at = 0.0

    def finished(self, inner: asyncio.Task) -> None:
        self.scheduler._finished(self, inner)

    def cancel(self) -> None:
        self.scheduler._cancel(self)


def _ctx(task: ProbeTask, **extra: object) -> dict[str, object]:
    return {
        "vantage": task.vantage,
        "service": task.service.id,
        "probe": task.probe.id,
        **extra,
    }
