"""SLA assessment over the store: the one entry point for the daemon, ``slamon sla``,
the reports and the status page / API.

An adapter: it reads what the pure engine (``slamon.core.sla``) needs from the store
(day rollups in bulk per office, recorded exclusions, catalogue revisions for target
history) and hands back plain values. Blocking (database reads): the daemon calls it
from a worker thread.

    assessment = assess_period(store, catalogue, "2026-11", now)
    assessment.measures[("unog-email", "unog")].availability
    assessment.levels["unog-email"].met
    assess_indicators(store, "2026-2027", now, catalogue=catalogue)
    periods = assess_sla_periods(store, catalogue, "2026-2027", now)
    periods["unog-email"][4].window.label, .measures, .met   # its 5th month: "2026-05"

``assess_sla_periods`` judges each service in each of its own SLA periods inside a
report period (what (a)(ii) counts); ``_judge_sla_period`` is the one place a single SLA
period's figures are obtained (today: measured from the day rollups).

Periods: a label as ``slamon.core.sla.periods`` reads it (``2026-11``, ``2026-Q3``,
``2026``, ``2026-2027``, ``rolling-30d``), cut in each service's office timezone; or
``"current"``: each service's own SLA period (month, quarter, ...) containing ``now``;
or a ``PeriodWindow`` used as given.

Targets: from the catalogue revisions the store holds for the service (each change in
force from its ``sla.effective`` date, else from the moment it was loaded; history is
not rewritten), preceded by ``earlier_revisions`` from another record (the catalogue's
git history) where given, else from the given catalogue. A dated change with no earlier
version on record applies from its date; before it, the tier's own targets. Tiers and offices always come from the
given catalogue (the store does not version them).

Why one module above 500 lines: it is one thing, the reading of the store for the SLA
engine; its three entry points share the revision, target and exclusion readers.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo

from slamon.core.catalogue import Catalogue, EffectiveSLA, effective_sla
from slamon.core.indicators import (
    WHOLE_PERIOD,
    IndicatorValue,
    PeriodVerdict,
    SlaVerdicts,
    VantageVerdict,
    Verdict,
    compute_indicators,
    probed_from,
)
from slamon.core.model import Budgeting, IndicatorId, Period, Service
from slamon.core.sla.calendar import office_calendars
from slamon.core.sla.context import ServiceContext, TargetSegment, service_context
from slamon.core.sla.exclusions import Exclusion
from slamon.core.sla.masks import MaskCache
from slamon.core.sla.measure import Measures, dependency_bad_minutes, measure_service
from slamon.core.sla.periods import (
    CURRENT,
    PREVIOUS,
    PeriodError,
    PeriodWindow,
    parse_period,
    relative_period,
    sla_periods_within,
)
from slamon.core.sla.sealed import SealedPeriod, combine, measures_of, open_parts, sealed_prefix
from slamon.core.sla.series import DaySeries
from slamon.core.sla.vantages import ServiceLevel, combine_vantages
from slamon.store import ExclusionRow, Store

_IDS_PER_QUERY = 500
_MICRO = dt.timedelta(microseconds=1)

__all__ = [
    "CURRENT",
    "Assessment",
    "PeriodError",
    "SlaPeriodResult",
    "assess_indicators",
    "assess_period",
    "assess_sla_periods",
    "indicator_window",
    "per_sla_period",
    "period_for",
    "period_verdicts",
    "target_segments",
    "verdicts_of",
]


@dataclass(frozen=True)
class Assessment:
    """Measures of a set of services over one period (label), as of ``now``."""

    period: str  # the label asked for ("current" included)
    now: dt.datetime
    windows: dict[str, PeriodWindow]  # service id -> its period window
    measures: dict[tuple[str, str], Measures]  # (service id, vantage) -> measures
    levels: dict[str, ServiceLevel]  # service id -> level across its vantages
    verdicts: SlaVerdicts  # for compute_indicators
    exclusions: dict[str, tuple[ExclusionRow, ...]] = field(default_factory=dict)  # applied, per service
    targets: dict[str, tuple[TargetSegment, ...]] = field(default_factory=dict)  # per service
    # (service id, vantage) -> the sealed periods its measures were read from (never recomputed)
    sealed: dict[tuple[str, str], tuple[SealedPeriod, ...]] = field(default_factory=dict)

    def of(self, service_id: str) -> list[Measures]:
        """The measures of one service, by vantage."""
        level = self.levels.get(service_id)
        return list(level.per_vantage) if level else []


def period_for(service: Service, sla: EffectiveSLA, period: str | PeriodWindow, timezone: str, now: dt.datetime) -> PeriodWindow:
    """The window of ``period`` for one service (raises ``PeriodError`` for a bad label)."""
    if isinstance(period, PeriodWindow):
        return period
    if period.strip() in (CURRENT, PREVIOUS):
        return relative_period(sla.period, period.strip(), now, timezone)
    return parse_period(period, timezone, now)


def target_segments(
    service: Service, catalogue: Catalogue, revisions: Sequence[tuple[Service, dt.datetime]] = ()
) -> list[TargetSegment]:
    """Target history of one service: one segment per recorded revision whose targets
    changed (oldest first), effective from its ``sla.effective`` date or else from the
    moment it was loaded (the first: since the beginning); without revisions, the
    catalogue's current targets."""
    segments: list[TargetSegment] = []
    for i, (svc, valid_from) in enumerate(revisions):
        tier = catalogue.tiers.get(svc.tier) or catalogue.tiers.get(service.tier)
        if tier is None:
            continue
        sla = effective_sla(svc, tier)
        when: dt.date | dt.datetime | None = svc.sla.effective if svc.sla and svc.sla.effective else None
        if when is None and i > 0:
            when = valid_from
        if segments and segments[-1].sla == sla:
            continue
        segments.append(TargetSegment(when, sla))
    current = catalogue.sla(service)
    if not segments:
        when = service.sla.effective if service.sla else None
        segments = [TargetSegment(when, current)]
    elif segments[-1].sla != current:  # loaded but not yet recorded: in force from its date
        when = service.sla.effective if service.sla and service.sla.effective else None
        segments.append(TargetSegment(when or revisions[-1][1], current))
    first = segments[0]
    if first.effective_from is not None:
        # a dated change with no earlier version on record: before its date the tier's
        # own targets apply (an SLA only tightens its tier), never the new ones
        first_svc = revisions[0][0] if revisions else service
        tier = catalogue.tiers.get(first_svc.tier) or catalogue.tiers.get(service.tier)
        if tier is not None:
            before = replace(
                first.sla, availability=tier.availability, latency=tier.latency, steps=None, unplanned_outages=None
            )
            segments.insert(0, TargetSegment(None, before))
    return segments


