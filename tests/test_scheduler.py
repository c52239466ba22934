"""Scheduler: real asyncio, an injected probe function, tiny intervals."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from slamon.core.catalogue import ProbeTask
from slamon.core.model import Service
from slamon.core.results import ProbeOutcome, ProbeResult, Reason
from slamon.runtime import SchedulerStats
from slamon.scheduler import Scheduler, offset_seconds, probe_host, spread_fraction
from tests.daemon_support import service_doc

ROOT = Path(__file__).resolve().parents[1]


def make_task(
    n: int,
    interval: str = "1s",
    timeout: str = "500ms",
    host: str | None = None,
    kind: str = "http",
) -> ProbeTask:
    host = host or f"h{n}.unog.example"
    if kind == "http":
        probe = {"id": "p", "kind": "http", "url": f"https://{host}/x", "interval": interval, "timeout": timeout}
    else:
        probe = {"id": "p", "kind": "tcp", "host": host, "port": 1, "interval": interval, "timeout": timeout}
    svc = Service.model_validate(service_doc(f"unog-s{n}", [probe]))
    return ProbeTask(svc, svc.probes[0], "unog")


def ok(duration: float = 0.0) -> ProbeOutcome:
    return ProbeOutcome(success=True, duration_seconds=duration)


class Harness:
    def __init__(self, run, **kw) -> None:
        self.results: list[ProbeResult] = []
        self.stats = SchedulerStats()
        self.scheduler = Scheduler(run, self.results.append, self.stats, clock=lambda: 1.7e9, **kw)

    def of(self, task: ProbeTask) -> list[ProbeResult]:
        return [r for r in self.results if r.key == task.key]


async def wait_until(cond, timeout_seconds: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    while not cond():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def test_offsets_are_stable_and_spread():
    key = ("unog", "unog-email", "webmail")
    assert offset_seconds(key, 60) == offset_seconds(key, 60)
    assert 0 <= offset_seconds(key, 60) < 60
    # the same in another process with another string-hash seed
    code = "from slamon.scheduler import spread_fraction; print(repr(spread_fraction(('unog','unog-email','webmail'))))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "12345"}, check=True,
    ).stdout.strip()
    assert float(out) == spread_fraction(key)
    buckets = [0] * 10
    for i in range(2000):
        buckets[int(spread_fraction(("unog", f"unog-s{i}", "web")) * 10)] += 1
    assert min(buckets) > 120, buckets  # roughly 200 each: no clumping


def test_probe_host_for_each_kind():
    assert probe_host(make_task(1, host="Mail.UNOG.example")) == "mail.unog.example"
    assert probe_host(make_task(2, host="db.unog.example", kind="tcp")) == "db.unog.example"
    svc = Service.model_validate(service_doc("unog-j", [
        {"id": "j", "kind": "journey", "steps": [{"name": "a", "url": "https://erp.unhq.example/login"}]},
        {"id": "d", "kind": "dns", "name": "unog.example", "server": "10.0.0.53"},
    ]))
    assert probe_host(ProbeTask(svc, svc.probes[0], "unog")) == "erp.unhq.example"
    assert probe_host(ProbeTask(svc, svc.probes[1], "unog")) == "10.0.0.53"


async def test_ticks_do_not_drift_when_runs_take_time():
    interval = 0.05
    task = make_task(1, interval="50ms", timeout="40ms")

    async def run(t):
        await asyncio.sleep(0.03)  # 60 % of the interval: a sleep-after-run loop would lose a third
        return ok(0.03)

    h = Harness(run)
    h.scheduler.update([task])
    h.scheduler.start()
    first = h.scheduler.next_due(task.key)
    await asyncio.sleep(1.0)
    due = h.scheduler.next_due(task.key)
    await h.scheduler.drain(1.0)
    ticks = (due - first) / interval
    assert abs(ticks - round(ticks)) < 1e-6  # every tick sits on the grid from the origin
    runs = len(h.of(task))
    assert 14 <= runs <= 21, runs  # ~20 expected; drifting would give ~12
    assert h.stats.runs_total == runs + h.stats.in_flight or h.stats.runs_total >= runs
    assert h.stats.lag_seconds_count == h.stats.runs_total


async def test_global_and_per_host_limits_are_never_exceeded():
    live: dict[str, int] = defaultdict(int)
    peak: dict[str, int] = defaultdict(int)
    total = {"now": 0, "peak": 0}

    async def run(t):
        host = probe_host(t)
        live[host] += 1
        total["now"] += 1
        peak[host] = max(peak[host], live[host])
        total["peak"] = max(total["peak"], total["now"])
        await asyncio.sleep(0.05)
        live[host] -= 1
        total["now"] -= 1
        return ok()

    spread = [make_task(i) for i in range(30)]  # 30 hosts
    crowded = [make_task(100 + i, host="one.unog.example") for i in range(10)]
    h = Harness(run, max_in_flight=5, max_in_flight_per_host=2)
    h.scheduler.update(spread + crowded)
    h.scheduler.start()
    for t in spread + crowded:  # all at once, on top of their spread ticks
        h.scheduler.trigger(t.key)
    await wait_until(lambda: len(h.results) >= 40)
    await h.scheduler.drain(1.0)
    assert total["peak"] <= 5
    assert peak["one.unog.example"] <= 2
    assert all(p <= 2 for p in peak.values())
    assert h.stats.in_flight == 0


async def test_limits_are_reached_under_load():
    now = {"n": 0, "peak": 0}

    async def run(t):
        now["n"] += 1
        now["peak"] = max(now["peak"], now["n"])
        await asyncio.sleep(0.2)
        now["n"] -= 1
        return ok()

    tasks = [make_task(i, interval="100ms", timeout="50ms") for i in range(20)]
    h = Harness(run, max_in_flight=4, grace_seconds=1.0)
    h.scheduler.update(tasks)
    h.scheduler.start()
    await wait_until(lambda: now["peak"] >= 4, 3.0)
    await h.scheduler.drain(0.0)
    assert now["peak"] == 4


async def test_a_hanging_probe_function_cannot_stall_the_others():
    hang = make_task(1, interval="10s", timeout="100ms")
    stubborn = make_task(2, interval="10s", timeout="100ms")
    healthy = [make_task(10 + i, interval="200ms", timeout="100ms") for i in range(3)]

    async def run(t):
        if t is hang:
            await asyncio.sleep(3600)
        if t is stubborn:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                await asyncio.sleep(2.0)  # ignores the first cancellation for a while
        return ok()

    h = Harness(run, max_in_flight=2, grace_seconds=0.1)
    h.scheduler.update([hang, stubborn, *healthy])
    h.scheduler.start()
    h.scheduler.trigger(hang.key)
    h.scheduler.trigger(stubborn.key)
    await wait_until(lambda: h.of(hang) and h.of(stubborn) and all(len(h.of(t)) >= 3 for t in healthy))
    stuck = h.of(hang) + h.of(stubborn)
    assert all(not r.success and r.outcome.reason is Reason.timeout for r in stuck)
    assert all(r.outcome.duration_seconds < 1.5 for r in stuck)  # not the 2 s the stubborn one takes
    assert h.stats.hard_timeouts_total == len(stuck)
    report = await h.scheduler.drain(0.5)
    assert report.cancelled == 0
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()
                and "Scheduler" in repr(t.get_coro())]


async def test_timeout_starts_once_the_probe_holds_its_slot():
    # one slot: probe 1 holds it for 1 s; probe 2 queues behind it, then runs 0.05 s.
    # Probe 2's hard limit is 0.1 + 0.5 s: had its clock started while it queued, the
    # 1 s wait alone would exceed it. Margins are wide so a loaded machine cannot flip it.
    tasks = [make_task(1, interval="10s", timeout="3s"), make_task(2, interval="10s", timeout="100ms")]

    async def run(t):
        await asyncio.sleep(1.0 if t is tasks[0] else 0.05)
        return ok(0.05)

    h = Harness(run, max_in_flight=1, grace_seconds=0.5)
    h.scheduler.update(tasks)
    h.scheduler.start()
    assert h.scheduler.trigger(tasks[0].key)
    await asyncio.sleep(0.05)  # probe 1 takes the slot first
    assert h.scheduler.trigger(tasks[1].key)
    await wait_until(lambda: len(h.results) >= 2)
    await h.scheduler.drain(0.5)
    assert all(r.success for r in h.results), [r.outcome for r in h.results]
    assert h.stats.hard_timeouts_total == 0
    assert h.stats.lag_seconds_max >= 0.5  # the queued one started late, and it was measured


async def test_overruns_are_skipped_and_counted_never_stacked():
    task = make_task(1, interval="50ms", timeout="40ms")
    running = {"n": 0, "peak": 0}

    async def run(t):
        running["n"] += 1
        running["peak"] = max(running["peak"], running["n"])
        await asyncio.sleep(0.12)
        running["n"] -= 1
        return ok()

    h = Harness(run, grace_seconds=1.0)
    h.scheduler.update([task])
    h.scheduler.start()
    await wait_until(lambda: len(h.results) >= 3)
    await h.scheduler.drain(1.0)
    assert running["peak"] == 1
    assert h.stats.overruns_total >= 3


async def test_a_raising_probe_function_is_a_result_and_the_loop_goes_on(caplog):
    task = make_task(1, interval="50ms", timeout="20ms")

    async def run(t):
        raise ZeroDivisionError("bug")

    h = Harness(run)
    h.scheduler.update([task])
    h.scheduler.start()
    await wait_until(lambda: len(h.results) >= 3)
    await h.scheduler.drain(0.5)
    assert all(r.outcome.reason is Reason.error and not r.success for r in h.results)
    assert h.stats.errors_total >= 3
    assert any(rec.getMessage() == "probe_function_failed" for rec in caplog.records)
    r = h.results[0]
    assert (r.vantage, r.service_id, r.probe_id, r.kind, r.started_at) == ("unog", "unog-s1", "p", "http", 1.7e9)


async def test_update_keeps_unchanged_schedules_and_stops_removed_ones():
    a, b = make_task(1, interval="10s", timeout="1s"), make_task(2, interval="10s", timeout="1s")
    started = asyncio.Event()

    async def run(t):
        if t.service.id == "unog-s2":
            started.set()
            await asyncio.sleep(3600)
        return ok()

    h = Harness(run)
    h.scheduler.update([a, b])
    h.scheduler.start()
    due_a = h.scheduler.next_due(a.key)
    assert h.scheduler.trigger(b.key)  # in flight when removed
    assert not h.scheduler.trigger(b.key)  # already running
    await asyncio.wait_for(started.wait(), 2.0)

    a_changed_timeout = make_task(1, interval="10s", timeout="2s")
    c = make_task(3, interval="10s", timeout="1s")
    h.scheduler.update([a_changed_timeout, c])
    assert h.scheduler.keys == {a.key, c.key}
    assert h.scheduler.next_due(a.key) == due_a  # same schedule, new definition
    assert h.scheduler._entries[a.key].task is a_changed_timeout
    assert h.stats.scheduled_probes == 2
    await wait_until(lambda: h.stats.in_flight == 0, 2.0)
    assert not h.of(b)  # the removed probe's run was cancelled, nothing delivered

    a_new_interval = make_task(1, interval="20s", timeout="2s")
    h.scheduler.update([a_new_interval, c])
    due = h.scheduler.next_due(a.key)
    assert due != due_a
    assert h.scheduler._entries[a.key].interval_seconds == 20.0
    await h.scheduler.drain(0.5)


async def test_drain_is_bounded_and_cancels_what_is_left():
    slow = make_task(1, interval="30s", timeout="20s")
    quick = make_task(2, interval="30s", timeout="20s")
    started = {"slow": asyncio.Event(), "quick": asyncio.Event()}

    async def run(t):
        if t is slow:
            started["slow"].set()
            await asyncio.sleep(10)
        else:
            started["quick"].set()
            await asyncio.sleep(0.1)
        return ok()

    h = Harness(run)
    h.scheduler.update([slow, quick])
    h.scheduler.start()
    for t in (slow, quick):
        h.scheduler.trigger(t.key)
    await asyncio.wait_for(asyncio.gather(started["slow"].wait(), started["quick"].wait()), 2.0)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    report = await h.scheduler.drain(0.3)
    assert loop.time() - t0 < 2.0
    assert report.completed == 1 and report.cancelled == 1
    assert report.cancelled_keys == [slow.key]
    assert [r.key for r in h.results] == [quick.key]  # finished during the drain: delivered
    assert not h.scheduler.running
    assert h.stats.in_flight == 0


def test_limits_must_be_positive():
    with pytest.raises(ValueError):
        Scheduler(lambda t: None, lambda r: None, SchedulerStats(), max_in_flight=0)


async def test_thousands_of_failing_runs_leave_no_tasks_or_slots_behind():
    tasks = [make_task(i, interval="20ms", timeout="10ms", host=f"h{i % 7}.unog.example") for i in range(100)]

    async def run(t):
        n = int(t.service.id.removeprefix("unog-s"))
        if n % 3 == 0:
            raise OSError("bug")
        if n % 3 == 1:
            await asyncio.sleep(3600)  # abandoned at the hard timeout
        return ProbeOutcome(success=False, duration_seconds=0.0, reason=Reason.refused)

    baseline = len(asyncio.all_tasks())
    h = Harness(run, max_in_flight=50, grace_seconds=0.01)
    h.scheduler.update(tasks)
    h.scheduler.start()
    peak = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while len(h.results) < 2000 and loop.time() < deadline:
        peak = max(peak, len(asyncio.all_tasks()))
        await asyncio.sleep(0.02)
    assert len(h.results) >= 2000
    # at most one run (and its probe task) per probe, plus the dispatcher: no growth
    assert peak <= baseline + 2 * len(tasks) + 1
    assert len(h.scheduler._hosts) == 7
    await h.scheduler.drain(0.5)
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == baseline
    assert h.stats.in_flight == 0
    assert not h.scheduler._abandoned and not h.scheduler._runs
