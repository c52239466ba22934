"""No task, file-descriptor or memory growth after thousands of failing probes.

Refused connections (fast) and timing-out ones (a server that accepts and never
answers) through the http and tcp probes, in bounded concurrent batches. Measured
with /proc/self/fd, asyncio.all_tasks and tracemalloc, after a warm-up round, with
generous margins: a leak of one socket, task or kilobyte per probe would still be
well past them.
"""

from __future__ import annotations

import asyncio
import gc
import os
import tracemalloc

import pytest_asyncio

from slamon.core.results import Reason
from slamon.probes import ProbeContext, run_probe
from tests.probe_helpers import make_probe

pytest_plugins = ["tests.servers"]

BATCH = 100  # concurrent probes per batch (the hang server holds one socket each)
ROUNDS = 5  # each round: 2 x BATCH refused + 3 x BATCH timing out -> 2,500 probes in all


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def settle() -> None:
    """Let closed transports and finished server handlers go."""
    for _ in range(5):
        await asyncio.sleep(0.05)
    gc.collect()


@pytest_asyncio.fixture
async def ctx():
    c = ProbeContext.create(connection_limit=BATCH)
    yield c
    await c.close()


async def test_no_growth_after_thousands_of_failing_probes(ctx, raw_servers, closed_port):
    probes = [
        (make_probe(kind="http", url=f"http://127.0.0.1:{closed_port}/"), Reason.refused),
        (make_probe(kind="tcp", host="127.0.0.1", port=closed_port), Reason.refused),
        (make_probe(kind="http", url=f"http://127.0.0.1:{raw_servers.hang}/", timeout="200ms"), Reason.timeout),
        (make_probe(kind="tcp", host="127.0.0.1", port=raw_servers.hang, expect="x", timeout="200ms"), Reason.timeout),
        (make_probe(kind="tcp", host="127.0.0.1", port=raw_servers.hang, timeout="1s",
                    dialogue=[{"name": "banner", "expect": "^220 ", "timeout": "150ms"}]), Reason.step_timeout),
    ]

    async def round_() -> int:
        done = 0
        for probe, reason in probes:
            outs = await asyncio.gather(*(run_probe(probe, ctx) for _ in range(BATCH)))
            assert all(o.reason is reason for o in outs), {o.reason for o in outs}
            done += len(outs)
        return done

    await round_()  # warm-up: lazily built connectors, caches, imports
    await settle()
    fds_before = open_fds()
    tasks_before = len(asyncio.all_tasks())
    tracemalloc.start()
    try:
        await settle()
        mem_before = tracemalloc.get_traced_memory()[0]
        total = 0
        for _ in range(ROUNDS):
            total += await round_()
        await settle()
        mem_after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    fds_after = open_fds()
    tasks_after = len(asyncio.all_tasks())

    assert total == 2500
    assert fds_after <= fds_before + 10, (fds_before, fds_after)
    assert tasks_after <= tasks_before + 3, (tasks_before, tasks_after)
    growth = mem_after - mem_before
    assert growth < 1_500_000, f"{growth} bytes more after {total} failing probes"


async def test_cancelling_a_probe_propagates_and_leaves_nothing(ctx, http_server, raw_servers):
    """Shutdown cancels probes in flight: the cancel is not turned into a result."""
    await settle()
    fds_before = open_fds()
    probes = [
        make_probe(kind="http", url=f"http://127.0.0.1:{raw_servers.hang}/", timeout="10s"),
        make_probe(kind="tcp", host="127.0.0.1", port=raw_servers.hang, expect="x", timeout="10s"),
        make_probe(kind="tcp", host="127.0.0.1", port=raw_servers.hang, timeout="10s",
                   dialogue=[{"name": "banner", "expect": "^220 ", "timeout": "5s"}]),
        make_probe(kind="journey", timeout="10s", steps=[{"name": "h", "url": f"{http_server.url}/hang"}]),
    ]
    for probe in probes:
        task = asyncio.create_task(run_probe(probe, ctx))
        await asyncio.sleep(0.1)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        else:
            raise AssertionError(f"{probe.kind}: cancellation became {task.result()}")
        assert task.cancelled()
    await settle()
    assert open_fds() <= fds_before + 2