def merge_revisions(
    recorded: Sequence[tuple[Service, dt.datetime]], earlier: Sequence[tuple[Service, dt.datetime]] = ()
) -> list[tuple[Service, dt.datetime]]:
    """The store's revisions of one service, preceded by those of another record (the
    catalogue's git history) from before the store's first one, oldest first."""
    if not earlier:
        return list(recorded)
    cut = recorded[0][1] if recorded else None
    older = [r for r in sorted(earlier, key=lambda r: r[1]) if cut is None or r[1] < cut]
    return [*older, *recorded]


Revisions = Mapping[str, Sequence[tuple[Service, dt.datetime]]]


def _revisions(
    store: Store, service_ids: Sequence[str], earlier: Revisions | None = None
) -> dict[str, list[tuple[Service, dt.datetime]]]:
    recorded = store.revision_history(list(service_ids)) if service_ids else {}
    if not earlier:
        return recorded
    return {sid: merge_revisions(recorded.get(sid, ()), earlier.get(sid, ())) for sid in service_ids}


def _exclusion(row: ExclusionRow) -> Exclusion:
    return Exclusion(row.starts_at, row.ends_at, row.reason, row.approver)


def _vantage_contexts(
    base: ServiceContext, rows: Sequence[ExclusionRow], vantages: Iterable[str]
) -> dict[str, ServiceContext]:
    everywhere = tuple(_exclusion(r) for r in rows if r.vantage is None)
    out = {}
    for v in vantages:
        mine = everywhere + tuple(_exclusion(r) for r in rows if r.vantage == v)
        out[v] = replace(base, exclusions=tuple(sorted(mine, key=lambda e: (e.start, e.end))))
    return out


