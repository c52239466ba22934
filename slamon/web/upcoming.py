"""Upcoming maintenance for the status page: each office's planned windows in the next
days, in the office's local time (the window maths is ``slamon.core.sla.windows``)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from slamon.core.catalogue import Catalogue
from slamon.core.model import Lifecycle
from slamon.core.sla.windows import windows_between

UPCOMING_DAYS = 7


def upcoming_maintenance(
    catalogue: Catalogue, now: dt.datetime, office_ids: list[str], days: int = UPCOMING_DAYS
) -> list[dict]:
    """Per office (in ``office_ids`` order, offices with none left out): the windows of its
    services under way or starting within ``days``, soonest first."""
    end = now + dt.timedelta(days=days)
    out = []
    for office_id in office_ids:
        office = catalogue.offices[office_id]
        zone = ZoneInfo(office.timezone)
        rows = []
        for service in catalogue.services_of(office_id):
            if service.lifecycle == Lifecycle.retired or not service.maintenance:
                continue
            for w in windows_between(service, office.timezone, now, end):
                start, stop = w.start.astimezone(zone), w.end.astimezone(zone)
                rows.append({
                    "service_id": service.id,
                    "service_name": service.name,
                    "name": w.name,
                    "start_utc": w.start.isoformat(),
                    "start": start.strftime("%a %d %b %H:%M"),
                    "end": stop.strftime("%H:%M" if stop.date() == start.date() else "%a %d %b %H:%M"),
                    "under_way": w.start <= now,
                    "sort": w.start,
                })
        if rows:
            rows.sort(key=lambda r: (r["sort"], r["service_id"]))
            out.append({"office": office_id, "city": office.city, "timezone": office.timezone, "windows": rows})
    return out
