"""The seam between the store and the SLA maths: one UTC day of one service at one
vantage, minute by minute.

Why bitmaps: eligibility (service hours in the office's timezone, holidays,
maintenance, exclusions) is known to the minute and can be asked for any period
later, so rollups must keep minute resolution; 1,440 bits per day keep a biennium
of one service at about 260 KB and make "good minutes inside eligible minutes" a
bitwise AND and a popcount. Days are UTC days, so DST never changes their length.

Bit ``i`` of a bitmap is minute ``i`` of the UTC day (00:00 is bit 0).
Latency and step verdicts are taken with the thresholds in force when the result
arrived: a later target change does not rewrite history.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from slamon.core.results import LOCAL_FAULT, ProbeResult

MINUTES_PER_DAY = 1440
ALL_MINUTES = (1 << MINUTES_PER_DAY) - 1


@dataclass(frozen=True, slots=True)
class DayRollup:
    vantage: str
    service_id: str
    day: dt.date  # UTC day
    observed: int = 0  # minutes with at least one probe result
    good: int = 0  # observed minutes in which every result succeeded (subset of observed)
    fast: int = 0  # observed minutes in which every timed result met the latency threshold
    steps_ok: int = 0  # observed minutes in which every journey step met its max duration
    total_counts: bytes = bytes(MINUTES_PER_DAY)  # results per minute, saturating at 255
    good_counts: bytes = bytes(MINUTES_PER_DAY)  # successful results per minute, saturating

    def merge(self, other: DayRollup) -> DayRollup:
        """Combine two partial rollups of the same day (e.g. two write batches)."""
        assert (self.vantage, self.service_id, self.day) == (
            other.vantage,
            other.service_id,
            other.day,
        )
        return DayRollup(
            self.vantage,
            self.service_id,
            self.day,
            *merge_parts(
                self.observed, self.good, self.fast, self.steps_ok, self.total_counts, self.good_counts, other
            ),
        )


def merge_parts(
    observed: int, good: int, fast: int, steps_ok: int, total_counts: bytes, good_counts: bytes, other: DayRollup
) -> tuple[int, int, int, int, bytes, bytes]:
    """The data fields (observed, good, fast, steps_ok, total_counts, good_counts) of a
    day rollup with these fields merged with ``other`` of the same day: what
    ``DayRollup.merge`` does, for the store's write path, which merges each batch
    into the stored day without building a ``DayRollup`` of the stored row."""
    merged = observed | other.observed
    # a minute is good only if good in every part that observed it
    bad = (observed & ~good) | (other.observed & ~other.good)
    slow = (observed & ~fast) | (other.observed & ~other.fast)
    steps_bad = (observed & ~steps_ok) | (other.observed & ~other.steps_ok)
    return (
        merged,
        merged & ~bad,
        merged & ~slow,
        merged & ~steps_bad,
        _add_saturating(total_counts, other.total_counts),
        _add_saturating(good_counts, other.good_counts),
    )


def _add_saturating(a: bytes, b: bytes) -> bytes:
    """Per-minute sums of two count arrays, saturating at 255.

    The write path merges every batch into the stored day, and a batch covers a
    few minutes: only the span of ``b`` between its first and last non-zero byte
    is added (outside it the sum is ``a``). Where every byte of the span is below
    128 no sum can overflow, so one big-integer addition adds them all at once."""
    if len(a) != len(b):
        raise ValueError(f"count arrays of different lengths: {len(a)} and {len(b)}")
    # byte i of b is bits 8i..8i+7 of this number: its lowest and highest set bits
    # give the first and last non-zero bytes (faster than stripping zero bytes)
    spread = int.from_bytes(b, "little")
    if not spread:
        return a
    lo, hi = ((spread & -spread).bit_length() - 1) >> 3, (spread.bit_length() + 7) >> 3
    part_a, part_b = a[lo:hi], b[lo:hi]
    if part_a.isascii() and part_b.isascii():
        summed = (int.from_bytes(part_a, "big") + int.from_bytes(part_b, "big")).to_bytes(hi - lo, "big")
    else:
        summed = bytes(min(255, x + y) for x, y in zip(part_a, part_b, strict=True))
    return a[:lo] + summed + a[hi:]


BITMAP_BYTES = MINUTES_PER_DAY // 8  # 180
_EPOCH_DAY = dt.date(1970, 1, 1)


def bitmap_to_bytes(bitmap: int) -> bytes:
    """A day bitmap as 180 bytes, big-endian (minute 0 is the lowest bit of the last byte)."""
    return bitmap.to_bytes(BITMAP_BYTES, "big")


def bitmap_from_bytes(data: bytes) -> int:
    if len(data) != BITMAP_BYTES:
        raise ValueError(f"a day bitmap is {BITMAP_BYTES} bytes, got {len(data)}")
    return int.from_bytes(data, "big")


class DayFold:
    """One day being folded: the minutes observed, bad, slow and with a step too slow,
    and the saturating per-minute counts (the builder's, and the store's delta fold)."""

    __slots__ = ("bad", "good_n", "observed", "slow", "steps_bad", "total")

    def __init__(self) -> None:
        self.observed = 0
        self.bad = 0
        self.slow = 0
        self.steps_bad = 0
        self.total = bytearray(MINUTES_PER_DAY)
        self.good_n = bytearray(MINUTES_PER_DAY)

    def rollup(self, vantage: str, service_id: str, day: dt.date) -> DayRollup:
        observed = self.observed
        return DayRollup(
            vantage, service_id, day,
            observed=observed, good=observed & ~self.bad, fast=observed & ~self.slow,
            steps_ok=observed & ~self.steps_bad, total_counts=bytes(self.total), good_counts=bytes(self.good_n),
        )  # fmt: skip


class RollupBuilder:
    """Folds probe results into ``DayRollup`` values by UTC day and minute.

    Verdicts per result, with the thresholds in force when it is added:
    - good: the result succeeded;
    - fast: it succeeded within ``latency_threshold_seconds`` (a failed result gave
      no answer in time, so it is never fast); with no threshold every result is fast;
    - steps ok: a journey none of whose steps took longer than
      ``step_max_duration_seconds`` and which did not fail with ``step_timeout``;
      results of other kinds do not affect it.
    A minute is good/fast/steps-ok when every result in it is. A local fault (reason
    ``local``: the monitor itself failed) is skipped: it says nothing about the
    service, so a minute with only local faults stays unobserved, never bad. A warning
    on a successful result changes nothing here either. Folding the same
    results in several builders and merging the rollups (``DayRollup.merge``) gives
    the same answer as folding them in one, so batches can be written one by one.
    """

    __slots__ = ("_days",)

    def __init__(self) -> None:
        self._days: dict[tuple[str, str, int], DayFold] = {}

    def __len__(self) -> int:
        return len(self._days)

    def add(
        self,
        result: ProbeResult,
        latency_threshold_seconds: float | None = None,
        step_max_duration_seconds: float | None = None,
    ) -> None:
        outcome = result.outcome
        if outcome.reason is LOCAL_FAULT:
            return
        seconds = math.floor(result.started_at)
        day_index, second_of_day = divmod(seconds, 86400)
        minute = second_of_day // 60
        key = (result.vantage, result.service_id, day_index)
        day = self._days.get(key)
        if day is None:
            day = self._days[key] = DayFold()
        bit = 1 << minute
        day.observed |= bit
        if day.total[minute] < 255:
            day.total[minute] += 1
        if outcome.success:
            if day.good_n[minute] < 255:
                day.good_n[minute] += 1
            if latency_threshold_seconds is not None and outcome.duration_seconds > latency_threshold_seconds:
                day.slow |= bit
        else:
            day.bad |= bit
            if latency_threshold_seconds is not None:
                day.slow |= bit
        if outcome.reason == "step_timeout" or (
            step_max_duration_seconds is not None
            and any(s.duration_seconds > step_max_duration_seconds for s in outcome.steps)
        ):
            day.steps_bad |= bit

    def spans(self) -> list[tuple[str, str, dt.date, int, int, int, int, int, bytes, bytes]]:
        """What ``rollups`` gives, cut to the minutes observed: per day, ``(vantage,
        service_id, day, first, observed, good, fast, steps_ok, total_counts,
        good_counts)`` with the bitmaps shifted right by ``first`` (the first observed
        minute) and the counts of minutes ``first`` up to the last observed one. The
        store's write path: a batch touches a few minutes of each day."""
        out = []
        days: dict[int, dt.date] = {}
        for (vantage, service_id, day_index), d in self._days.items():
            day = days.get(day_index)
            if day is None:
                day = days[day_index] = _EPOCH_DAY + dt.timedelta(days=day_index)
            observed = d.observed
            lo = (observed & -observed).bit_length() - 1
            hi = observed.bit_length()
            out.append((
                vantage, service_id, day, lo, observed >> lo, (observed & ~d.bad) >> lo,
                (observed & ~d.slow) >> lo, (observed & ~d.steps_bad) >> lo,
                bytes(d.total[lo:hi]), bytes(d.good_n[lo:hi]),
            ))  # fmt: skip
        return out

    def rollups(self) -> list[DayRollup]:
        return [
            d.rollup(vantage, service_id, _EPOCH_DAY + dt.timedelta(days=day_index))
            for (vantage, service_id, day_index), d in self._days.items()
        ]
