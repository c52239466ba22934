"""Eligible-minute masks per UTC day, and the cache that shares them.

    eligible = service hours - maintenance - recorded exclusions

Each is a 1,440-bit int per UTC day (bit ``i`` = minute ``i`` from 00:00 UTC), the same
layout as ``DayRollup``; measuring is then AND and ``int.bit_count()``.

Non-eligible time is split without double counting, in this order: outside service
hours first, then maintenance (inside hours), then excluded (inside hours, outside
maintenance). A maintenance window at night on a business-hours calendar therefore
adds no maintenance minutes: that time was not eligible anyway.

``MaskCache`` is owned by its caller (the daemon, a report run, a benchmark); nothing is
cached globally except the tz-database offset runs. Calendars are keyed by identity:
after a catalogue reload, start a new cache. What it shares: a calendar's mask
for a UTC day (the same for every service of the office), and the per-day plan of a
scope over a range of minutes (the same for every service with the same calendar,
maintenance and exclusions), kept in a bounded LRU.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from slamon.core.sla.calendar import OfficeCalendar
from slamon.core.sla.exclusions import Exclusion, exclusion_mask
from slamon.core.sla.localtime import ALL_DAY, MINUTES_PER_DAY, range_bits
from slamon.core.sla.maintenance import MaintenanceSchedule
from slamon.core.sla.periods import UTC, epoch_minute_floor

EPOCH_DATE = dt.date(1970, 1, 1)


@dataclass(frozen=True, eq=False)
class Scope:
    """What decides eligibility for one service under one schedule."""

    calendar: OfficeCalendar
    maintenance: MaintenanceSchedule | None = None
    exclusions: tuple[Exclusion, ...] = ()

    @property
    def key(self) -> tuple[Hashable, ...]:
        # calendars compare by identity, schedules and exclusions by value
        return (self.calendar, self.maintenance, self.exclusions)


@dataclass(frozen=True, slots=True)
class DayMasks:
    day: dt.date
    hours: int
    maintenance: int  # raw maintenance minutes (also outside hours)
    excluded: int  # raw excluded minutes
    eligible: int

    def split(self, window: int = ALL_DAY) -> tuple[int, int, int]:
        """Non-eligible minutes inside ``window``: (outside hours, maintenance, excluded)."""
        outside = window & ~self.hours
        maint = window & self.hours & self.maintenance
        excl = window & self.hours & ~self.maintenance & self.excluded
        return outside, maint, excl


@dataclass(frozen=True, slots=True)
class Plan:
    """A scope over ``[first_minute, end_minute)`` (epoch minutes), day by day."""

    days: tuple[dt.date, ...]
    eligible: tuple[int, ...]  # per day, clipped to the range
    counts: tuple[int, ...]  # per day, eligible minutes (popcount of ``eligible``)
    window_minutes: int
    eligible_minutes: int
    outside_hours_minutes: int
    maintenance_minutes: int
    excluded_minutes: int


class _Lru:
    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any) -> Any:
        value = self.data.get(key)
        if value is not None:
            self.data.move_to_end(key)
        return value

    def put(self, key: Any, value: Any) -> None:
        self.data[key] = value
        if len(self.data) > self.size:
            self.data.popitem(last=False)


@dataclass
class MaskCache:
    """Shared masks. One per daemon or report run; pass it to every call."""

    plan_size: int = 256
    day_size: int = 4096
    hours_size: int = 65536  # calendars x days: a biennium of 80 calendars
    _hours: _Lru = field(init=False)
    _days: _Lru = field(init=False)
    _plans: _Lru = field(init=False)

    def __post_init__(self) -> None:
        self._hours = _Lru(self.hours_size)
        self._days = _Lru(self.day_size)
        self._plans = _Lru(self.plan_size)

    def hours(self, calendar: OfficeCalendar, day: dt.date) -> int:
        key = (calendar, day)
        mask = self._hours.get(key)
        if mask is None:
            mask = calendar.utc_day_mask(day)
            self._hours.put(key, mask)
        return mask

    def day(self, scope: Scope, day: dt.date) -> DayMasks:
        key = (scope.key, day)
        masks = self._days.get(key)
        if masks is None:
            masks = self._compute_day(scope, day)
            self._days.put(key, masks)
        return masks

    def _compute_day(self, scope: Scope, day: dt.date) -> DayMasks:
        hours = self.hours(scope.calendar, day)
        maint = scope.maintenance.utc_day_mask(day) if scope.maintenance else 0
        excl = exclusion_mask(scope.exclusions, day) if scope.exclusions else 0
        return DayMasks(day, hours, maint, excl, hours & ~maint & ~excl)

    def plan(self, scope: Scope, first_minute: int, end_minute: int) -> Plan:
        key = (scope.key, first_minute, end_minute)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._compute_plan(scope, first_minute, end_minute)
            self._plans.put(key, plan)
        return plan

    def _compute_plan(self, scope: Scope, first_minute: int, end_minute: int) -> Plan:
        days: list[dt.date] = []
        eligible: list[int] = []
        counts: list[int] = []
        window_n = eligible_n = outside_n = maint_n = excl_n = 0
        if end_minute > first_minute:
            first_day = first_minute // MINUTES_PER_DAY
            last_day = (end_minute - 1) // MINUTES_PER_DAY
            for n in range(first_day, last_day + 1):
                day = EPOCH_DATE + dt.timedelta(days=n)
                base = n * MINUTES_PER_DAY
                window = range_bits(max(first_minute - base, 0), min(end_minute - base, MINUTES_PER_DAY))
                if scope.maintenance is None and not scope.exclusions:
                    hours = self.hours(scope.calendar, day)
                    masks = DayMasks(day, hours, 0, 0, hours)
                else:
                    masks = self._compute_day(scope, day)  # plans are cached; days need not be
                    _outside, maint, excl = masks.split(window)
                    maint_n += maint.bit_count()
                    excl_n += excl.bit_count()
                elig = masks.eligible & window
                elig_n = elig.bit_count()
                days.append(day)
                eligible.append(elig)
                counts.append(elig_n)
                window_n += window.bit_count()
                eligible_n += elig_n
                outside_n += (window & ~masks.hours).bit_count()
        return Plan(tuple(days), tuple(eligible), tuple(counts), window_n, eligible_n, outside_n, maint_n, excl_n)


def is_eligible(at: dt.datetime, scope: Scope, cache: MaskCache) -> bool:
    """Is the minute containing ``at`` eligible? (The daemon counts in-scope events with it.)"""
    minute = epoch_minute_floor(at)
    day_n, bit = divmod(minute, MINUTES_PER_DAY)
    masks = cache.day(scope, EPOCH_DATE + dt.timedelta(days=day_n))
    return bool(masks.eligible >> bit & 1)


def day_of(at: dt.datetime) -> dt.date:
    return at.astimezone(UTC).date()
