"""Build the report model from the store, through ``slamon.assess``.

    report = build_report(store, catalogue, "2012-2013", now)
    report = build_report(store, catalogue, "2013-Q2", now, offices=["unog"])

Indicators come from ``assess_indicators`` (the services as the catalogue stood at the
period's end, from the store's revisions); the previous period of the same kind (the
previous biennium for a biennium) gives the trend. The per-service SLA tables come from
``assess_period`` over the same services, with the breaches and exclusions the store
holds for the period. Blocking (database reads).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence

from exporters.reports.model import (
    SCHEMA,
    TOTAL,
    BreachEntry,
    ExclusionEntry,
    IndicatorRow,
    NotCounted,
    ObjectiveRow,
    OfficeSection,
    Report,
    SealedPeriods,
    ServiceRef,
    ServiceSla,
    Trend,
    VantageSla,
)
from slamon.assess import assess_indicators, assess_period, indicator_window
from slamon.core.catalogue import Catalogue
from slamon.core.indicators import DEFAULT_UNITS, IndicatorValue, biennium_of
from slamon.core.model import IndicatorId
from slamon.core.sla.masks import MaskCache
from slamon.core.sla.measure import UNPLANNED_OUTAGES, Measures
from slamon.core.sla.periods import (
    ROLLING_LABEL,
    PeriodError,
    PeriodWindow,
    parse_period,
    previous_period,
)
from slamon.store import BreachRow, ExclusionRow, Store

_MICRO = dt.timedelta(microseconds=1)
PREVIOUS_ROLLING = "previous-30d"  # the 30 days before a rolling-30d window
_EPSILON = 1e-9
SEALED_NOTE = (
    "Closed SLA periods are read from their sealed records, written once when each period "
    "closed and never recomputed (each service lists them, with when they were sealed); "
    "only periods not sealed are measured from the day rollups."
)
_TITLES = {
    IndicatorId.automated_services: ("(a)(i)", "Number of automated services"),
    IndicatorId.services_meeting_levels: (
        "(a)(ii)",
        "Percentage of services that meet expected standardized service levels",
    ),
    IndicatorId.iso_aligned_services: (
        "(b)",
        "Number of services delivered according to best practice as established by ISO",
    ),
}


def build_report(
    store: Store,
    catalogue: Catalogue,
    period: str,
    now: dt.datetime,
    *,
    offices: Iterable[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """The report for ``period`` (a label ``slamon.core.sla.periods`` reads) as of ``now``.

    ``offices`` restricts the report to those offices (no total then); ``progress(n)``
    is called as services are measured (the period's, then the previous period's).
    Raises ``PeriodError`` for a bad label."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    window = indicator_window(period, now)
    chosen = sorted(set(offices)) if offices is not None else None
    label: str | PeriodWindow = window if window.label == ROLLING_LABEL else window.label
    before = previous_period(window)
    before_label: str | PeriodWindow = before if before.label == ROLLING_LABEL else before.label
    cache = MaskCache()

    recorded = store.services_at(min(window.end - _MICRO, now))
    services = recorded or list(catalogue.services.values())
    recorded_before = bool(store.services_at(min(before.end - _MICRO, now)))
    names = {s.id: s.name for s in catalogue.services.values()} | {s.id: s.name for s in services}
    # the period's assessment once, for its indicators and its SLA tables
    assessment = assess_period(
        store, catalogue, label, now, services=services, offices=chosen, cache=cache, progress=progress
    )
    current = assess_indicators(
        store, label, now, catalogue=catalogue, offices=chosen, cache=cache, assessment=assessment
    )
    previous = assess_indicators(
        store, before_label, now, catalogue=catalogue, offices=chosen, cache=cache, progress=progress
    )
    previous_by_key = {(v.indicator, v.office): v.value for v in previous}

    breaches = _breaches(store, assessment.windows, window.start)
    service_rows: dict[str, list[ServiceSla]] = {}
    by_id = {s.id: s for s in services}
    sealed_entries: dict[str, list[SealedPeriods]] = {}
    for (sid, vantage), periods in sorted(assessment.sealed.items()):
        when = [sp.sealed_at for sp in periods]
        sealed_entries.setdefault(sid, []).append(
            SealedPeriods(
                vantage, periods[0].period.label, periods[-1].period.label, len(periods), min(when), max(when),
                [sp.period.label for sp in periods if sp.met is False],
            )
        )
    for sid, w in sorted(assessment.windows.items()):
        svc = by_id[sid]
        level = assessment.levels.get(sid)
        service_rows.setdefault(svc.office, []).append(
            ServiceSla(
                id=sid,
                name=svc.name,
                office=svc.office,
                tier=svc.tier,
                lifecycle=svc.lifecycle.value,
                start=w.start,
                end=w.end,
                timezone=w.timezone,
                met=level.met if level else None,
                vantages=[_vantage(m) for m in (level.per_vantage if level else ())],
                breaches=breaches.get(sid, []),
                exclusions=[_exclusion(r) for r in assessment.exclusions.get(sid, ())],
                sealed_periods=sealed_entries.get(sid, []),
            )
        )

    previous_label = PREVIOUS_ROLLING if before.label == ROLLING_LABEL else before.label
    rows: dict[str, list[IndicatorRow]] = {}
    for value in current:
        rows.setdefault(value.office, []).append(
            _indicator_row(value, catalogue, names, previous_label, previous_by_key.get((value.indicator, value.office)))
        )
    office_ids = chosen if chosen is not None else sorted(catalogue.offices)
    sections = []
    for oid in office_ids:
        office = catalogue.offices[oid]
        sections.append(
            OfficeSection(oid, office.name, office.city, office.timezone, rows.get(oid, []), service_rows.get(oid, []))
        )
    total = None
    if chosen is None:
        total = OfficeSection(TOTAL, "All offices", "", "UTC", rows.get(TOTAL, []))
    return Report(
        schema=SCHEMA,
        period=window.label,
        period_kind=str(window.kind.value),
        start=window.start,
        end=window.end,
        closed=window.closed(now),
        previous_period=previous_label,
        biennium=biennium_of((window.end - _MICRO).date()),
        generated_at=now.astimezone(dt.UTC),
        offices=sections,
        total=total,
        counts_from="revisions" if recorded else "catalogue",
        previous_counts_from="revisions" if recorded_before else "catalogue",
        sealed_note=SEALED_NOTE if assessment.sealed else "",
    )


