"""Recorded exclusions: an approved UTC interval taken out of a service's SLA.

Unlike maintenance (planned in the catalogue), an exclusion is recorded after the fact
(``slamon exclude``) with a reason and an approver, and listed in reports. Like
maintenance it leaves both the numerator and the denominator. A minute is excluded
when its first instant lies in ``[start, end)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from slamon.core.sla.localtime import MINUTES_PER_DAY, range_bits
from slamon.core.sla.periods import UTC, epoch_minute


@dataclass(frozen=True, slots=True)
class Exclusion:
    start: dt.datetime  # aware
    end: dt.datetime  # aware, after start
    reason: str
    approver: str

    def __post_init__(self) -> None:
        for at in (self.start, self.end):
            if at.tzinfo is None or at.utcoffset() is None:
                raise ValueError("an exclusion needs timezone-aware instants")
        if self.end <= self.start:
            raise ValueError("an exclusion must end after it starts")
        if not self.reason.strip() or not self.approver.strip():
            raise ValueError("an exclusion needs a reason and an approver")

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def exclusion_mask(exclusions: Iterable[Exclusion], day: dt.date) -> int:
    """Minutes of UTC ``day`` covered by any of ``exclusions``."""
    day_start = epoch_minute(dt.datetime(day.year, day.month, day.day, tzinfo=UTC))
    out = 0
    for ex in exclusions:
        first = epoch_minute(ex.start) - day_start
        end = epoch_minute(ex.end) - day_start
        if end > 0 and first < MINUTES_PER_DAY:
            out |= range_bits(max(first, 0), min(end, MINUTES_PER_DAY))
    return out
