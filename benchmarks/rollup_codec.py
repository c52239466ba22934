"""Decoding day rollups as a report reads them: codec v1 against the codec before it.

    python -m benchmarks.rollup_codec [ROWS]

Rows as the database driver hands them over (tuples of bytes, the day as ISO text as
SQLite gives it), 95 % of days complete (every minute observed, good, fast and with
steps ok), 5 % with some bad minutes, no per-minute counts (timeslice budgeting, the
report's usual read). Times ``rollups_from_tuples`` of each codec over the same days,
and the same plus building each service's ``DaySeries`` (what the report does next);
then v1's ``series_from_tuples``, the report's read path (rows to day series, a
complete day not decoded at all).
The pre-v1 decoder is kept here, as it was, for the comparison.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time

from slamon.core.sla.bulk import index_series
from slamon.core.sla.rollup import ALL_MINUTES, DayRollup
from slamon.store import codec


def _v0_rollups(rows, with_counts=False):
    """The decoder before codec v1 (180-byte big-endian bitmaps), as it was."""
    from_bytes = int.from_bytes
    from_iso = dt.date.fromisoformat
    none = bytes(1440)
    for row in rows:
        day = row[2] if isinstance(row[2], dt.date) else from_iso(row[2])
        yield DayRollup(
            row[0], row[1], day,
            observed=from_bytes(row[3], "big"), good=from_bytes(row[4], "big"),
            fast=from_bytes(row[5], "big"), steps_ok=from_bytes(row[6], "big"),
            total_counts=none, good_counts=none,
        )  # fmt: skip


def main(rows: int = 200_000) -> dict:
    rng = random.Random(1)
    v0, v1 = [], []
    services = max(1, rows // 16)  # an open month: about 16 days per service
    for i in range(rows):
        sid, day = f"unog-s{i % services}", (dt.date(2027, 12, 1) + dt.timedelta(days=i // services)).isoformat()
        good = ALL_MINUTES if rng.random() < 0.95 else ALL_MINUTES & ~(((1 << rng.randrange(1, 30)) - 1) << 600)
        bits = (ALL_MINUTES, good, good, ALL_MINUTES)
        v0.append(("unog", sid, day, *(b.to_bytes(180, "big") for b in bits)))
        v1.append(("unog", sid, day, *(codec.encode_bitmap(b) for b in bits)))
    order = sorted(range(rows), key=lambda i: (v0[i][1], v0[i][2]))  # as the store reads them
    v0, v1 = [v0[i] for i in order], [v1[i] for i in order]
    out = {"rows": rows}
    for name, decode, data in (("v0", _v0_rollups, v0), ("v1", codec.rollups_from_tuples, v1)):
        best_decode = best_series = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            decoded = list(decode(data, False))
            t1 = time.perf_counter()
            index_series(decoded)
            t2 = time.perf_counter()
            best_decode, best_series = min(best_decode, t1 - t0), min(best_series, t2 - t0)
        out[f"{name}_decode_us_per_rollup"] = best_decode / rows * 1e6
        out[f"{name}_decode_and_series_us_per_rollup"] = best_series / rows * 1e6
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        codec.series_from_tuples(v1)
        best = min(best, time.perf_counter() - t0)
    out["v1_series_from_rows_us_per_rollup"] = best / rows * 1e6
    out["series_from_rows_speedup"] = out["v0_decode_and_series_us_per_rollup"] / out["v1_series_from_rows_us_per_rollup"]
    out["decode_speedup"] = out["v0_decode_us_per_rollup"] / out["v1_decode_us_per_rollup"]
    out["decode_and_series_speedup"] = (
        out["v0_decode_and_series_us_per_rollup"] / out["v1_decode_and_series_us_per_rollup"]
    )
    return out


if __name__ == "__main__":
    print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000))
