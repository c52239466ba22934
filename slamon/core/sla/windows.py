"""Maintenance windows as named UTC intervals: what is planned between two instants.

The same rules as ``slamon.core.sla.maintenance`` (which gives per-minute masks for the
SLA maths): a recurring window starts at ``start`` local time on each matching date and
lasts ``duration`` of wall-clock time; a one-off window without an offset is local wall
clock, one with an offset is absolute. Used for the status page's "upcoming
maintenance" and for the Alertmanager silences the daemon creates. Pure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from slamon.core.model import OneOffMaintenance, RecurringMaintenance, Service, time_to_minutes
from slamon.core.sla.maintenance import Recurring

UTC = dt.UTC


@dataclass(frozen=True, slots=True, order=True)
class Window:
    start: dt.datetime  # UTC
    end: dt.datetime  # UTC, exclusive
    service_id: str
    name: str

    @property
    def key(self) -> str:
        """Stable id of this occurrence: service, window name and start (for idempotence)."""
        return f"{self.service_id}|{self.name}|{self.start.strftime('%Y-%m-%dT%H:%MZ')}"


def _local_to_utc(naive: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return naive.replace(tzinfo=zone).astimezone(UTC)


def windows_between(
    service: Service, timezone: str, start: dt.datetime, end: dt.datetime
) -> list[Window]:
    """The service's maintenance windows that overlap ``[start, end)`` (UTC-aware), sorted."""
    zone = ZoneInfo(timezone)
    found: list[Window] = []
    for item in service.maintenance:
        if isinstance(item, RecurringMaintenance):
            rule = Recurring(
                item.every,
                time_to_minutes(item.start),
                item.duration / 60.0,
                frozenset(d.index for d in item.days or ()),
                item.day_of_month or 0,
            )
            span = dt.timedelta(seconds=item.duration)
            first = start.astimezone(zone).date() - dt.timedelta(days=span.days + 2)
            last = end.astimezone(zone).date() + dt.timedelta(days=1)
            date = first
            while date <= last:
                if rule.occurs_on(date):
                    local = dt.datetime(date.year, date.month, date.day) + dt.timedelta(minutes=rule.start_minute)
                    w_start, w_end = _local_to_utc(local, zone), _local_to_utc(local + span, zone)
                    if w_end > start and w_start < end:
                        found.append(Window(w_start, w_end, service.id, item.name))
                date += dt.timedelta(days=1)
        elif isinstance(item, OneOffMaintenance):
            if item.from_.tzinfo is None:
                w_start, w_end = _local_to_utc(item.from_, zone), _local_to_utc(item.to, zone)
            else:
                w_start, w_end = item.from_.astimezone(UTC), item.to.astimezone(UTC)
            if w_end > start and w_start < end:
                found.append(Window(w_start, w_end, service.id, item.name))
    return sorted(found)