def verdicts_of(levels: Iterable[ServiceLevel]) -> SlaVerdicts:
    """The engine's levels as the indicator maths reads them."""
    table: dict[str, dict[str, VantageVerdict]] = {}
    for level in levels:
        per: dict[str, VantageVerdict] = {}
        for m in level.per_vantage:
            if m.met is None or m.observed_minutes == 0:
                per[m.vantage] = VantageVerdict(Verdict.unmonitored)
            elif m.met:
                per[m.vantage] = VantageVerdict(Verdict.met)
            else:
                failed = tuple(name for name, o in m.objectives.items() if o.met is False)
                per[m.vantage] = VantageVerdict(Verdict.not_met, failed)
        table[level.service_id] = per
    return SlaVerdicts(table)



def _chosen(
    catalogue: Catalogue,
    period: str | PeriodWindow,
    now: dt.datetime,
    services: Iterable[Service] | None,
    offices: Iterable[str] | None,
    service_ids: Iterable[str] | None,
) -> list[Service]:
    """The services an assessment covers, by office then id (those with a known office
    and tier, in the offices and ids asked for); a bad period label fails here, before
    any database work."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    pool = list(catalogue.services.values()) if services is None else list(services)
    office_set = set(offices) if offices is not None else None
    id_set = set(service_ids) if service_ids is not None else None
    if isinstance(period, str) and period.strip() not in (CURRENT, PREVIOUS):
        parse_period(period, "UTC", now)
    return [
        s
        for s in sorted(pool, key=lambda s: (s.office, s.id))
        if s.office in catalogue.offices
        and s.tier in catalogue.tiers
        and (office_set is None or s.office in office_set)
        and (id_set is None or s.id in id_set)
    ]

def assess_period(
    store: Store,
    catalogue: Catalogue,
    period: str | PeriodWindow,
    now: dt.datetime,
    *,
    services: Iterable[Service] | None = None,
    offices: Iterable[str] | None = None,
    service_ids: Iterable[str] | None = None,
    vantages: Iterable[str] | None = None,
    cache: MaskCache | None = None,
    earlier_revisions: Revisions | None = None,
    use_sealed: bool = True,
    on_measured: Callable[[ServiceContext, Measures, DaySeries, dict[dt.date, int] | None], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Assessment:
    """Measure services over ``period`` as of ``now`` (UTC-aware).

    ``services`` replaces the catalogue's services (e.g. the catalogue as it stood at a
    past date, ``store.services_at``); those whose office or tier the catalogue does not
    know are skipped. ``offices`` keeps the services of those offices, ``service_ids``
    those ids, ``vantages`` measures only from those vantage offices. Each service is
    measured from every vantage its enabled probes run from and every vantage (an office
    of the catalogue) with stored rollups or sealed periods. ``cache`` may be shared
    between calls for the same catalogue load. ``earlier_revisions`` (service id ->
    (service, valid from)) adds target history from another record, the catalogue's git
    history, before the store's first revision. Raises ``PeriodError`` for a bad label.

    Sealed periods: the closed SLA periods of a service that tile the start of its window
    are read as sealed (``Store.sealed_periods``, one query) and only the rest of the
    window is measured from the day rollups; the measures are figure for figure those
    of the rollups as they stood when each period was sealed (``slamon.core.sla.sealed``).
    ``use_sealed=False`` measures everything from the rollups. ``on_measured(context,
    measures, series, dependency_bad)`` is called for each (service, vantage) measured from rollups
    alone (sealing uses it); ``progress(n)`` after each ``n`` services measured."""
    cache = cache if cache is not None else MaskCache()
    vantage_set = set(vantages) if vantages is not None else None
    chosen = _chosen(catalogue, period, now, services, offices, service_ids)

    revisions = _revisions(store, [s.id for s in chosen], earlier_revisions)
    windows: dict[str, PeriodWindow] = {}
    targets: dict[str, list[TargetSegment]] = {}
    for s in chosen:
        segs = target_segments(s, catalogue, revisions.get(s.id, ()))
        targets[s.id] = segs
        windows[s.id] = period_for(s, segs[-1].sla, period, catalogue.offices[s.office].timezone, now)

    exclusion_rows: dict[str, list[ExclusionRow]] = defaultdict(list)
    sealed: dict[tuple[str, str], tuple[SealedPeriod, ...]] = {}
    sealed_vantages: dict[str, set[str]] = defaultdict(set)
    if chosen:
        start = min(w.start for w in windows.values())
        end = max(w.end for w in windows.values())
        closable = [s.id for s in chosen if windows[s.id].kind != Period.rolling_30d]
        if use_sealed and closable:
            for (sid, vantage), found in store.sealed_periods(start, end, closable, vantages=vantage_set).items():
                prefix = sealed_prefix(found, windows[sid])
                if prefix:
                    sealed[(sid, vantage)] = tuple(prefix)
                    sealed_vantages[sid].add(vantage)
        chosen_ids = {s.id for s in chosen}
        for row in store.exclusions(start=start, end=end):
            if row.service_id in chosen_ids and row.ends_at > windows[row.service_id].start and row.starts_at < windows[row.service_id].end:
                exclusion_rows[row.service_id].append(row)

    measures: dict[tuple[str, str], Measures] = {}
    levels: dict[str, ServiceLevel] = {}
    by_office: dict[str, list[Service]] = defaultdict(list)
    for s in chosen:
        by_office[s.office].append(s)
    dependencies = _dependency_series(store, chosen, windows)
    # every vantage is an office of the catalogue (``from:`` names offices), or one the
    # sealed records name
    known_vantages = set(catalogue.offices) | {v for vs in sealed_vantages.values() for v in vs}
    for office_id, members in by_office.items():
        office = catalogue.offices[office_id]
        calendars = office_calendars(office)
        for i in range(0, len(members), _IDS_PER_QUERY):
            chunk = members[i : i + _IDS_PER_QUERY]
            counts = any(seg.sla.budgeting == Budgeting.occurrences for s in chunk for seg in targets[s.id])
            # rollups only from where the sealed periods end (the open period, mostly)
            probed = {s.id: probed_from(s) for s in chunk}
            read_from = [
                _unsealed_from(windows[s.id], probed[s.id] | sealed_vantages.get(s.id, set()), s.id, sealed)
                for s in chunk
            ]
            first_day = min(read_from).astimezone(dt.UTC).date()
            last_day = max(windows[s.id].end - _MICRO for s in chunk).astimezone(dt.UTC).date()
            if all(r >= windows[s.id].end for r, s in zip(read_from, chunk, strict=True)):
                indexed = {}
            else:
                # vantages are offices: naming them lets the database find the rows by key
                indexed = store.day_series_between(
                    first_day, last_day, service_ids=[s.id for s in chunk], with_counts=counts,
                    vantages=sorted(vantage_set if vantage_set is not None else known_vantages),
                )
            by_service = _by_service(indexed)
            for s in chunk:
                stored = by_service.get(s.id, {})
                wanted = _wanted(probed[s.id], stored, sealed_vantages.get(s.id, set()), vantage_set)
                if not wanted:
                    continue
                base = service_context(s, office, calendars=calendars)
                contexts = _vantage_contexts(base, exclusion_rows.get(s.id, ()), wanted)
                per_vantage = []
                for vantage in sorted(wanted):
                    series = stored.get(vantage, {})
                    prefix = sealed.get((s.id, vantage))
                    dep_bad = _union([dependencies[(d, vantage)] for d in s.depends_on if (d, vantage) in dependencies])
                    if prefix is None:
                        m = measure_service(
                            contexts[vantage], vantage, windows[s.id], targets[s.id], series, now, cache,
                            dependency_bad=dep_bad,
                        )
                        if on_measured is not None:
                            on_measured(contexts[vantage], m, series, dep_bad)
                    else:
                        m = _sealed_and_rest(
                            contexts[vantage], vantage, windows[s.id], targets[s.id], prefix, series, now, cache,
                            dep_bad,
                        )
                    measures[(s.id, vantage)] = m
                    per_vantage.append(m)
                levels[s.id] = combine_vantages(per_vantage)
            if progress is not None:
                progress(len(chunk))
    return Assessment(
        period=period.label if isinstance(period, PeriodWindow) else period.strip(),
        now=now,
        windows=windows,
        measures=measures,
        levels=levels,
        verdicts=verdicts_of(levels.values()),
        exclusions={sid: tuple(rows) for sid, rows in exclusion_rows.items()},
        targets={sid: tuple(segs) for sid, segs in targets.items()},
        sealed=sealed,
    )



def _by_service(indexed: Mapping[tuple[str, str], DaySeries]) -> dict[str, dict[str, DaySeries]]:
    """``(service, vantage) -> series`` as ``service -> vantage -> series``."""
    out: dict[str, dict[str, DaySeries]] = defaultdict(dict)
    for (sid, vantage), days in indexed.items():
        out[sid][vantage] = days
    return out


def _wanted(
    probed: set[str], stored: Mapping[str, DaySeries], sealed: set[str], only: set[str] | None
) -> set[str]:
    """The vantages a service is measured from: those its probes run from and those with
    stored rollups or sealed periods, within ``only`` (the vantages asked for)."""
    wanted = probed | set(stored) | sealed
    return wanted & only if only is not None else wanted

def _unsealed_from(
    window: PeriodWindow, vantages: Iterable[str], service_id: str, sealed: dict[tuple[str, str], tuple[SealedPeriod, ...]]
) -> dt.datetime:
    """Where the day rollups of a service are needed from: the end of the sealed periods
    of its least sealed vantage (the window start when one has none)."""
    at = window.end
    for v in vantages:
        prefix = sealed.get((service_id, v))
        at = min(at, prefix[-1].period.end if prefix else window.start)
    return at


def _sealed_and_rest(
    context: ServiceContext,
    vantage: str,
    window: PeriodWindow,
    targets: Sequence[TargetSegment],
    prefix: Sequence[SealedPeriod],
    series: DaySeries | dict,
    now: dt.datetime,
    cache: MaskCache,
    dependency_bad: dict[dt.date, int] | None = None,
) -> Measures:
    """Measures over ``window`` from its sealed periods and the rollups of the rest
    (``dependency_bad``: as for ``measure_service``)."""
    rest_start = prefix[-1].period.end
    if rest_start >= window.end:
        return combine(context.service_id, vantage, window, prefix, None, now)
    rest_window = PeriodWindow(window.kind, window.label, rest_start, window.end, window.timezone)
    rest = measure_service(context, vantage, rest_window, targets, series, now, cache, dependency_bad=dependency_bad)
    return combine(
        context.service_id, vantage, window, prefix, open_parts(rest, context, series, cache, dependency_bad), now,
        rest.as_of,
    )


@dataclass(frozen=True)
class SlaPeriodResult:
    """One SLA period of one service (e.g. its month ``2013-05``): the measures from each
    vantage, and whether it met its level there from every vantage (None: unknown)."""

    window: PeriodWindow
    measures: tuple[Measures, ...]  # one per vantage, by vantage
    met: bool | None
    closed: bool  # over; an open period is judged on its result to date
    # where the figures come from: "measured" from the day rollups now, or "sealed" (a
    # closed period read from its sealed records at every vantage)
    source: str = "measured"

    @property
    def observed(self) -> bool:
        """Something was observed from some vantage (else the period cannot be judged)."""
        return any(m.observed_minutes for m in self.measures)

    @property
    def failing(self) -> list[str]:
        """Why it was not met, per vantage: ``availability from unog``, ``not measured from unhq``."""
        out = []
        for m in self.measures:
            if not m.observed_minutes:
                out.append(f"not measured from {m.vantage}")
            elif m.met is False:
                out.append(", ".join(n for n, o in m.objectives.items() if o.met is False) + f" from {m.vantage}")
        return out


def assess_sla_periods(
    store: Store,
    catalogue: Catalogue,
    period: str | PeriodWindow,
    now: dt.datetime,
    *,
    services: Iterable[Service] | None = None,
    offices: Iterable[str] | None = None,
    service_ids: Iterable[str] | None = None,
    vantages: Iterable[str] | None = None,
    cache: MaskCache | None = None,
    earlier_revisions: Revisions | None = None,
    progress: Callable[[int], None] | None = None,
    use_sealed: bool = True,
) -> dict[str, list[SlaPeriodResult]]:
    """Each service judged in each of its own SLA periods (its ``sla.period``: month,
    quarter, year, biennium, rolling 30d) that overlaps the report ``period`` and has
    begun by ``now``: service id -> its periods in order.

    Every objective applies to the SLA period alone (``unplanned_outages: N`` is N bad
    minutes per SLA period), under the targets in force in it. A period reaching outside
    the report period counts whole, by its own result: closed, or to date when still
    open. The report period is cut in each service's office timezone; the arguments are
    those of ``assess_period``. Raises ``PeriodError`` for a bad label.

    A closed SLA period sealed at a vantage is read from its sealed record there
    (``Store.sealed_periods``, one query for all services; figure for figure the
    engine's measures when it was sealed), and the day rollups are read only from the
    first period not sealed at every vantage. ``use_sealed=False`` measures every
    period from the rollups."""
    cache = cache if cache is not None else MaskCache()
    vantage_set = set(vantages) if vantages is not None else None
    chosen = _chosen(catalogue, period, now, services, offices, service_ids)

    revisions = _revisions(store, [s.id for s in chosen], earlier_revisions)
    targets: dict[str, list[TargetSegment]] = {}
    sla_windows: dict[str, list[PeriodWindow]] = {}
    for s in chosen:
        segs = target_segments(s, catalogue, revisions.get(s.id, ()))
        targets[s.id] = segs
        tz = catalogue.offices[s.office].timezone
        report = period_for(s, segs[-1].sla, period, tz, now)
        sla_windows[s.id] = sla_periods_within(segs[-1].sla.period, report, tz, now)
    chosen = [s for s in chosen if sla_windows[s.id]]
    out: dict[str, list[SlaPeriodResult]] = {s.id: [] for s in chosen}
    if not chosen:
        return out

    start = min(w[0].start for w in (sla_windows[s.id] for s in chosen))
    end = max(w[-1].end for w in (sla_windows[s.id] for s in chosen))
    exclusion_rows: dict[str, list[ExclusionRow]] = defaultdict(list)
    chosen_ids = {s.id for s in chosen}
    for row in store.exclusions(start=start, end=end):
        if row.service_id in chosen_ids:
            exclusion_rows[row.service_id].append(row)
    # the sealed records of closed periods: (service, vantage) -> period start -> record
    sealed: dict[tuple[str, str], dict[dt.datetime, SealedPeriod]] = {}
    sealed_vantages: dict[str, set[str]] = defaultdict(set)
    closable = [s.id for s in chosen if any(w.closed(now) for w in sla_windows[s.id])]
    if use_sealed and closable:
        for (sid, vantage), found in store.sealed_periods(start, end, closable, vantages=vantage_set).items():
            wanted_windows = {w.start: w for w in sla_windows[sid] if w.closed(now)}
            mine = {sp.period.start: sp for sp in found if wanted_windows.get(sp.period.start) == sp.period}
            if mine:
                sealed[(sid, vantage)] = mine
                sealed_vantages[sid].add(vantage)
    spans = {
        s.id: PeriodWindow(
            sla_windows[s.id][0].kind, "", sla_windows[s.id][0].start, sla_windows[s.id][-1].end,
            sla_windows[s.id][0].timezone,
        )
        for s in chosen
    }  # fmt: skip
    dependencies = _dependency_series(store, chosen, spans)
    known_vantages = set(catalogue.offices) | {v for vs in sealed_vantages.values() for v in vs}

    by_office: dict[str, list[Service]] = defaultdict(list)
    for s in chosen:
        by_office[s.office].append(s)
    for office_id, members in by_office.items():
        office = catalogue.offices[office_id]
        calendars = office_calendars(office)
        for i in range(0, len(members), _IDS_PER_QUERY):
            chunk = members[i : i + _IDS_PER_QUERY]
            counts = any(seg.sla.budgeting == Budgeting.occurrences for s in chunk for seg in targets[s.id])
            probed = {s.id: probed_from(s) for s in chunk}
            # rollups only from the first period not sealed at every vantage
            read_from = {
                s.id: _first_unsealed(sla_windows[s.id], probed[s.id] | sealed_vantages.get(s.id, set()), s.id, sealed)
                for s in chunk
            }
            unsealed = [s for s in chunk if read_from[s.id] is not None]
            indexed = {}
            if unsealed:
                first_day = min(read_from[s.id] for s in unsealed).astimezone(dt.UTC).date()
                last_day = max(sla_windows[s.id][-1].end - _MICRO for s in unsealed).astimezone(dt.UTC).date()
                indexed = store.day_series_between(
                    first_day, last_day, service_ids=[s.id for s in unsealed], with_counts=counts,
                    vantages=sorted(vantage_set if vantage_set is not None else known_vantages),
                )
            by_service = _by_service(indexed)
            for s in chunk:
                stored = by_service.get(s.id, {})
                wanted = _wanted(probed[s.id], stored, sealed_vantages.get(s.id, set()), vantage_set)
                if not wanted:
                    continue
                base = service_context(s, office, calendars=calendars)
                contexts = _vantage_contexts(base, exclusion_rows.get(s.id, ()), wanted)
                dep_bad = {
                    v: _union([dependencies[(d, v)] for d in s.depends_on if (d, v) in dependencies]) for v in wanted
                }
                for window in sla_windows[s.id]:
                    records = {v: sealed.get((s.id, v), {}).get(window.start) for v in wanted}
                    out[s.id].append(
                        _judge_sla_period(
                            s.id, window, sorted(wanted), contexts, targets[s.id], stored, now, cache, dep_bad, records
                        )
                    )
            if progress is not None:
                progress(len(chunk))
    return {sid: results for sid, results in out.items() if results}


def _judge_sla_period(
    service_id: str,
    window: PeriodWindow,
    vantages: Sequence[str],
    contexts: Mapping[str, ServiceContext],
    targets: Sequence[TargetSegment],
    stored: Mapping[str, DaySeries],
    now: dt.datetime,
    cache: MaskCache,
    dependency_bad: Mapping[str, dict[dt.date, int] | None] | None = None,
    sealed: Mapping[str, SealedPeriod | None] | None = None,
) -> SlaPeriodResult:
    """One SLA period of one service from every vantage (the one place a period's figures
    are obtained: from its sealed record at a vantage where the closed period is sealed,
    else measured from the day rollups, with ``dependency_bad`` per vantage)."""
    per_vantage = []
    from_sealed = 0
    for v in vantages:
        record = sealed.get(v) if sealed else None
        if record is not None:
            per_vantage.append(measures_of(record, now))
            from_sealed += 1
        else:
            dep = dependency_bad.get(v) if dependency_bad else None
            per_vantage.append(
                measure_service(contexts[v], v, window, targets, stored.get(v, {}), now, cache, dependency_bad=dep)
            )
    level = combine_vantages(per_vantage)
    source = "sealed" if vantages and from_sealed == len(vantages) else "measured"
    return SlaPeriodResult(window, level.per_vantage, level.met, window.end <= now, source)


def _first_unsealed(
    windows: Sequence[PeriodWindow],
    vantages: Iterable[str],
    service_id: str,
    sealed: Mapping[tuple[str, str], Mapping[dt.datetime, SealedPeriod]],
) -> dt.datetime | None:
    """The start of the first SLA period not sealed at every vantage (None: all are)."""
    vantages = list(vantages)
    for w in windows:
        if not vantages or any(w.start not in sealed.get((service_id, v), {}) for v in vantages):
            return w.start
    return None


def period_verdicts(results: Mapping[str, Sequence[SlaPeriodResult]]) -> dict[str, list[PeriodVerdict]]:
    """``assess_sla_periods`` as the indicator maths reads it."""
    out: dict[str, list[PeriodVerdict]] = {}
    for sid, periods in results.items():
        rows = []
        for r in periods:
            per = verdicts_of([ServiceLevel(sid, r.measures)]).of(sid) if r.measures else {}
            rows.append(PeriodVerdict(r.window.label, r.window.start, r.window.end, r.closed, per))
        out[sid] = rows
    return out


def _dependency_series(
    store: Store, chosen: Sequence[Service], windows: dict[str, PeriodWindow]
) -> dict[tuple[str, str], dict[dt.date, int]]:
    """(service, vantage) -> UTC day -> bad minutes, of the services the chosen ones
    depend on, over their windows: for putting downtime down to a dependency
    (docs/sla.md, "Outages and restoration")."""
    needed = sorted({d for s in chosen for d in s.depends_on})
    if not needed:
        return {}
    first_day = min(windows[s.id].start for s in chosen if s.depends_on).astimezone(dt.UTC).date()
    last_day = max(windows[s.id].end - _MICRO for s in chosen if s.depends_on).astimezone(dt.UTC).date()
    out: dict[tuple[str, str], dict[dt.date, int]] = {}
    for i in range(0, len(needed), _IDS_PER_QUERY):
        chunk = needed[i : i + _IDS_PER_QUERY]
        for key, days in store.day_series_between(first_day, last_day, service_ids=chunk, with_counts=False).items():
            out[key] = dependency_bad_minutes([days])
    return out


def _union(maps: list[dict[dt.date, int]]) -> dict[dt.date, int] | None:
    if len(maps) <= 1:
        return maps[0] if maps else None
    out: dict[dt.date, int] = {}
    for m in maps:
        for day, bits in m.items():
            out[day] = out.get(day, 0) | bits
    return out


def indicator_window(period: str | PeriodWindow, now: dt.datetime) -> PeriodWindow:
    """The window an indicator period covers (calendar periods: in UTC; the dates are
    what matters for baselines, targets and practice reviews)."""
    if isinstance(period, PeriodWindow):
        return period
    if period.strip() in (CURRENT, PREVIOUS):
        return relative_period(Period.biennium, period.strip(), now, "UTC")
    return parse_period(period, "UTC", now)


def per_sla_period(catalogue: Catalogue) -> bool:
    """Whether (a)(ii) is judged per SLA period (the default) for this catalogue."""
    methods = {d.id: d.method for d in catalogue.indicators.indicators}
    return methods.get(IndicatorId.services_meeting_levels) != WHOLE_PERIOD


def assess_indicators(
    store: Store,
    period: str | PeriodWindow,
    now: dt.datetime,
    *,
    catalogue: Catalogue,
    offices: Iterable[str] | None = None,
    cache: MaskCache | None = None,
    services: Iterable[Service] | None = None,
    earlier_revisions: Revisions | None = None,
    sla_periods: Mapping[str, Sequence[SlaPeriodResult]] | None = None,
    assessment: Assessment | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[IndicatorValue]:
    """The three indicators for ``period`` (``"current"``: the biennium containing
    ``now``), per office and in total. Counts use ``services`` when given (the catalogue
    as it stood at the period's end, from another record), else the services as the
    store's revisions hold them at the period's end (or now, if earlier), falling back
    to ``catalogue`` when the store has none; offices, tiers, practices and indicator
    targets come from ``catalogue``. (a)(ii) is judged per SLA period
    (``assess_sla_periods``, or ``sla_periods`` when the caller has them for the same
    services and period) unless ``indicators.yaml`` names ``whole-period``."""
    window = indicator_window(period, now)
    at = min(window.end - _MICRO, now)
    services = list(services) if services is not None else store.services_at(at)
    if not services:
        services = list(catalogue.services.values())
    # a label is cut again in each service's office timezone
    label = period if isinstance(period, PeriodWindow) else window.label
    whole = not per_sla_period(catalogue)
    periods = None
    if whole:
        if assessment is None:  # ``assessment``: this very assess_period, already made (a report)
            assessment = assess_period(
                store, catalogue, label, now, services=services, offices=offices, cache=cache,
                earlier_revisions=earlier_revisions, progress=progress,
            )
        verdicts = assessment.verdicts
    else:
        results = sla_periods if sla_periods is not None else assess_sla_periods(
            store, catalogue, label, now, services=services, offices=offices, cache=cache,
            earlier_revisions=earlier_revisions, progress=progress,
        )
        periods = period_verdicts(results)
        verdicts = SlaVerdicts()
    tz = ZoneInfo(window.timezone)
    period_end = (window.end - _MICRO).astimezone(tz).date()
    wanted = set(offices) if offices is not None else None
    counted = [s for s in services if wanted is None or s.office in wanted]
    return compute_indicators(
        counted,
        verdicts,
        catalogue.practices,
        catalogue.indicators,
        period_end=period_end,
        today=now.astimezone(dt.UTC).date(),
        offices=sorted(wanted) if wanted is not None else sorted(catalogue.offices),
        tiers=set(catalogue.tiers),
        periods=periods,
    )
