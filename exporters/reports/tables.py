"""CSV renderings of a report: tidy tables, one row per observation, one header line.

Three tables (``TABLES``), each a file of its own, so each parses with any CSV reader:

- ``indicators`` (default): one row per office (and ``all``) and indicator;
- ``services``: the services behind each number, one row per office, indicator and
  service, with whether it was counted and why not;
- ``sla``: one row per service, vantage and objective, with the time buckets and the
  error budget of that vantage repeated on each of its objective rows.

Numbers are plain and carry full precision (``66.66666666666667``, no unit, no
thousands separator; a whole number without decimals); missing values are
empty; booleans are ``true`` / ``false`` (empty: unknown); times are ISO 8601 UTC;
service lists inside a cell are separated by spaces (ids have none), reasons by ``; ``.
The columns below are the contract: new columns are added at the end.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Iterable
from decimal import Decimal

from exporters.reports.model import Report, VantageSla, _plain

INDICATOR_COLUMNS = [
    "period",
    "biennium",
    "office",
    "office_name",
    "indicator",
    "code",
    "title",
    "unit",
    "direction",
    "baseline",
    "target",
    "actual",
    "target_met",
    "previous_period",
    "previous",
    "change",
    "trend",
    "counted",
    "in_scope",
    "not_counted",
    "counted_services",
    "method",
    "service_periods_met",
    "service_periods_in_scope",
    "service_periods_met_ratio",
    "counts_from",
]

SERVICE_COLUMNS = [
    "period",
    "office",
    "indicator",
    "code",
    "service",
    "service_name",
    "counted",
    "in_scope",
    "reasons",
    "periods_met",
    "periods_in_scope",
    "breached_periods",
]

SLA_COLUMNS = [
    "period",
    "office",
    "service",
    "service_name",
    "tier",
    "lifecycle",
    "start",
    "end",
    "timezone",
    "service_met",
    "vantage",
    "vantage_met",
    "objective",
    "unit",
    "target_percent",
    "actual_percent",
    "objective_met",
    "window_minutes",
    "eligible_minutes",
    "observed_minutes",
    "good_minutes",
    "bad_minutes",
    "unobserved_minutes",
    "outside_hours_minutes",
    "maintenance_minutes",
    "excluded_minutes",
    "outage_runs",
    "budget_minutes",
    "consumed_minutes",
    "remaining_minutes",
    "remaining_percent",
    "burn_rate",
    "breaches",
    "open_breaches",
    "exclusions",
    "allowed_bad_minutes",
    "objective_bad_minutes",
    "overspent",
    "budget_note",
    "mtrs_minutes",
    "mtbf_minutes",
    "mtbsi_minutes",
    "longest_outage_minutes",
    "service_downtime_minutes",
    "dependency_downtime_minutes",
    "overrun_downtime_minutes",
    "sla_periods_met",
    "sla_periods_in_scope",
    "breached_periods",
]

TABLES = {"indicators": INDICATOR_COLUMNS, "services": SERVICE_COLUMNS, "sla": SLA_COLUMNS}


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return ""  # no figure (an infinite burn rate is written empty, as in JSON)
    if isinstance(value, float):  # full precision: the shortest text that reads back the same,
        # never in exponent notation (1e-05 is written 0.00001)
        return format(Decimal(repr(value)), "f") if value != int(value) else str(int(value))
    return _plain(value)


def _write(columns: list[str], rows: Iterable[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def _indicator_rows(report: Report):
    for sec in report.sections():
        for r in sec.indicators:
            yield {
                "period": report.period,
                "biennium": r.biennium,
                "office": sec.office,
                "office_name": sec.name,
                "indicator": r.indicator,
                "code": r.code,
                "title": r.title,
                "unit": r.unit,
                "direction": r.direction,
                "baseline": r.baseline,
                "target": r.target,
                "actual": r.actual,
                "target_met": r.target_met,
                "previous_period": r.previous_period,
                "previous": r.previous,
                "change": r.change,
                "trend": r.trend,
                "counted": len(r.counted),
                "in_scope": len(r.in_scope) if r.in_scope is not None else None,
                "not_counted": len(r.not_counted),
                "counted_services": " ".join(s.id for s in r.counted),
                "method": r.method,
                "service_periods_met": r.service_periods_met,
                "service_periods_in_scope": r.service_periods_in_scope,
                "service_periods_met_ratio": r.service_periods_met_ratio,
                "counts_from": r.counts_from,
            }


def _service_rows(report: Report):
    for sec in report.sections():
        for r in sec.indicators:
            scope = {s.id for s in r.in_scope} if r.in_scope is not None else None
            base = {"period": report.period, "office": sec.office, "indicator": r.indicator, "code": r.code}
            periods = {p.id: p for p in r.service_periods or ()}
            for s in r.counted:
                yield {**base, "service": s.id, "service_name": s.name, "counted": True,
                       "in_scope": True if scope is None else s.id in scope, "reasons": "", **_periods(periods.get(s.id))}
            for s in r.not_counted:
                yield {**base, "service": s.id, "service_name": s.name, "counted": False,
                       "in_scope": None if scope is None else s.id in scope, "reasons": "; ".join(s.reasons),
                       **_periods(periods.get(s.id))}


def _periods(p) -> dict:
    if p is None:
        return {}
    return {"periods_met": p.periods_met, "periods_in_scope": p.periods_in_scope, "breached_periods": " ".join(p.breached)}


_VANTAGE_FIELDS = {f.name for f in dataclasses.fields(VantageSla)} - {"vantage", "met", "objectives"}


def _sla_rows(report: Report):
    for sec in report.offices:
        for s in sec.services:
            base = {
                "period": report.period,
                "office": sec.office,
                "service": s.id,
                "service_name": s.name,
                "tier": s.tier,
                "lifecycle": s.lifecycle,
                "start": s.start,
                "end": s.end,
                "timezone": s.timezone,
                "service_met": s.met,
                "sla_periods_met": s.sla_periods_met,
                "sla_periods_in_scope": s.sla_periods_in_scope,
                "breached_periods": " ".join(p.period for p in s.sla_periods if p.met is not True),
            }
            for v in s.vantages:
                mine = [b for b in s.breaches if b.vantage == v.vantage]
                excluded = [x for x in s.exclusions if x.vantage in (None, v.vantage)]
                per_vantage = {
                    "vantage": v.vantage,
                    "vantage_met": v.met,
                    **{k: getattr(v, k) for k in SLA_COLUMNS if k in _VANTAGE_FIELDS},
                    "breaches": len(mine),
                    "open_breaches": sum(1 for b in mine if b.resolved_at is None),
                    "exclusions": len(excluded),
                }
                for o in v.objectives:
                    yield {**base, **per_vantage, "objective": o.objective, "unit": o.unit,
                           "target_percent": o.target_percent, "actual_percent": o.actual_percent,
                           "objective_met": o.met, "allowed_bad_minutes": o.allowed_bad_minutes,
                           "objective_bad_minutes": o.bad_minutes}


def render_csv(report: Report, table: str = "indicators") -> str:
    """One of ``TABLES`` as CSV text (header first)."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}: one of {', '.join(TABLES)}")
    rows = {"indicators": _indicator_rows, "services": _service_rows, "sla": _sla_rows}[table](report)
    return _write(TABLES[table], rows)
