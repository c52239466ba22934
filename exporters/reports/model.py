"""The report model: plain dataclasses, built once and rendered in every format.

Field names are the JSON keys (``Report.to_dict``), so they are a public contract:
add fields, never rename them (v2 renamed the figures so that each names its unit).
Times are UTC-aware datetimes (ISO 8601 in JSON); durations are minutes
(``*_minutes``); a field holding a percentage 0..100 is named ``*_percent``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any

SCHEMA = "slamon-report/v2"
TOTAL = "all"  # the office id of the totals


class Trend(enum.StrEnum):
    """How an indicator moved against the previous period."""

    up = "up"
    down = "down"
    flat = "flat"
    none = "none"  # no previous value (or no current one) to compare


@dataclass(frozen=True)
class ServiceRef:
    id: str
    name: str


@dataclass(frozen=True)
class NotCounted:
    id: str
    name: str
    reasons: list[str]


@dataclass(frozen=True)
class ServicePeriods:
    """(a)(ii) per SLA period: how one in-scope service did in its own SLA periods."""

    id: str
    name: str
    periods_met: int
    periods_in_scope: int  # periods with something observed (the service's share of the denominator)
    breached: list[str]  # labels of the SLA periods not met, e.g. 2013-05
    unobserved: list[str]  # labels of the SLA periods with nothing observed (out of the denominator)


@dataclass(frozen=True)
class IndicatorRow:
    """One indicator for one office (or ``all``) in the baseline / target / actual shape."""

    indicator: str  # automated-services | services-meeting-levels | iso-aligned-services
    code: str  # (a)(i), (a)(ii), (b)
    title: str
    unit: str  # count | percent
    direction: str  # increase | decrease: which way is better
    office: str
    biennium: str  # whose baseline and target these are
    baseline: float | None
    target: float | None
    actual: float | None  # None: a percentage over no service in scope
    previous_period: str
    previous: float | None  # the actual of the previous period of the same kind
    change: float | None  # actual - previous
    trend: Trend
    improved: bool | None  # the change goes the indicator's way (None: flat or unknown)
    target_met: bool | None  # None: no target, or no actual
    counted: list[ServiceRef]
    not_counted: list[NotCounted]
    in_scope: list[ServiceRef] | None = None  # for a percentage: the denominator
    # (a)(ii): "per-sla-period" (actual = met service-periods / in-scope service-periods)
    # or "whole-period"; then the service-period counts, their ratio in [0, 1], the
    # services that met their level in every period (= counted) and each in-scope
    # service's periods met and breached
    method: str | None = None
    service_periods_met: int | None = None
    service_periods_in_scope: int | None = None
    service_periods_met_ratio: float | None = None
    service_periods: list[ServicePeriods] | None = None
    # where the services behind the number come from: "revisions" (the store's record),
    # "git" (the catalogue's git history) or "catalogue" (reconstructed from the
    # catalogue given: not a record of the period)
    counts_from: str | None = None


@dataclass(frozen=True)
class ObjectiveRow:
    objective: str  # availability | latency | steps | unplanned_outages
    unit: str  # "percent", or "bad_minutes" for unplanned_outages
    target_percent: float | None  # None for unplanned_outages
    actual_percent: float | None  # None: nothing observed, or unplanned_outages
    met: bool | None
    allowed_bad_minutes: float | None = None  # unplanned_outages only: the limit
    bad_minutes: float | None = None  # unplanned_outages only: None when nothing observed


@dataclass(frozen=True)
class VantageSla:
    """The SLA of one service as measured from one vantage office over the period."""

    vantage: str
    met: bool | None
    window_minutes: int
    eligible_minutes: int
    observed_minutes: int
    good_minutes: int
    bad_minutes: int
    unobserved_minutes: int
    outside_hours_minutes: int
    maintenance_minutes: int
    excluded_minutes: int
    outage_runs: int
    objectives: list[ObjectiveRow]
    budget_minutes: float
    consumed_minutes: float
    remaining_minutes: float
    remaining_percent: float | None  # 100 untouched, 0 used up (or overspent); None: no budget
    burn_rate: float | None  # None: infinite (a zero budget overspent)
    overspent: bool = False  # more consumed than the budget (remaining_minutes < 0)
    budget_note: str | None = None  # why there is no budget: "no budget: target 100 %", ...
    # availability measures (docs/sla.md, "Outages and restoration"); outages = outage_runs
    mtrs_minutes: float | None = None  # None: no outage
    mtbf_minutes: float | None = None
    mtbsi_minutes: float | None = None
    longest_outage_minutes: int = 0
    service_downtime_minutes: int = 0  # bad minutes by cause (they add up to bad_minutes)
    dependency_downtime_minutes: int = 0
    overrun_downtime_minutes: int = 0


@dataclass(frozen=True)
class BreachEntry:
    vantage: str
    objective: str
    period: str  # the SLA period the breach belongs to, e.g. 2013-05
    opened_at: dt.datetime
    resolved_at: dt.datetime | None  # None: still open
    unit: str  # "percent", or "bad_minutes" for unplanned_outages
    measure_percent: float | None  # when opened (or last measured); None for unplanned_outages
    target_percent: float | None
    bad_minutes: float | None = None  # unplanned_outages only
    allowed_bad_minutes: float | None = None  # unplanned_outages only


@dataclass(frozen=True)
class ExclusionEntry:
    vantage: str | None  # None: every vantage
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str
    approver: str


@dataclass(frozen=True)
class SlaPeriodRow:
    """One of the service's own SLA periods (e.g. its month 2013-05) with something observed."""

    period: str
    start: dt.datetime
    end: dt.datetime
    closed: bool  # False: still open, judged on its result to date
    met: bool | None  # met from every vantage; None: not measured from some vantage
    failing: list[str]  # e.g. "availability from unog", "not measured from unhq"


