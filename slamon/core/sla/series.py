"""The day rollups of one service at one vantage, with a per-day completeness series.

Most days of a healthy service are *complete*: every minute observed and good (and
fast, and with steps ok). Such a day adds exactly its eligible minutes to every count
and never continues an outage run, so the engine need not look at it: it takes the
eligible minutes of the whole part from the plan and visits only the other days.

``DaySeries`` is a read-only mapping UTC day -> ``DayRollup`` (what ``measure_service``
takes) that also carries ``flags``: one byte per day from ``first`` (days since
1970-01-01) over the span of its days, ``COMPLETE`` set when observed and good are
complete, plus ``FAST`` / ``STEPS`` when fast / steps ok are complete too (a missing
day, or one with some minute unobserved or bad, is 0). Build it where rollups are
decoded (``from_rollups``, the store's ``day_series_between``), once per service.
"""

from __future__ import annotations

import datetime as dt
import itertools
import operator
from collections.abc import Iterator, Mapping

from slamon.core.sla.rollup import ALL_MINUTES, DayRollup

COMPLETE = 1  # every minute observed and good
FAST = 2  # ... and fast
STEPS = 4  # ... and with steps ok
_ALL_FLAGS = COMPLETE | FAST | STEPS
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_FULL = (ALL_MINUTES,) * 4
_BITMAPS = operator.attrgetter("observed", "good", "fast", "steps_ok")
_ORDINAL = dt.date.toordinal


def completeness(r: DayRollup) -> int:
    """The flags of one day rollup."""
    if r.observed != ALL_MINUTES or r.good != ALL_MINUTES:
        return 0
    return COMPLETE | (FAST if r.fast == ALL_MINUTES else 0) | (STEPS if r.steps_ok == ALL_MINUTES else 0)


def need(fast: bool, steps: bool) -> int:
    """The flags a day needs to be complete for a part with these objectives."""
    return COMPLETE | (FAST if fast else 0) | (STEPS if steps else 0)


# per needed flags: a table mapping a flags byte to 1 (complete) or 0 (to visit)
MARKS = {n: bytes(int(f & n == n) for f in range(256)) for n in range(8)}


class DaySeries(Mapping[dt.date, DayRollup]):
    """``days``: the mapping itself (read it, do not change it); ``first``, ``flags``: the
    completeness series (see the module)."""

    __slots__ = ("days", "first", "flags")

    def __init__(self, days: Mapping[dt.date, DayRollup], first: int, flags: bytes) -> None:
        self.days = days
        self.first = first
        self.flags = flags

    @classmethod
    def from_rollups(cls, days: Mapping[dt.date, DayRollup]) -> DaySeries:
        """The series of ``days`` (a mapping UTC day -> rollup of one service and vantage)."""
        if isinstance(days, DaySeries):
            return days
        if not days:
            return cls({}, 0, b"")
        rollups = list(days.values())
        ordinals = list(map(_ORDINAL, days))
        lo, hi = min(ordinals), max(ordinals)
        # complete in every bitmap (the common case), tested with C-level iteration;
        # only the other days are looked at one by one
        full = list(map(operator.eq, map(_BITMAPS, rollups), itertools.repeat(_FULL)))
        compact = bytearray(map(operator.mul, full, itertools.repeat(_ALL_FLAGS)))
        i = compact.find(0)
        while i >= 0:
            compact[i] = completeness(rollups[i])
            i = compact.find(0, i + 1)
        span = hi - lo + 1
        if span == len(ordinals) and ordinals[0] == lo and ordinals == list(range(lo, hi + 1)):
            flags = bytes(compact)
        else:  # gaps or out of order: place each day
            buf = bytearray(span)
            for _ in map(buf.__setitem__, map(operator.sub, ordinals, itertools.repeat(lo)), compact):
                pass
            flags = bytes(buf)
        return cls(days, lo - _EPOCH_ORDINAL, flags)

    def window(self, first: int, n: int) -> bytes:
        """The flags of ``n`` days from day ``first`` (days since 1970-01-01); 0 outside."""
        a = first - self.first
        if a >= 0 and a + n <= len(self.flags):
            return self.flags[a : a + n]
        lo, hi = max(a, 0), max(min(a + n, len(self.flags)), 0)
        inside = self.flags[lo:hi] if hi > lo else b""
        before = min(max(-a, 0), n)
        return bytes(before) + inside + bytes(n - before - len(inside))

    def __getitem__(self, day: dt.date) -> DayRollup:
        return self.days[day]

    def get(self, day: dt.date, default: DayRollup | None = None) -> DayRollup | None:  # type: ignore[override]
        return self.days.get(day, default)

    def __contains__(self, day: object) -> bool:
        return day in self.days

    def __iter__(self) -> Iterator[dt.date]:
        return iter(self.days)

    def __len__(self) -> int:
        return len(self.days)

    def __repr__(self) -> str:
        return f"DaySeries({len(self.days)} days from day {self.first})"

