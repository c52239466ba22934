"""The three ICT-operations indicators, per office and in total, for one period.

- (a)(i) ``automated-services``: production services whose fulfilment is automated,
  with evidence, monitored by at least one enabled probe (a count).
- (a)(ii) ``services-meeting-levels``: judged per SLA period (the default method,
  ``per-sla-period``): each in-scope service (production, with a tier, observed) is
  judged in each of its own SLA periods (month, quarter...) in the report period, every
  objective applied to that SLA period alone, and met there only when met from every
  vantage it is probed from. The value is met service-periods / in-scope
  service-periods (a percentage); beside it, the services that met their level in
  every period and, per service, "periods met x of y" with the breached periods named.
  The ``whole-period`` method judges each service once over the whole report period.
- (b) ``iso-aligned-services``: production services whose practices cover every
  required clause, each with evidence reviewed within ``review_max_age_days`` (a count).

Pure: the caller passes the services as the catalogue stood at the period's end,
the SLA engine's verdicts for the period (adapted to ``SlaVerdicts``), the practice
profile, the indicators file and the dates. Every number carries the services
counted and, for each service not counted, the reasons.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from slamon.core.classify import automation_gaps, iso_gaps
from slamon.core.model import (
    IndicatorId,
    IndicatorsFile,
    Lifecycle,
    PracticesFile,
    Service,
)

ALL_OFFICES = "all"

DEFAULT_UNITS = {
    IndicatorId.automated_services: "count",
    IndicatorId.services_meeting_levels: "percent",
    IndicatorId.iso_aligned_services: "count",
}


class Verdict(StrEnum):
    """How a service did against its SLA over a period, at one vantage."""

    met = "met"  # every objective met
    not_met = "not_met"  # at least one objective below target
    unmonitored = "unmonitored"  # no measurement in eligible time: cannot be judged


@dataclass(frozen=True, slots=True)
class VantageVerdict:
    verdict: Verdict
    failed_objectives: tuple[str, ...] = ()  # e.g. ("availability", "latency") when not met


@dataclass(frozen=True, slots=True)
class SlaVerdicts:
    """The SLA engine's verdicts for one period: service id -> vantage -> verdict.

    A vantage a service is probed from (per the catalogue) but missing here counts as
    ``unmonitored``.
    """

    by_service: Mapping[str, Mapping[str, VantageVerdict]] = field(default_factory=dict)

    def of(self, service_id: str) -> Mapping[str, VantageVerdict]:
        return self.by_service.get(service_id, {})

    @classmethod
    def simple(cls, mapping: Mapping[str, Mapping[str, bool | None]]) -> SlaVerdicts:
        """``{service: {vantage: True (met) | False (not met) | None (unmonitored)}}``."""
        table = {True: Verdict.met, False: Verdict.not_met, None: Verdict.unmonitored}
        return cls(
            {
                sid: {v: VantageVerdict(table[ok]) for v, ok in per_vantage.items()}
                for sid, per_vantage in mapping.items()
            }
        )


@dataclass(frozen=True, slots=True)
class PeriodVerdict:
    """One SLA period of one service (e.g. its month ``2013-05``), judged per vantage."""

    label: str
    start: dt.datetime
    end: dt.datetime
    closed: bool  # False: still open, judged on its result to date
    vantages: Mapping[str, VantageVerdict]

    @property
    def observed(self) -> bool:
        return any(vv.verdict is not Verdict.unmonitored for vv in self.vantages.values())


@dataclass(frozen=True, slots=True)
class ServicePeriods:
    """How one in-scope service did in its SLA periods inside the report period."""

    service: str
    met: list[str]  # labels of the SLA periods met from every vantage
    breached: list[tuple[str, list[str]]]  # (label, reasons) of those not met
    unobserved: list[str]  # nothing observed from any vantage: out of the denominator

    @property
    def in_scope(self) -> int:
        return len(self.met) + len(self.breached)


PER_SLA_PERIOD = "per-sla-period"
WHOLE_PERIOD = "whole-period"


@dataclass(frozen=True, slots=True)
class IndicatorValue:
    indicator: IndicatorId
    office: str  # an office id, or "all"
    value: float | None  # None: a percentage with nothing to take it over
    unit: str  # "count" | "percent"
    baseline: float | None
    target: float | None
    counted: list[str]  # service ids behind the value (for a percentage: the numerator)
    not_counted: list[tuple[str, list[str]]]  # (service id, reasons), the others
    biennium: str = ""  # whose baseline and target these are, e.g. "2012-2013"
    eligible: list[str] | None = None  # for a percentage: the services in the denominator
    # (a)(ii) per SLA period: the method, the service-period counts behind ``value``
    # and, per in-scope service, its periods met and breached
    method: str | None = None
    periods_met: int | None = None
    periods_in_scope: int | None = None
    service_periods: list[ServicePeriods] | None = None


def biennium_of(day: dt.date) -> str:
    """The two-year budget period holding ``day``: bienniums start in even years."""
    first = day.year - day.year % 2
    return f"{first}-{first + 1}"


def probed_from(service: Service) -> set[str]:
    """Vantage offices the service's enabled probes run from."""
    office = (service.office,)  # what ``service.vantages(p)`` gives a probe without ``from``
    return {v for p in service.probes if p.enabled for v in (p.from_ or office)}


