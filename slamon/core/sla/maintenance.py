"""Planned maintenance: recurring windows in local time and one-off windows.

Rules (the wall-clock rule of ``localtime`` applies throughout):

- A recurring window starts at ``start`` on each matching local date (``every: day``;
  ``week`` on ``days``; ``month`` on ``day_of_month``, or on the month's last day when it
  is shorter) and lasts ``duration`` of wall-clock time, so it may cross midnight into
  the next dates.
- A one-off window written without an offset (``from: "2026-05-09T20:00"``) is local
  wall-clock time; one written with an offset or ``Z`` is an absolute interval.
- A minute is in maintenance when its first instant is inside a window; windows
  are half-open ``[from, to)``.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import math
from dataclasses import dataclass

from slamon.core.model import OneOffMaintenance, RecurringMaintenance, time_to_minutes
from slamon.core.sla.localtime import (
    LOCAL_SPAN,
    MINUTES_PER_DAY,
    offset_runs,
    range_bits,
    utc_day_bits,
)
from slamon.core.sla.periods import UTC, epoch_minute


@dataclass(frozen=True, slots=True)
class Recurring:
    every: str  # day | week | month
    start_minute: int  # local minute of the date (1440 = midnight at its end)
    duration_minutes: float
    weekdays: frozenset[int] = frozenset()  # Mon=0, for every: week
    day_of_month: int = 0  # for every: month

    def occurs_on(self, date: dt.date) -> bool:
        if self.every == "day":
            return True
        if self.every == "week":
            return date.weekday() in self.weekdays
        last = _calendar.monthrange(date.year, date.month)[1]
        return date.day == min(self.day_of_month, last)

    @property
    def span_minutes(self) -> int:
        """Whole minutes covered from the start (a partial last minute counts: its first
        instant is inside the window)."""
        return math.ceil(self.duration_minutes)


@dataclass(frozen=True, slots=True)
class OneOff:
    start: dt.datetime  # naive = local wall clock; aware = absolute
    end: dt.datetime

    @property
    def local(self) -> bool:
        return self.start.tzinfo is None


@dataclass(frozen=True)
class MaintenanceSchedule:
    timezone: str
    recurring: tuple[Recurring, ...] = ()
    one_off: tuple[OneOff, ...] = ()

    @classmethod
    def from_models(
        cls, items: list[RecurringMaintenance | OneOffMaintenance], timezone: str
    ) -> MaintenanceSchedule:
        recurring: list[Recurring] = []
        one_off: list[OneOff] = []
        for item in items:
            if isinstance(item, RecurringMaintenance):
                recurring.append(
                    Recurring(
                        item.every,
                        time_to_minutes(item.start),  # "24:00" = 00:00 the next day
                        item.duration / 60.0,
                        frozenset(d.index for d in item.days or ()),
                        item.day_of_month or 0,
                    )
                )
            else:
                one_off.append(OneOff(item.from_, item.to))
        return cls(timezone, tuple(recurring), tuple(one_off))

    @property
    def empty(self) -> bool:
        return not self.recurring and not self.one_off

    def utc_day_mask(self, day: dt.date) -> int:
        """Minutes of UTC ``day`` in planned maintenance. Cached by ``MaskCache``."""
        if self.empty:
            return 0
        origin = day - dt.timedelta(days=1)  # local bit 0 = 00:00 local on this date
        local = 0
        for rec in self.recurring:
            span = rec.span_minutes
            back = span // MINUTES_PER_DAY + 1  # earlier dates whose window may reach here
            for k in range(-back, 3):
                date = origin + dt.timedelta(days=k)
                if rec.occurs_on(date):
                    first = k * MINUTES_PER_DAY + rec.start_minute
                    local |= range_bits(max(first, 0), min(first + span, LOCAL_SPAN))
        absolute = 0
        day_start = epoch_minute(dt.datetime(day.year, day.month, day.day, tzinfo=UTC))
        for win in self.one_off:
            if win.local:
                base = dt.datetime(origin.year, origin.month, origin.day)
                first = math.ceil((win.start - base).total_seconds() / 60)
                end = math.ceil((win.end - base).total_seconds() / 60)
                local |= range_bits(max(first, 0), min(end, LOCAL_SPAN))
            else:
                first = epoch_minute(win.start) - day_start
                end = epoch_minute(win.end) - day_start
                absolute |= range_bits(max(first, 0), min(end, MINUTES_PER_DAY))
        return utc_day_bits(local, offset_runs(self.timezone, day)) | absolute


NO_MAINTENANCE_TZ = "UTC"


def no_maintenance(timezone: str = NO_MAINTENANCE_TZ) -> MaintenanceSchedule:
    return MaintenanceSchedule(timezone)
