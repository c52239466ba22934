"""Maintenance windows as intervals (slamon.core.sla.windows), checked minute by minute
against the SLA engine's own maintenance masks (slamon.core.sla.maintenance), and by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from slamon.core.model import Service
from slamon.core.sla.maintenance import MaintenanceSchedule
from slamon.core.sla.windows import windows_between
from tests.alerting_support import bundled_catalogue
from tests.daemon_support import service_doc

UTC = dt.UTC


def service_with(maintenance: list[dict]) -> Service:
    doc = service_doc("unog-svc", [])
    doc["maintenance"] = maintenance
    return Service.model_validate(doc)


def minutes_of(windows, day: dt.date) -> int:
    """Bit i set when minute i of UTC ``day`` starts inside a window."""
    start = dt.datetime(day.year, day.month, day.day, tzinfo=UTC)
    bits = 0
    for i in range(1440):
        t = start + dt.timedelta(minutes=i)
        if any(w.start <= t < w.end for w in windows):
            bits |= 1 << i
    return bits


MAINTENANCE = [
    {"name": "weekly patching", "every": "week", "days": ["sun"], "start": "02:00", "duration": "2h"},
    {"name": "nightly", "every": "day", "start": "23:30", "duration": "90m"},
    {"name": "month end", "every": "month", "day_of_month": 31, "start": "20:00", "duration": "6h"},
    {"name": "migration", "from": "2026-03-28T22:00", "to": "2026-03-29T04:00"},
    {"name": "absolute", "from": "2026-10-25T00:30:00Z", "to": "2026-10-25T01:10:00Z"},
]


@pytest.mark.parametrize("timezone", ["Europe/Zurich", "America/New_York", "Africa/Nairobi"])
def test_windows_agree_with_the_sla_masks_minute_by_minute(timezone):
    service = service_with(MAINTENANCE)
    schedule = MaintenanceSchedule.from_models(list(service.maintenance), timezone)
    # across both DST changes of 2026 in Europe and America, and month ends
    days = [dt.date(2026, 3, 27) + dt.timedelta(days=i) for i in range(8)]
    days += [dt.date(2026, 10, 24) + dt.timedelta(days=i) for i in range(10)]
    days += [dt.date(2026, 4, 29) + dt.timedelta(days=i) for i in range(4)]
    for day in days:
        start = dt.datetime(day.year, day.month, day.day, tzinfo=UTC)
        windows = windows_between(service, timezone, start, start + dt.timedelta(days=1))
        assert minutes_of(windows, day) == schedule.utc_day_mask(day), (timezone, day)


def test_windows_by_hand():
    service = service_with(MAINTENANCE[:1] + MAINTENANCE[3:4])
    start = dt.datetime(2026, 3, 23, tzinfo=UTC)  # a Monday
    got = windows_between(service, "Europe/Zurich", start, start + dt.timedelta(days=7))
    # Sunday 29 March 02:00 in Zurich is the DST gap: 02:00 CET does not exist; the
    # zoneinfo reading (fold 0, the offset before the change) gives 01:00 UTC
    assert [(w.name, w.start.isoformat(), w.end.isoformat()) for w in got] == [
        ("migration", "2026-03-28T21:00:00+00:00", "2026-03-29T02:00:00+00:00"),
        ("weekly patching", "2026-03-29T01:00:00+00:00", "2026-03-29T02:00:00+00:00"),
    ]
    assert got[1].key == "unog-svc|weekly patching|2026-03-29T01:00Z"


def test_bundled_catalogue_windows_agree_with_its_masks():
    catalogue = bundled_catalogue()
    checked = 0
    for service in catalogue.services.values():
        if not service.maintenance:
            continue
        timezone = catalogue.offices[service.office].timezone
        schedule = MaintenanceSchedule.from_models(list(service.maintenance), timezone)
        for day in (dt.date(2026, 5, 9), dt.date(2026, 5, 10), dt.date(2026, 11, 1)):
            start = dt.datetime(day.year, day.month, day.day, tzinfo=UTC)
            windows = windows_between(service, timezone, start, start + dt.timedelta(days=1))
            assert minutes_of(windows, day) == schedule.utc_day_mask(day), (service.id, day)
            checked += 1
    assert checked >= 6