def sla_gaps(
    service: Service,
    verdicts: Mapping[str, VantageVerdict],
    tiers: Collection[str] | None = None,
) -> tuple[bool, list[str]]:
    """(in the denominator of (a)(ii), reasons it does not meet its level).

    Empty reasons and True: the service met every objective from every vantage.
    """
    reasons: list[str] = []
    if service.lifecycle != Lifecycle.production:
        return False, [f"lifecycle is {service.lifecycle.value}, not production"]
    if tiers is not None and service.tier not in tiers:
        return False, [f"tier {service.tier} is not a standardized service level"]
    # a vantage probed from but without a verdict is unmonitored
    if all(vv.verdict is Verdict.unmonitored for vv in verdicts.values()):
        return False, ["not monitored in the period"]
    vantages = probed_from(service)
    vantages.update(verdicts)
    for vantage in sorted(vantages):
        vv = verdicts.get(vantage)
        if vv is None or vv.verdict is Verdict.unmonitored:
            reasons.append(f"not measured from {vantage} in the period, so not shown to meet its SLA there")
        elif vv.verdict is Verdict.not_met:
            what = ", ".join(vv.failed_objectives) or "an objective"
            reasons.append(f"did not meet its SLA from {vantage} ({what})")
    return True, reasons


def _vantage_reasons(verdicts: Mapping[str, VantageVerdict], vantages: set[str]) -> list[str]:
    out = []
    for vantage in sorted(vantages | set(verdicts)):
        vv = verdicts.get(vantage)
        if vv is None or vv.verdict is Verdict.unmonitored:
            out.append(f"not measured from {vantage}")
        elif vv.verdict is Verdict.not_met:
            out.append(f"{', '.join(vv.failed_objectives) or 'an objective'} from {vantage}")
    return out


_NAMED = 6  # at most this many periods are named in a reason; more are counted


def _named(labels: list[str]) -> str:
    if len(labels) <= _NAMED:
        return ", ".join(labels)
    return ", ".join(labels[:_NAMED]) + f" and {len(labels) - _NAMED} more"


def period_gaps(
    service: Service,
    periods: Sequence[PeriodVerdict],
    tiers: Collection[str] | None = None,
) -> tuple[ServicePeriods | None, list[str]]:
    """(how the service did per SLA period, or None when out of scope; reasons it did
    not meet its level in every period). A period with nothing observed from any vantage
    is out of the denominator; one observed from some vantage but not another is in it
    and not met (not shown to meet its level there)."""
    if service.lifecycle != Lifecycle.production:
        return None, [f"lifecycle is {service.lifecycle.value}, not production"]
    if tiers is not None and service.tier not in tiers:
        return None, [f"tier {service.tier} is not a standardized service level"]
    vantages = probed_from(service)
    met: list[str] = []
    breached: list[tuple[str, list[str]]] = []
    unobserved: list[str] = []
    for p in periods:
        if not p.observed:
            unobserved.append(p.label)
            continue
        why = _vantage_reasons(p.vantages, vantages)
        if why:
            breached.append((p.label, why))
        else:
            met.append(p.label)
    result = ServicePeriods(service.id, met, breached, unobserved)
    if not result.in_scope:
        return None, ["not monitored in the period"]
    reasons: list[str] = []
    if breached:
        reasons.append(
            f"met its SLA in {len(met)} of {result.in_scope} SLA periods; not in "
            + "; ".join(f"{label} ({', '.join(why)})" for label, why in breached[:_NAMED])
            + (f" and {len(breached) - _NAMED} more" if len(breached) > _NAMED else "")
        )
    if unobserved:
        reasons.append(f"not observed in {_named(unobserved)} (left out of the denominator)")
    return result, reasons


