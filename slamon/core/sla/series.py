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
from collections.abc import Iterator, Mapping

from slamon.core.sla.rollup import ALL_MINUTES, DayRollup

COMPLETE = 1  # every minute observed and good
FAST = 2  # ... and fast
STEPS = 4  # ... and with steps ok
_ALL_FLAGS = COMPLETE | FAST | STEPS
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_WITH = (COMPLETE, COMPLETE | FAST, COMPLETE | STEPS, COMPLETE | FAST | STEPS)  # by fast + 2 x steps
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


def _consecutive(ordinals: list[int], a: int, b: int) -> Iterator[tuple[int, int]]:
    """Index ranges ``[i, j)`` covering ``a..b`` in which the (sorted, distinct)
    ordinals are consecutive."""
    if ordinals[b] - ordinals[a] == b - a:
        yield a, b + 1
        return
    mid = (a + b) // 2
    yield from _consecutive(ordinals, a, mid)
    yield from _consecutive(ordinals, mid + 1, b)


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
        ordinals = [d.toordinal() for d in days]
        # one byte per day, in the mapping's order (one pass: about 100 ns a day)
        full = ALL_MINUTES
        compact = bytes(
            [
                (r.observed == full and r.good == full) and _WITH[(r.fast == full) + 2 * (r.steps_ok == full)]
                for r in rollups
            ]
        )
        n = len(ordinals)
        if ordinals == sorted(ordinals):  # in order (as stores read them)
            lo, hi = ordinals[0], ordinals[-1]
            if hi - lo + 1 == n:
                flags = compact
            else:  # copy the runs of consecutive days (found by halving: gaps are few)
                buf = bytearray(hi - lo + 1)
                for a, b in _consecutive(ordinals, 0, n - 1):
                    at = ordinals[a] - lo
                    buf[at : at + b - a] = compact[a:b]
                flags = bytes(buf)
        else:  # out of order: place each day
            lo, hi = min(ordinals), max(ordinals)
            buf = bytearray(hi - lo + 1)
            for o, f in zip(ordinals, compact, strict=True):
                buf[o - lo] = f
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



class CompactSeries(DaySeries):
    """A ``DaySeries`` whose full days (every minute observed, good, fast and with steps
    ok: flags ``COMPLETE | FAST | STEPS``, most days) are not held as rollups but made
    when asked for: what a store builds without decoding them. ``days`` holds the other
    days only, which are the ones the engine visits (a full day is complete for any
    objective); reading the mapping gives every day, as ``DaySeries`` does."""

    __slots__ = ("_count", "service_id", "vantage")

    def __init__(
        self, days: Mapping[dt.date, DayRollup], first: int, flags: bytes, vantage: str, service_id: str, count: int
    ) -> None:
        super().__init__(days, first, flags)
        self.vantage, self.service_id, self._count = vantage, service_id, count

    def _full(self, day: object) -> bool:
        if not isinstance(day, dt.date):
            return False
        i = day.toordinal() - _EPOCH_ORDINAL - self.first
        return 0 <= i < len(self.flags) and self.flags[i] == _ALL_FLAGS and day not in self.days

    def _made(self, day: dt.date) -> DayRollup:
        return DayRollup(self.vantage, self.service_id, day, ALL_MINUTES, ALL_MINUTES, ALL_MINUTES, ALL_MINUTES)

    def __getitem__(self, day: dt.date) -> DayRollup:
        r = self.days.get(day)
        if r is None:
            if not self._full(day):
                raise KeyError(day)
            return self._made(day)
        return r

    def get(self, day: dt.date, default: DayRollup | None = None) -> DayRollup | None:  # type: ignore[override]
        r = self.days.get(day)
        if r is None:
            return self._made(day) if self._full(day) else default
        return r

    def __contains__(self, day: object) -> bool:
        return day in self.days or self._full(day)

    def __iter__(self) -> Iterator[dt.date]:
        base = dt.date.fromordinal(self.first + _EPOCH_ORDINAL)
        for i, f in enumerate(self.flags):
            day = base + dt.timedelta(days=i)
            if f == _ALL_FLAGS or day in self.days:
                yield day

    def __len__(self) -> int:
        return self._count


def compact_series(
    vantage: str, service_id: str, full_ordinals: list[int], others: dict[dt.date, DayRollup]
) -> DaySeries:
    """The series of one service and vantage from the ordinals of its full days and the
    rollups of its other days (see ``CompactSeries``)."""
    if not full_ordinals:
        return DaySeries.from_rollups(others)
    ordinals = full_ordinals + [d.toordinal() for d in others]
    lo, hi = min(ordinals), max(ordinals)
    buf = bytearray(hi - lo + 1)
    for o in full_ordinals:
        buf[o - lo] = _ALL_FLAGS
    for d, r in others.items():
        buf[d.toordinal() - lo] = completeness(r)
    return CompactSeries(others, lo - _EPOCH_ORDINAL, bytes(buf), vantage, service_id, len(ordinals))
