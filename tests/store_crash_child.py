"""Child process of the kill -9 test: writes results through ResultWriter without end,
printing the number acknowledged as committed after each flush.

    python -m tests.store_crash_child DB_URL
"""

from __future__ import annotations

import asyncio
import sys
import time

from slamon.core.results import ProbeOutcome, ProbeResult
from slamon.runtime import StoreStats
from slamon.store import Store
from slamon.store.writer import ResultWriter

BATCH = 100


async def main(url: str) -> None:
    store = Store.open(url)
    stats = StoreStats()
    writer = ResultWriter(store, stats, lambda _sid: (0.5, None), batch_size=BATCH, interval_seconds=0.01)
    writer.start()
    base = float(int(time.time()) - 86400)
    n = 0
    for _ in range(10_000):  # bounded; the parent kills us long before
        for _ in range(BATCH):
            outcome = ProbeOutcome(success=n % 7 != 0, duration_seconds=0.01 * (n % 90))
            writer.submit(ProbeResult("unog", "unog-email", "webmail", "http", base + n, outcome))
            n += 1
        if not await writer.flush(10):
            raise SystemExit("flush timed out")
        print(stats.written_total, flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
