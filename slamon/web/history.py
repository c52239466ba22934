"""Daily availability of one service over the last days, through the SLA engine.

One read of the rollups, revisions and exclusions, then the engine measures each UTC
day as its own window (service hours, maintenance and exclusions applied, as for the
period measure). A day with nothing observed in eligible time is ``None``: a gap on
the chart, never 0 or 100 % (a day without service hours has ``eligible_minutes`` 0). Blocking (database reads): call it from a worker thread.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from slamon.assess import target_segments
from slamon.core.catalogue import Catalogue
from slamon.core.indicators import probed_from
from slamon.core.model import Period, Service
from slamon.core.sla.calendar import office_calendars
from slamon.core.sla.context import service_context
from slamon.core.sla.exclusions import Exclusion
from slamon.core.sla.masks import MaskCache
from slamon.core.sla.measure import measure_service
from slamon.core.sla.periods import PeriodWindow
from slamon.store import Store, codec

DEFAULT_DAYS = 90


@dataclass(frozen=True, slots=True)
class DayPoint:
    day: dt.date
    availability: float | None  # 0..1; None: nothing observed in eligible time
    observed_minutes: int
    eligible_minutes: int


def daily_availability(
    store: Store, catalogue: Catalogue, service: Service, now: dt.datetime, days: int = DEFAULT_DAYS
) -> dict[str, list[DayPoint]]:
    """vantage -> one point per UTC day, oldest first, ending today (so far)."""
    today = now.astimezone(dt.UTC).date()
    first = today - dt.timedelta(days=days - 1)
    stored: dict[str, dict[dt.date, object]] = {}
    for r in store.rollups_between(first, today, service_ids=[service.id], with_counts=True):
        stored.setdefault(r.vantage, {})[r.day] = r
    revisions = []
    if service.id in store.known_service_ids():
        revisions = [(codec.service_from_body(r.body), r.valid_from) for r in store.revisions(service.id)]
    targets = target_segments(service, catalogue, revisions)
    office = catalogue.offices[service.office]
    start = dt.datetime.combine(first, dt.time(), dt.UTC)
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.UTC)
    rows = store.exclusions(service_id=service.id, start=start, end=end)
    cache = MaskCache()
    calendars = office_calendars(office)
    out: dict[str, list[DayPoint]] = {}
    for vantage in sorted(probed_from(service) | set(stored)):
        excl = tuple(
            sorted(
                (Exclusion(r.starts_at, r.ends_at, r.reason, r.approver) for r in rows if r.vantage in (None, vantage)),
                key=lambda e: (e.start, e.end),
            )
        )
        ctx = service_context(service, office, exclusions=excl, calendars=calendars)
        mine = stored.get(vantage, {})
        points = []
        for i in range(days):
            day = first + dt.timedelta(days=i)
            day_start = dt.datetime.combine(day, dt.time(), dt.UTC)
            window = PeriodWindow(Period.rolling_30d, day.isoformat(), day_start, day_start + dt.timedelta(days=1), "UTC")
            rollup = {day: mine[day]} if day in mine else {}
            m = measure_service(ctx, vantage, window, targets, rollup, now, cache)
            avail = m.availability if m.observed_minutes else None
            points.append(DayPoint(day, avail, m.observed_minutes, m.eligible_minutes))
        out[vantage] = points
    return out