@dataclass(frozen=True)
class SealedPeriods:
    """The closed SLA periods of a service at one vantage whose figures the report read
    from their sealed records: sealed once when each period closed, never recomputed
    (docs/storage.md). Consecutive periods, ``first`` to ``last``."""

    vantage: str
    first: str  # the first SLA period, e.g. 2026-01
    last: str  # the last, e.g. 2027-11
    count: int
    sealed_from: dt.datetime  # when the first of them was sealed
    sealed_to: dt.datetime  # when the last of them was sealed
    not_met: list[str]  # the sealed periods whose verdict was "not met"


@dataclass(frozen=True)
class ServiceSla:
    id: str
    name: str
    office: str
    tier: str
    lifecycle: str
    start: dt.datetime  # the period, cut in the office's timezone
    end: dt.datetime
    timezone: str
    met: bool | None  # met from every vantage (per SLA period: in every SLA period); None: unknown
    vantages: list[VantageSla]
    breaches: list[BreachEntry]
    exclusions: list[ExclusionEntry]
    # per SLA period (the default method): the service's own SLA periods in the report
    # period with something observed, and how many of them met the level. ``met`` (of
    # the service, each vantage and each objective) is then the verdict over those
    # periods; the minute counts and measures stay the totals over the report period
    sla_periods: list[SlaPeriodRow] = field(default_factory=list)
    sla_periods_met: int | None = None
    sla_periods_in_scope: int | None = None
    # closed periods read from their sealed records (the rest measured from rollups)
    sealed_periods: list[SealedPeriods] = field(default_factory=list)


@dataclass(frozen=True)
class OfficeAvailability:
    """The availability measures of an office: every service and vantage together
    (means over all their outages, not a mean of means)."""

    outages: int
    downtime_minutes: int
    mtrs_minutes: float | None
    mtbf_minutes: float | None
    mtbsi_minutes: float | None
    longest_outage_minutes: int
    service_downtime_minutes: int
    dependency_downtime_minutes: int
    overrun_downtime_minutes: int
    unobserved_minutes: int


@dataclass(frozen=True)
class OfficeSection:
    office: str  # an office id, or "all"
    name: str
    city: str
    timezone: str
    indicators: list[IndicatorRow]
    services: list[ServiceSla] = field(default_factory=list)
    availability: OfficeAvailability | None = None  # None for the total


@dataclass(frozen=True)
class Report:
    schema: str
    period: str  # 2012-2013, 2013, 2013-Q2, 2013-05, rolling-30d
    period_kind: str  # biennium | year | quarter | month | rolling 30d
    start: dt.datetime  # in UTC (each office's own cut is on its services)
    end: dt.datetime
    closed: bool  # the period is over (final only when ``final``)
    previous_period: str
    biennium: str  # whose baselines and targets apply
    generated_at: dt.datetime
    offices: list[OfficeSection]  # one per office, in id order
    total: OfficeSection | None  # every office together (None when the report is for some offices)
    # where the services counted come from: "revisions" (the store's record of the
    # catalogue at the period's end) or "catalogue" (none recorded: the catalogue given)
    counts_from: str = "revisions"
    previous_counts_from: str = "revisions"
    # final: closed, with its measurements and its catalogue on record; has_measurements:
    # something was observed in the period (otherwise the report says so); the git
    # commits the counts were read from (counts_from "git"); the previous period's
    # values (and the trend) are left out when its catalogue is not on record
    final: bool = False
    has_measurements: bool = True
    counts_commit: str | None = None
    previous_counts_commit: str | None = None
    previous_on_record: bool = True
    # said when closed SLA periods were read from their sealed records (empty: none were)
    sealed_note: str = ""

    def sections(self) -> list[OfficeSection]:
        """The office sections, then the total."""
        return [*self.offices, *([self.total] if self.total else [])]

    def to_dict(self) -> dict[str, Any]:
        """The whole model as JSON-ready data (stable keys, ISO 8601 times)."""
        return _plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """The model back from ``to_dict`` (e.g. a JSON report read from a file)."""
        return _typed(cls, data)


@functools.cache
def _field_names(kind: type) -> tuple[str, ...] | None:
    """The field names of a dataclass (None for any other type): asked once per type, as
    a report has tens of thousands of rows."""
    return tuple(f.name for f in dataclasses.fields(kind)) if dataclasses.is_dataclass(kind) else None


def _plain(value: Any) -> Any:
    names = _field_names(type(value))
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _typed(kind: Any, data: Any) -> Any:
    """``data`` (plain JSON values) as ``kind``, a type of this module's annotations."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        (inner,) = [a for a in typing.get_args(kind) if a is not type(None)]
        return _typed(inner, data)
    if origin is list:
        (inner,) = typing.get_args(kind)
        return [_typed(inner, v) for v in data]
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        return kind(**{f.name: _typed(hints[f.name], data[f.name]) for f in dataclasses.fields(kind) if f.name in data})
    if kind is dt.datetime:
        return dt.datetime.fromisoformat(data)
    if kind is float and isinstance(data, int):
        return float(data)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return kind(data)
    return data
