"""Build the report model from the store, through ``slamon.assess``.

    report = build_report(store, catalogue, "2012-2013", now)
    report = build_report(store, catalogue, "2013-Q2", now, offices=["unog"])

Indicators come from ``assess_indicators`` (the services as the catalogue stood at the
period's end: from the store's revisions, else from the catalogue's git history when a
``history`` is given, else reconstructed from the catalogue given, and said so); the
previous period of the same kind (the previous biennium for a biennium) gives the trend,
when its catalogue is on record. The per-service SLA tables come from
``assess_period`` over the same services, with the breaches and exclusions the store
holds for the period. Blocking (database reads).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from exporters.reports.model import (
    SCHEMA,
    TOTAL,
    BreachEntry,
    ExclusionEntry,
    IndicatorRow,
    NotCounted,
    ObjectiveRow,
    OfficeAvailability,
    OfficeSection,
    Report,
    SealedPeriods,
    ServicePeriods,
    ServiceRef,
    ServiceSla,
    SlaPeriodRow,
    Trend,
    VantageSla,
)
from slamon.assess import (
    SlaPeriodResult,
    assess_indicators,
    assess_period,
    assess_sla_periods,
    indicator_window,
    per_sla_period,
)
from slamon.core.catalogue import Catalogue
from slamon.core.indicators import DEFAULT_UNITS, IndicatorValue, biennium_of
from slamon.core.model import IndicatorId, Service
from slamon.core.sla.masks import MaskCache
from slamon.core.sla.measure import UNPLANNED_OUTAGES, Measures, combine_verdicts, pool_outages
from slamon.core.sla.periods import (
    ROLLING_LABEL,
    PeriodError,
    PeriodWindow,
    parse_period,
    previous_period,
)
from slamon.store import BreachRow, ExclusionRow, Store

if TYPE_CHECKING:
    from slamon.loader.history import GitHistory

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
    history: GitHistory | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """The report for ``period`` (a label ``slamon.core.sla.periods`` reads) as of ``now``.

    ``offices`` restricts the report to those offices (no total then). ``history`` (the
    catalogue directory's git history) gives the catalogue of a date the store holds no
    revision for, and target changes from before the store's first revision.
    ``progress(n)`` is called as services are measured (the period's, then the previous
    period's). Raises ``PeriodError`` for a bad label."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    window = indicator_window(period, now)
    chosen = sorted(set(offices)) if offices is not None else None
    label: str | PeriodWindow = window if window.label == ROLLING_LABEL else window.label
    before = previous_period(window)
    before_label: str | PeriodWindow = before if before.label == ROLLING_LABEL else before.label
    cache = MaskCache()

    services, counts_from, commit = _services_at(store, catalogue, min(window.end - _MICRO, now), history)
    services_before, previous_from, previous_commit = _services_at(
        store, catalogue, min(before.end - _MICRO, now), history
    )
    earlier = None
    if history is not None and not store.services_at(before.start):
        # the store's record starts later: target history before it from git
        earlier = history.service_revisions(before.start - _SLA_REACH, window.end)
    names = {s.id: s.name for s in catalogue.services.values()} | {s.id: s.name for s in services}
    sla_periods = None
    if per_sla_period(catalogue):  # each service judged in each of its own SLA periods
        sla_periods = assess_sla_periods(
            store, catalogue, label, now, services=services, offices=chosen, cache=cache, earlier_revisions=earlier
        )
    # the period's assessment once, for its indicators and its SLA tables
    assessment = assess_period(
        store, catalogue, label, now, services=services, offices=chosen, cache=cache, earlier_revisions=earlier,
        progress=progress,
    )
    current = assess_indicators(
        store, label, now, catalogue=catalogue, offices=chosen, cache=cache, services=services,
        earlier_revisions=earlier, sla_periods=sla_periods, assessment=assessment,
    )
    previous_on_record = previous_from != CATALOGUE
    previous_by_key: dict = {}
    if previous_on_record:  # a period with no record has no previous value, so no trend
        previous = assess_indicators(
            store, before_label, now, catalogue=catalogue, offices=chosen, cache=cache, services=services_before,
            earlier_revisions=earlier, progress=progress,
        )
        previous_by_key = {(v.indicator, v.office): v.value for v in previous}
    has_measurements = any(m.observed_minutes for m in assessment.measures.values())

    breaches = _breaches(store, assessment.windows, window.start)
    service_rows: dict[str, list[ServiceSla]] = {}
    office_measures: dict[str, list[Measures]] = {}
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
        judged = _judged(sla_periods.get(sid, ())) if sla_periods is not None else None
        met = level.met if level else None
        vantage_rows = [_vantage(m) for m in (level.per_vantage if level else ())]
        extra: dict = {}
        if judged is not None:
            met = judged.met
            vantage_rows = [_rejudged(v, judged) for v in vantage_rows]
            extra = {"sla_periods": judged.rows, "sla_periods_met": judged.met_n, "sla_periods_in_scope": len(judged.rows)}
        office_measures.setdefault(svc.office, []).extend(level.per_vantage if level else ())
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
                met=met,
                vantages=vantage_rows,
                breaches=breaches.get(sid, []),
                exclusions=[_exclusion(r) for r in assessment.exclusions.get(sid, ())],
                **extra,
                sealed_periods=sealed_entries.get(sid, []),
            )
        )

    previous_label = PREVIOUS_ROLLING if before.label == ROLLING_LABEL else before.label
    rows: dict[str, list[IndicatorRow]] = {}
    for value in current:
        rows.setdefault(value.office, []).append(
            _indicator_row(
                value, catalogue, names, previous_label, previous_by_key.get((value.indicator, value.office)), counts_from
            )
        )
    office_ids = chosen if chosen is not None else sorted(catalogue.offices)
    sections = []
    for oid in office_ids:
        office = catalogue.offices[oid]
        sections.append(
            OfficeSection(oid, office.name, office.city, office.timezone, rows.get(oid, []), service_rows.get(oid, []),
                          availability=office_availability(office_measures.get(oid, [])))
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
        counts_from=counts_from,
        previous_counts_from=previous_from,
        final=window.closed(now) and has_measurements and counts_from != CATALOGUE,
        has_measurements=has_measurements,
        counts_commit=commit,
        previous_counts_commit=previous_commit,
        previous_on_record=previous_on_record,
        sealed_note=SEALED_NOTE if assessment.sealed else "",
    )