def compute_indicators(
    services: Iterable[Service],
    verdicts: SlaVerdicts,
    practices: PracticesFile,
    indicators: IndicatorsFile,
    *,
    period_end: dt.date,
    today: dt.date,
    offices: Iterable[str] | None = None,
    tiers: Collection[str] | None = None,
    periods: Mapping[str, Sequence[PeriodVerdict]] | None = None,
) -> list[IndicatorValue]:
    """All three indicators for each office in ``offices`` and for "all".

    ``periods`` (service id -> its SLA periods in the report period, judged per
    vantage) is what (a)(ii) counts under the ``per-sla-period`` method (the default
    unless ``indicators.yaml`` names ``whole-period``); without it, or under
    ``whole-period``, (a)(ii) judges each service on ``verdicts`` for the whole period.

    ``period_end`` is the period's last day: its biennium picks the baselines and
    targets. Practice reviews are judged as of ``min(period_end, today)`` (the end
    of a past period; today for the current one). ``offices`` defaults to the offices
    of the given services; the "all" total always covers every service given.
    ``tiers`` (known tier ids), when given, keeps services with an unknown tier out
    of (a)(ii).
    """
    services = sorted(services, key=lambda s: s.id)
    as_of = min(period_end, today)
    biennium = biennium_of(period_end)
    office_ids = sorted(set(offices) if offices is not None else {s.office for s in services})
    units = {d.id: d.unit for d in indicators.indicators}
    methods = {d.id: d.method for d in indicators.indicators}
    method = methods.get(IndicatorId.services_meeting_levels) or PER_SLA_PERIOD
    per_period = method == PER_SLA_PERIOD and periods is not None
    targets = _targets(indicators, biennium)

    # per-service verdicts, computed once
    automated = {s.id: automation_gaps(s) for s in services}
    required = practices.required_clauses
    iso = {s.id: iso_gaps(s, practices, as_of, required) for s in services}
    sla = {s.id: sla_gaps(s, verdicts.of(s.id), tiers) for s in services}
    by_period = {s.id: period_gaps(s, (periods or {}).get(s.id, ()), tiers) for s in services} if per_period else {}

    out: list[IndicatorValue] = []
    by_office: dict[str, list[Service]] = {o: [] for o in office_ids}
    for s in services:
        members = by_office.get(s.office)
        if members is not None:
            members.append(s)
    groups = list(by_office.items())
    groups.append((ALL_OFFICES, services))
    for indicator in IndicatorId:
        unit = units.get(indicator, DEFAULT_UNITS[indicator])
        for office, members in groups:
            baseline, target = _baseline_target(targets, office, indicator, office_ids, unit)
            counted: list[str] = []
            not_counted: list[tuple[str, list[str]]] = []
            eligible: list[str] | None = None
            extra: dict = {}
            if indicator is IndicatorId.services_meeting_levels and per_period:
                eligible = []
                rows: list[ServicePeriods] = []
                for s in members:
                    result, reasons = by_period[s.id]
                    if result is not None:
                        eligible.append(s.id)
                        rows.append(result)
                    if result is not None and not result.breached:
                        counted.append(s.id)
                    else:
                        not_counted.append((s.id, reasons))
                met_n = sum(len(r.met) for r in rows)
                scope_n = sum(r.in_scope for r in rows)
                value = 100.0 * met_n / scope_n if scope_n else None
                extra = {"method": PER_SLA_PERIOD, "periods_met": met_n, "periods_in_scope": scope_n,
                         "service_periods": rows}
            elif indicator is IndicatorId.services_meeting_levels:
                eligible = []
                for s in members:
                    in_scope, reasons = sla[s.id]
                    if in_scope:
                        eligible.append(s.id)
                    if in_scope and not reasons:
                        counted.append(s.id)
                    else:
                        not_counted.append((s.id, reasons))
                value = 100.0 * len(counted) / len(eligible) if eligible else None
                extra = {"method": WHOLE_PERIOD}
            else:
                gaps = automated if indicator is IndicatorId.automated_services else iso
                for s in members:
                    if gaps[s.id]:
                        not_counted.append((s.id, gaps[s.id]))
                    else:
                        counted.append(s.id)
                value = float(len(counted))
            out.append(
                IndicatorValue(
                    indicator=indicator,
                    office=office,
                    value=value,
                    unit=unit,
                    baseline=baseline,
                    target=target,
                    counted=counted,
                    not_counted=not_counted,
                    biennium=biennium,
                    eligible=eligible,
                    **extra,
                )
            )
    return out


def _targets(indicators: IndicatorsFile, biennium: str):
    for bt in indicators.targets:
        if bt.biennium == biennium:
            return bt.offices
    return {}


def _baseline_target(targets, office: str, indicator: IndicatorId, office_ids: list[str], unit: str):
    """Baseline and target of one office, or of "all": as written in the file, else
    (for counts) the sum over the offices when every office has one."""
    bt = targets.get(office, {}).get(indicator)
    if bt is not None:
        return bt.baseline, bt.target
    if office != ALL_OFFICES or unit != "count" or not office_ids:
        return None, None
    parts = [targets.get(o, {}).get(indicator) for o in office_ids]
    if any(p is None for p in parts):
        return None, None
    return sum(p.baseline for p in parts), sum(p.target for p in parts)
