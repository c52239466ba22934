"""From the office's wall clock to minutes of a UTC day, across DST changes.

The rule (the same for service hours, recurring and one-off maintenance): **an instant
belongs to a local window when the office's wall clock, at that instant, shows a date
and time inside the window.** A minute (one timeslice) belongs to it when its first
instant does. Consequences on DST days:

- spring forward: wall-clock times in the skipped hour never occur, so a window that
  overlaps them is shorter that day (a 02:00-04:00 window lasts one hour);
- fall back: the repeated hour occurs twice, and each time it counts if its clock time
  is inside the window (a 01:00-03:00 window lasts three hours; a window ending at
  01:30 also covers 01:00-01:30 the second time round).

How: a UTC day is split into runs of constant UTC offset (one run, or two on a DST
day). Local windows are drawn as a bitmap over three local days (the day before, the
same date and the day after, 4,320 minutes, bit ``k`` = local minute ``k - 1440``
counted from 00:00 local on the UTC day's date); each run then reads its UTC minutes
from that bitmap shifted by its offset. Offsets are whole minutes in every current zone;
a historical offset with seconds is floored to the minute.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 1440
ALL_DAY = (1 << MINUTES_PER_DAY) - 1
LOCAL_SPAN = 3 * MINUTES_PER_DAY  # bits of a three-local-day bitmap
UTC = dt.UTC

OffsetRun = tuple[int, int, int]  # (first minute, end minute, UTC offset in minutes)


def range_bits(first: int, end: int) -> int:
    """Bits ``first`` .. ``end - 1`` set (empty when ``end <= first``)."""
    if end <= first:
        return 0
    return ((1 << (end - first)) - 1) << first


def _offset_minutes(zone: ZoneInfo, at: dt.datetime) -> int:
    offset = at.astimezone(zone).utcoffset()
    assert offset is not None
    return int(offset.total_seconds() // 60)


@lru_cache(maxsize=65536)
def offset_runs(timezone: str, day: dt.date) -> tuple[OffsetRun, ...]:
    """Runs of constant UTC offset within a UTC day, as minute ranges.

    Pure and deterministic (depends only on the tz database), hence a bounded memo.
    A day whose offset is the same at its start, its middle and its last minute is one
    run (almost every day: three lookups). Otherwise it samples every hour and bisects
    where the offset changed, so transitions at any minute are found (two changes within
    one hour of one day, or a change and its reversal on the same day between the three
    samples, do not occur in tzdata).
    """
    zone = ZoneInfo(timezone)
    base = dt.datetime(day.year, day.month, day.day, tzinfo=UTC)

    def off(minute: int) -> int:
        return _offset_minutes(zone, base + dt.timedelta(minutes=minute))

    current = off(0)
    if off(MINUTES_PER_DAY // 2) == current and off(MINUTES_PER_DAY - 1) == current:
        return ((0, MINUTES_PER_DAY, current),)
    runs: list[OffsetRun] = []
    start = 0
    previous = 0
    for sample in [*range(60, MINUTES_PER_DAY, 60), MINUTES_PER_DAY - 1]:
        value = off(sample)
        if value != current:
            lo, hi = previous, sample  # off(lo) == current, off(hi) != current
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if off(mid) == current:
                    lo = mid
                else:
                    hi = mid
            runs.append((start, hi, current))
            start, current = hi, value
        previous = sample
    runs.append((start, MINUTES_PER_DAY, current))
    return tuple(runs)


def utc_day_bits(local_bits: int, runs: tuple[OffsetRun, ...]) -> int:
    """Read a three-local-day bitmap into the 1,440 minutes of one UTC day."""
    if local_bits == 0:
        return 0
    out = 0
    for first, end, offset in runs:
        out |= (local_bits >> (offset + MINUTES_PER_DAY)) & range_bits(first, end)
    return out


def local_dates(day: dt.date) -> tuple[dt.date, dt.date, dt.date]:
    """The three local dates a UTC day can show on a wall clock (offsets within +-24 h)."""
    one = dt.timedelta(days=1)
    return (day - one, day, day + one)


def local_wall_clock(at: dt.datetime, timezone: str) -> dt.datetime:
    """What the office's wall clock shows at ``at`` (naive local datetime)."""
    return at.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