CATALOGUE = "catalogue"  # counts reconstructed from the catalogue given
_SLA_REACH = dt.timedelta(days=731)  # an SLA period (at most a biennium) may start this long before


def _services_at(
    store: Store, catalogue: Catalogue, at: dt.datetime, history: GitHistory | None
) -> tuple[list[Service], str, str | None]:
    """The services as catalogued at ``at`` and where that comes from: "revisions" (the
    store), "git" (the catalogue's history, with the commit) or "catalogue" (none on
    record: the catalogue given)."""
    recorded = store.services_at(at)
    if recorded:
        return recorded, "revisions", None
    if history is not None:
        past = history.catalogue_at(at)
        if past is not None:
            return list(past.catalogue.services.values()), "git", past.commit
    return list(catalogue.services.values()), CATALOGUE, None


def _indicator_row(
    value: IndicatorValue,
    catalogue: Catalogue,
    names: dict[str, str],
    previous_label: str,
    previous: float | None,
    counts_from: str = "revisions",
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
        method=value.method,
        service_periods_met=value.periods_met,
        service_periods_in_scope=value.periods_in_scope,
        service_periods_met_ratio=(
            value.periods_met / value.periods_in_scope
            if value.periods_met is not None and value.periods_in_scope
            else None
        ),
        service_periods=(
            [
                ServicePeriods(
                    p.service, names.get(p.service, p.service), len(p.met), p.in_scope,
                    [label for label, _ in p.breached], list(p.unobserved),
                )
                for p in value.service_periods
            ]
            if value.service_periods is not None
            else None
        ),
        counts_from=counts_from,
    )


@dataclass(frozen=True)
class _Judged:
    met: bool | None
    met_n: int
    rows: list[SlaPeriodRow]
    vantages: dict[str, bool | None]
    objectives: dict[tuple[str, str], bool | None]


def _judged(results: Sequence[SlaPeriodResult]) -> _Judged:
    """A service's verdicts over its SLA periods with something observed: the service,
    each vantage and each objective met only if met in every such period."""
    observed = [r for r in results if r.observed]
    rows = [SlaPeriodRow(r.window.label, r.window.start, r.window.end, r.closed, r.met, r.failing) for r in observed]
    measured = [m for r in observed for m in r.measures if m.observed_minutes]
    vantages = {m.vantage: combine_verdicts(x.met for x in measured if x.vantage == m.vantage) for m in measured}
    objectives = {
        (m.vantage, name): combine_verdicts(
            x.objectives[name].met for x in measured if x.vantage == m.vantage and name in x.objectives
        )
        for m in measured
        for name in m.objectives
    }
    return _Judged(
        combine_verdicts(r.met for r in observed), sum(1 for r in observed if r.met is True), rows, vantages, objectives
    )


def _rejudged(v: VantageSla, judged: _Judged) -> VantageSla:
    """A vantage's whole-period row with its verdicts taken over its SLA periods."""
    objectives = [replace(o, met=judged.objectives.get((v.vantage, o.objective))) for o in v.objectives]
    return replace(v, met=judged.vantages.get(v.vantage), objectives=objectives)


def _vantage(m: Measures) -> VantageSla:
    objectives = []
    for name, o in m.objectives.items():
        if name == UNPLANNED_OUTAGES:
            bad = o.actual if o.met is not None else None
            objectives.append(ObjectiveRow(name, "bad_minutes", None, None, o.met, o.target, bad))
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
        remaining_percent=None if m.budget_left_ratio is None else 100.0 * m.budget_left_ratio,
        burn_rate=burn if finite else None,
        overspent=m.consumed_seconds > m.budget_seconds,
        budget_note=m.budget_note,
        mtrs_minutes=m.mtrs_minutes,
        mtbf_minutes=m.mtbf_minutes,
        mtbsi_minutes=m.mtbsi_minutes,
        longest_outage_minutes=m.longest_outage_minutes,
        service_downtime_minutes=m.downtime_by_cause["service"],
        dependency_downtime_minutes=m.dependency_minutes,
        overrun_downtime_minutes=m.overrun_minutes,
    )


def office_availability(measures: Iterable[Measures]) -> OfficeAvailability:
    """The availability measures of an office over all its services and vantages."""
    pooled = pool_outages(measures)
    return OfficeAvailability(**{f.name: getattr(pooled, f.name) for f in dataclasses.fields(OfficeAvailability)})


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
                measure_percent=None if outages else 100.0 * row.measure,
                target_percent=None if outages else row.target,
                bad_minutes=row.measure if outages else None,
                allowed_bad_minutes=row.target if outages else None,
            )
        )
    return out


def _exclusion(row: ExclusionRow) -> ExclusionEntry:
    return ExclusionEntry(row.vantage, row.starts_at, row.ends_at, row.reason, row.approver)