def _indicator_row(
    value: IndicatorValue, catalogue: Catalogue, names: dict[str, str], previous_label: str, previous: float | None
) -> IndicatorRow:
    definition = next((d for d in catalogue.indicators.indicators if d.id == value.indicator), None)
    code, title = (definition.code, definition.title) if definition else _TITLES[value.indicator]
    direction = definition.direction if definition else "increase"
    unit = value.unit or DEFAULT_UNITS[value.indicator]
    change = None if value.value is None or previous is None else value.value - previous
    if change is None:
        trend, improved = Trend.none, None
    elif abs(change) < _EPSILON:
        trend, improved = Trend.flat, None
    else:
        trend = Trend.up if change > 0 else Trend.down
        improved = (change > 0) == (direction == "increase")
    met = None
    if value.value is not None and value.target is not None:
        if direction == "increase":
            met = value.value >= value.target - _EPSILON
        else:
            met = value.value <= value.target + _EPSILON

    def ref(sid: str) -> ServiceRef:
        return ServiceRef(sid, names.get(sid, sid))

    return IndicatorRow(
        indicator=value.indicator.value,
        code=code,
        title=title,
        unit=unit,
        direction=direction,
        office=value.office,
        biennium=value.biennium,
        baseline=value.baseline,
        target=value.target,
        actual=value.value,
        previous_period=previous_label,
        previous=previous,
        change=change,
        trend=trend,
        improved=improved,
        target_met=met,
        counted=[ref(s) for s in value.counted],
        not_counted=[NotCounted(s, names.get(s, s), list(reasons)) for s, reasons in value.not_counted],
        in_scope=[ref(s) for s in value.eligible] if value.eligible is not None else None,
    )


def _vantage(m: Measures) -> VantageSla:
    objectives = []
    for name, o in m.objectives.items():
        if name == UNPLANNED_OUTAGES:
            objectives.append(ObjectiveRow(name, "bad_minutes", o.target, o.actual if o.met is not None else None, o.met))
        else:
            actual = None if o.actual is None else 100.0 * o.actual
            objectives.append(ObjectiveRow(name, "percent", o.target, actual, o.met))
    burn = m.burn_rate
    finite = burn != float("inf")
    return VantageSla(
        vantage=m.vantage,
        met=m.met,
        window_minutes=m.window_minutes,
        eligible_minutes=m.eligible_minutes,
        observed_minutes=m.observed_minutes,
        good_minutes=m.good_minutes,
        bad_minutes=m.bad_minutes,
        unobserved_minutes=m.unobserved_minutes,
        outside_hours_minutes=m.outside_hours_minutes,
        maintenance_minutes=m.maintenance_minutes,
        excluded_minutes=m.excluded_minutes,
        outage_runs=m.outage_runs,
        objectives=objectives,
        budget_minutes=m.budget_seconds / 60,
        consumed_minutes=m.consumed_seconds / 60,
        remaining_minutes=m.remaining_seconds / 60,
        remaining_percent=100.0 * m.remaining_ratio if finite and m.budget_seconds > 0 else None,
        burn_rate=burn if finite else None,
    )


def _breaches(store: Store, windows: dict[str, PeriodWindow], since: dt.datetime) -> dict[str, list[BreachEntry]]:
    """Breaches of each service's window: those whose own SLA period (e.g. ``2013-05``)
    overlaps it, or, for a period label that cannot be read, that were open at some
    time inside it."""
    if not windows:
        return {}
    earliest = min([since, *(w.start for w in windows.values())])
    out: dict[str, list[BreachEntry]] = {}
    rows: Sequence[BreachRow] = store.breaches(since=earliest)
    for row in rows:
        w = windows.get(row.service_id)
        if w is None:
            continue
        try:
            own = parse_period(row.period, w.timezone, row.opened_at)
            start, end = own.start, own.end
        except PeriodError:
            start, end = row.opened_at, row.resolved_at or dt.datetime.max.replace(tzinfo=dt.UTC)
        if start >= w.end or end <= w.start or row.opened_at >= w.end:
            continue
        outages = row.objective == UNPLANNED_OUTAGES
        out.setdefault(row.service_id, []).append(
            BreachEntry(
                vantage=row.vantage,
                objective=row.objective,
                period=row.period,
                opened_at=row.opened_at,
                resolved_at=row.resolved_at,
                unit="bad_minutes" if outages else "percent",
                measure=row.measure if outages else 100.0 * row.measure,
                target=row.target,
            )
        )
    return out


def _exclusion(row: ExclusionRow) -> ExclusionEntry:
    return ExclusionEntry(row.vantage, row.starts_at, row.ends_at, row.reason, row.approver)
