"""Service hours of an office calendar: weekly windows in local time, minus holidays.

``OfficeCalendar`` is the compiled, hashable form of a ``model.Calendar`` bound to its
office's timezone. The built-in ``24x7`` calendar is every minute of every day (public
holidays do not apply to it). Windows are read on the office's wall clock; see
``localtime`` for what that means on DST days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from slamon.core.model import BUILTIN_CALENDAR, Calendar, Office, time_to_minutes
from slamon.core.sla.localtime import (
    ALL_DAY,
    MINUTES_PER_DAY,
    local_dates,
    offset_runs,
    range_bits,
    utc_day_bits,
)


@dataclass(frozen=True, eq=False)
class OfficeCalendar:
    """Compiled service hours. Compared by identity: build one per office calendar and
    share it, so that its masks are cached once for every service that uses it."""

    name: str
    timezone: str
    always: bool = False  # the built-in 24x7 calendar
    windows: tuple[tuple[int, int, int], ...] = ()  # (weekday Mon=0, start minute, end minute)
    holidays: frozenset[dt.date] = frozenset()

    def __post_init__(self) -> None:
        week = [0] * 7
        for weekday, start, end in self.windows:
            week[weekday] |= range_bits(start, end)
        object.__setattr__(self, "_week", tuple(week))

    @classmethod
    def from_model(cls, name: str, calendar: Calendar, timezone: str) -> OfficeCalendar:
        windows = tuple(
            (day.index, time_to_minutes(h.start), time_to_minutes(h.end))
            for h in calendar.hours
            for day in h.days
        )
        return cls(name, timezone, False, windows, frozenset(h.date for h in calendar.holidays))

    @classmethod
    def always_on(cls, timezone: str) -> OfficeCalendar:
        return cls(BUILTIN_CALENDAR, timezone, always=True)

    def local_day_bits(self, date: dt.date) -> int:
        """Minutes of local ``date`` (bit 0 = 00:00 local) that are service hours."""
        if self.always:
            return ALL_DAY
        if date in self.holidays:
            return 0
        return self._week[date.weekday()]  # type: ignore[attr-defined]

    def in_hours(self, wall_clock: dt.datetime) -> bool:
        """Is this local wall-clock reading inside service hours?"""
        minute = wall_clock.hour * 60 + wall_clock.minute
        return bool(self.local_day_bits(wall_clock.date()) >> minute & 1)

    def utc_day_mask(self, day: dt.date) -> int:
        """Minutes of UTC ``day`` in service hours (bit 0 = 00:00 UTC). Not cached here:
        ``MaskCache.hours`` caches it per calendar and day."""
        if self.always:
            return ALL_DAY
        local = 0
        for i, date in enumerate(local_dates(day)):
            local |= self.local_day_bits(date) << (i * MINUTES_PER_DAY)
        return utc_day_bits(local, offset_runs(self.timezone, day))


def office_calendars(office: Office) -> dict[str, OfficeCalendar]:
    """Every calendar of an office by name, with the built-in ``24x7``."""
    out = {
        name: OfficeCalendar.from_model(name, cal, office.timezone)
        for name, cal in office.calendars.items()
    }
    out.setdefault(BUILTIN_CALENDAR, OfficeCalendar.always_on(office.timezone))
    return out
