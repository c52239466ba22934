"""/metrics render CPU time for a large estate: prometheus_client's encoder against the
cached renderer (exporters.exposition.render), cold, unchanged and with a share of
probes changed since the last scrape; then the scrape as the daemon runs it
(``render_async`` on an event loop): the longest time it holds the loop, measured by
a task that wakes at every turn of the loop, and its CPU time.

    python benchmarks/exposition_render.py [SERVICES] [PROBES_PER_SERVICE]
"""

from __future__ import annotations

import asyncio
import sys
import time

from prometheus_client.exposition import generate_latest

from exporters.exposition import ExpositionRegistry, render, render_async
from exporters.metrics import SlamonCollector
from slamon.core.results import ProbeOutcome, ProbeResult, Reason
from slamon.runtime import ObjectiveSnapshot, Runtime, SlaSnapshot

OFFICES = ("unhq", "unog", "unov", "unon")


def result(vantage: str, sid: str, pid: str, i: int) -> ProbeResult:
    ok = i % 7 != 0
    outcome = ProbeOutcome(
        success=ok,
        duration_seconds=0.05 + (i % 100) / 1000,
        reason=None if ok else Reason.timeout,
        status_code=200 if ok else None,
        phases={"resolve": 0.001, "connect": 0.002, "tls": 0.01, "processing": 0.03, "transfer": 0.001},
        cert_expiry_timestamp=1.8e9,
        tls_version="TLSv1.3",
        ip_protocol=4,
    )
    return ProbeResult(vantage, sid, pid, "http", 1.7e9 + i, outcome)


def build(services: int, probes: int) -> Runtime:
    rt = Runtime()
    for n in range(services):
        office = OFFICES[n % 4]
        sid = f"{office}-svc{n}"
        for p in range(probes):
            rt.observations.record(result(office, sid, f"p{p}", n), fast=True)
        rt.sla[office, sid] = SlaSnapshot(
            office, sid, office, 1.8e9,
            (ObjectiveSnapshot("availability", 0.999, 0.9995), ObjectiveSnapshot("latency", 0.95, 0.97)),
            0.5, 0.8,
        )
    return rt


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


async def longest_block(source) -> tuple[float, float]:
    """``(longest loop block, CPU)`` of one ``render_async`` scrape, in seconds."""
    gaps = [0.0]
    done = False

    async def beat() -> None:
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(beat())
    await asyncio.sleep(0)
    t = time.process_time()
    await render_async(source, "")
    cpu = time.process_time() - t
    done = True
    await task
    return max(gaps), cpu


def main() -> None:
    services = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    probes = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    rt = build(services, probes)
    reg = ExpositionRegistry()
    collector = SlamonCollector(rt)
    reg.register(collector)
    body = generate_latest(reg)
    series = sum(1 for line in body.splitlines() if not line.startswith(b"#"))
    print(f"{services} services x {probes} probes: {series} series, {len(body) / 1e6:.1f} MB")
    print(f"prometheus_client generate_latest:  {timed(lambda: generate_latest(reg)) * 1000:8.1f} ms")
    t = time.process_time()
    render(reg, "")
    print(f"cached render, cold:                {(time.process_time() - t) * 1000:8.1f} ms")
    print(f"cached render, nothing changed:     {timed(lambda: render(reg, '')) * 1000:8.1f} ms")
    keys = list(rt.observations.probes)
    for share in (0.25, 1.0):
        def changed(share: float = share) -> None:
            for i, key in enumerate(keys[: int(len(keys) * share)]):
                rt.observations.record(result(*key, i + 3), fast=True)
            render(reg, "")
        t = timed(changed, 1)
        print(f"cached render, {share:4.0%} probes changed: {t * 1000:6.1f} ms (including recording)")
    assert render(reg, "")[0] == generate_latest(reg)

    async def scrapes() -> None:
        fresh = ExpositionRegistry()
        fresh.register(SlamonCollector(rt))
        block, cpu = await longest_block(fresh)
        print(f"async scrape, cold:                 longest loop block {block * 1000:6.1f} ms, CPU {cpu * 1000:7.1f} ms")
        block, cpu = await longest_block(fresh)
        print(f"async scrape, nothing changed:      longest loop block {block * 1000:6.1f} ms, CPU {cpu * 1000:7.1f} ms")
        for i in range(3):
            for j, key in enumerate(keys):
                rt.observations.record(result(*key, j + 10 + i), fast=True)
            block, cpu = await longest_block(fresh)
            print(f"async scrape, 100% probes changed:  longest loop block {block * 1000:6.1f} ms, CPU {cpu * 1000:7.1f} ms")

    asyncio.run(scrapes())


if __name__ == "__main__":
    main()
