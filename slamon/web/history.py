"""Daily availability of one service over the last days, through the SLA engine.

One read of the rollups, revisions and exclusions, then the engine measures each UTC
day as its own window (service hours, maintenance and exclusions applied, as for the
period measure). A day with nothing observed in eligible time is ``None``: a gap on
the chart, never 0 or 100 % (a day without service hours has ``eligible_minutes`` 0). Blocking (database reads): call it from a worker thread.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from slamon.assess import target_segments
from slamon.core.catalogue import Catalogue
from slamon.core.indicators import probed_from
from slamon.core.model import Period, Service
from slamon.core.sla.calendar import office_calendars
from slamon.core.sla.context import service_context
from slamon.core.sla.exclusions import Exclusion
from slamon.core.sla.masks import MaskCache
from slamon.core.sla.measure import measure_service
from slamon.core.sla.periods import PeriodWindow, local_midnight, period_containing
from slamon.store import Store, codec

DEFAULT_DAYS = 90


@dataclass(frozen=True, slots=True)
class DayPoint:
    day: dt.date
    availability: float | None  # 0..1; None: nothing observed in eligible time
    observed_minutes: int
    eligible_minutes: int
    latency: float | None = None  # share of observed minutes under the threshold; None: no objective or nothing observed
    latency_target: float | None = None  # ratio 0..1 in force that day


@dataclass(frozen=True, slots=True)
class BurnPoint:
    """The error budget of the current SLA period up to the end of one day (office time)."""

    day: dt.date  # a day in the office's timezone
    bad_minutes: int  # cumulative from the period's start
    budget_minutes: float  # cumulative: (1 - target) x observed eligible minutes so far


@dataclass(frozen=True, slots=True)
class BudgetBurn:
    vantage: str
    period: str  # the SLA period's label, e.g. 2026-11
    timezone: str
    points: list[BurnPoint]  # one per day from the period's start to today
    days: int  # days in the whole period (office time)


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
            lat = m.objectives.get("latency")
            points.append(DayPoint(
                day, avail, m.observed_minutes, m.eligible_minutes,
                latency=lat.actual if lat is not None and m.observed_minutes else None,
                latency_target=lat.target_ratio if lat is not None else None,
            ))
        out[vantage] = points
    return out


def budget_burn(store: Store, catalogue: Catalogue, service: Service, now: dt.datetime) -> list[BudgetBurn]:
    """Per vantage, the error budget of the service's current SLA period day by day: the
    bad minutes so far against the budget so far, each day measured by the SLA engine
    (service hours, maintenance and exclusions applied) and added up, so the last point
    is the period's measure to date. Blocking (database reads)."""
    office = catalogue.offices[service.office]
    sla = catalogue.sla(service)
    period = period_containing(sla.period, now, office.timezone)
    tz = ZoneInfo(office.timezone)
    first_local = period.start.astimezone(tz).date()
    last_local = min(now, period.end - dt.timedelta(microseconds=1)).astimezone(tz).date()
    first_utc = period.start.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    today = now.astimezone(dt.UTC).date()
    stored: dict[str, dict[dt.date, object]] = {}
    for r in store.rollups_between(first_utc, today, service_ids=[service.id], with_counts=True):
        stored.setdefault(r.vantage, {})[r.day] = r
    revisions = []
    if service.id in store.known_service_ids():
        revisions = [(codec.service_from_body(r.body), r.valid_from) for r in store.revisions(service.id)]
    targets = target_segments(service, catalogue, revisions)
    rows = store.exclusions(service_id=service.id, start=period.start, end=period.end)
    cache = MaskCache()
    calendars = office_calendars(office)
    out = []
    for vantage in sorted(probed_from(service) | set(stored)):
        excl = tuple(sorted(
            (Exclusion(r.starts_at, r.ends_at, r.reason, r.approver) for r in rows if r.vantage in (None, vantage)),
            key=lambda e: (e.start, e.end),
        ))
        ctx = service_context(service, office, exclusions=excl, calendars=calendars)
        mine = stored.get(vantage, {})
        bad, budget, points = 0, 0.0, []
        day = first_local
        while day <= last_local:
            start = max(period.start, local_midnight(day, office.timezone))
            end = min(period.end, local_midnight(day + dt.timedelta(days=1), office.timezone))
            window = PeriodWindow(Period.rolling_30d, day.isoformat(), start, end, office.timezone)
            near = {d: mine[d] for d in _utc_days(start, end) if d in mine}
            m = measure_service(ctx, vantage, window, targets, near, now, cache)
            bad += m.bad_minutes
            budget += m.budget_seconds / 60
            points.append(BurnPoint(day, bad, budget))
            day += dt.timedelta(days=1)
        days = (period.end.astimezone(tz).date() - first_local).days
        out.append(BudgetBurn(vantage, period.label, office.timezone, points, max(days, len(points))))
    return out


def _utc_days(start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    a = start.astimezone(dt.UTC).date()
    b = (end - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()
    return [a + dt.timedelta(days=i) for i in range((b - a).days + 1)]
