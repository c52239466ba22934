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
from dataclasses import dataclass

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
        observed = self.observed | other.observed
        # a minute is good only if good in every part that observed it
        bad = (self.observed & ~self.good) | (other.observed & ~other.good)
        slow = (self.observed & ~self.fast) | (other.observed & ~other.fast)
        steps_bad = (self.observed & ~self.steps_ok) | (other.observed & ~other.steps_ok)
        return DayRollup(
            self.vantage,
            self.service_id,
            self.day,
            observed=observed,
            good=observed & ~bad,
            fast=observed & ~slow,
            steps_ok=observed & ~steps_bad,
            total_counts=_add_saturating(self.total_counts, other.total_counts),
            good_counts=_add_saturating(self.good_counts, other.good_counts),
        )


def _add_saturating(a: bytes, b: bytes) -> bytes:
    return bytes(min(255, x + y) for x, y in zip(a, b, strict=True))
