"""``slamon sla``: the SLA of a service, or of every service of an office, over a period.

    slamon sla unog-email --period 2026-11
    slamon sla --office unog --period 2026-Q3 --format json

Reads the measurements from the store (``--db``) and the targets from the catalogue
(``--catalogue``) and the catalogue revisions in the store; see docs/sla.md.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
from typing import Any

from slamon.assess import CURRENT, Assessment, SlaPeriodResult, assess_period, assess_sla_periods
from slamon.cli.common import (
    Problem,
    add_format_option,
    add_office_option,
    add_period_option,
    add_store_arguments,
    check_offices,
    guarded,
    office_ids,
    open_existing_store,
    parse_at,
    period_label,
    valid_catalogue,
)
from slamon.core.catalogue import Catalogue
from slamon.core.numbers import percent_text, target_text
from slamon.core.sla.measure import Measures, PooledOutages, pool_outages


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sla",
        help="show the SLA measures of a service or an office over a period",
        description="Show eligible, observed, good, unobserved, excluded and maintenance time, "
        "each objective against its target, the error budget and the burn rate, per vantage.",
    )
    p.add_argument("service_id", nargs="?", metavar="SERVICE_ID", help="one service (or use --office)")
    add_office_option(p, "every service of this office (repeatable)", many="append")
    add_period_option(p, current="each service's own SLA period containing now", default=CURRENT)
    p.add_argument("--vantage", action="append", default=[], metavar="OFFICE",
                   help="only as measured from this vantage office (repeatable)")
    add_format_option(p)
    add_store_arguments(p, "measure")
    p.set_defaults(handler=guarded("sla", _run))


def _run(args: argparse.Namespace) -> int:
    now = parse_at(args.at)
    if not args.service_id and not args.office:
        raise Problem("give a SERVICE_ID or --office ID", 2)
    args.period = period_label(args.period, now)
    catalogue = valid_catalogue(args.catalogue)
    offices = list(office_ids(args.office))
    check_offices(catalogue, offices + [v for arg in args.vantage for v in arg.split(",") if v])
    ids = None
    if args.service_id:
        if args.service_id not in catalogue.services:
            hint = difflib.get_close_matches(args.service_id, sorted(catalogue.services), n=1)
            raise Problem(
                f"unknown service {args.service_id!r}: not in the catalogue at {args.catalogue}"
                + (f" (did you mean {hint[0]!r}?)" if hint else "")
            )
        ids = [args.service_id]
    vantages = [v for arg in args.vantage for v in arg.split(",") if v] or None
    store = open_existing_store(args.db)
    try:
        assessment = assess_period(
            store, catalogue, args.period, now, offices=offices or None, service_ids=ids, vantages=vantages
        )
        periods = {}
        if args.period.strip() != CURRENT:  # each service judged in each of its own SLA periods
            periods = assess_sla_periods(
                store, catalogue, args.period, now, offices=offices or None, service_ids=ids, vantages=vantages
            )
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps(as_json(assessment, catalogue, periods), indent=2))
    else:
        print(as_text(assessment, catalogue, periods), end="")
    return 0


# ------------------------------------------------------------------ rendering


def _sla_period_dict(r: SlaPeriodResult) -> dict[str, Any]:
    return {
        "period": r.window.label,
        "start": r.window.start.isoformat(),
        "end": r.window.end.isoformat(),
        "closed": r.closed,
        "met": r.met,
        "vantages": [
            {
                "vantage": m.vantage,
                "met": m.met,
                "observed_minutes": m.observed_minutes,
                "bad_minutes": m.bad_minutes,
                "objectives": {
                    name: {"target": o.target, "actual": o.actual, "met": o.met, "allowed_bad": o.allowed_bad}
                    for name, o in m.objectives.items()
                },
            }
            for m in r.measures
        ],
    }


def as_json(
    a: Assessment, catalogue: Catalogue, periods: dict[str, list[SlaPeriodResult]] | None = None
) -> dict[str, Any]:
    periods = periods or {}
    services = []
    for sid, window in sorted(a.windows.items()):
        svc = catalogue.services[sid]
        level = a.levels.get(sid)
        services.append(
            {
                "service": sid,
                "name": svc.name,
                "office": svc.office,
                "tier": svc.tier,
                "period": window.label,
                "start": window.start.isoformat(),
                "end": window.end.isoformat(),
                "timezone": window.timezone,
                "met": level.met if level else None,
                "vantages": [m.to_dict() for m in a.of(sid)],
                "exclusions": [
                    {
                        "vantage": r.vantage,
                        "from": r.starts_at.isoformat(),
                        "to": r.ends_at.isoformat(),
                        "reason": r.reason,
                        "approver": r.approver,
                    }
                    for r in a.exclusions.get(sid, ())
                ],
                # each of the service's own SLA periods in the period (not for "current")
                "sla_periods": [_sla_period_dict(r) for r in periods.get(sid, ())],
            }
        )
    return {
        "period": a.period,
        "as_of": a.now.isoformat(),
        "services": services,
        "offices": {office: pooled.to_dict() for office, pooled in _office_outages(a, catalogue).items()},
    }


def _office_outages(a: Assessment, catalogue: Catalogue) -> dict[str, PooledOutages]:
    """Per office: the outages of its services shown, every vantage together."""
    by_office: dict[str, list[Measures]] = {}
    for sid, level in sorted(a.levels.items()):
        by_office.setdefault(catalogue.services[sid].office, []).extend(level.per_vantage)
    return {office: pool_outages(ms) for office, ms in sorted(by_office.items())}


def duration(minutes: float) -> str:
    """``1d 02h 05m``, ``3h 00m``, ``12m``."""
    minutes = round(minutes)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h {mins:02d}m"
    if hours:
        return f"{hours}h {mins:02d}m"
    return f"{mins}m"


def _verdict(met: bool | None) -> str:
    return {True: "MET", False: "NOT MET", None: "UNKNOWN (nothing observed)"}[met]


def _objective_rows(m: Measures) -> list[tuple[str, str, str, str]]:
    rows = []
    for name, o in m.objectives.items():
        if o.unit == "slices":
            target = f"<= {o.target:g} bad min"
            measure = "-" if o.met is None else f"{o.actual:g} bad min"
        else:
            target = target_text(o.target_ratio)
            measure = percent_text(o.actual_ratio, target_ratio=o.target_ratio, met=o.met, missing="-")
        met = {True: "yes", False: "NO", None: "unknown"}[o.met]
        rows.append((name, target, measure, met))
    return rows


def _mean(minutes: float | None) -> str:
    if minutes is None:
        return "-"
    return f"{minutes:.1f}m" if minutes < 60 else duration(minutes)


def _outage_lines(m: Measures | PooledOutages, indent: str = "    ") -> list[str]:
    """Outages, MTRS, MTBF, MTBSI, the longest, and downtime by cause (docs/sla.md)."""
    p = m if isinstance(m, PooledOutages) else pool_outages([m])
    return [
        f"{indent}outages {p.outages}  downtime {duration(p.downtime_minutes)}  MTRS {_mean(p.mtrs_minutes)}  "
        f"MTBF {_mean(p.mtbf_minutes)}  MTBSI {_mean(p.mtbsi_minutes)}  longest {duration(p.longest_outage_minutes)}",
        f"{indent}downtime by cause: service {duration(p.service_downtime_minutes)}, "
        f"dependency {duration(p.dependency_downtime_minutes)}, "
        f"maintenance overrun {duration(p.overrun_downtime_minutes)}; unobserved {duration(p.unobserved_minutes)}",
    ]


def _seconds(value: float) -> str:
    if abs(value) >= 120:
        return duration(value / 60) if value >= 0 else "-" + duration(-value / 60)
    return f"{value:.1f} s"


def as_text(a: Assessment, catalogue: Catalogue, periods: dict[str, list[SlaPeriodResult]] | None = None) -> str:
    periods = periods or {}
    out: list[str] = []
    if not a.windows:
        return "no services match\n"
    for sid, window in sorted(a.windows.items()):
        svc = catalogue.services[sid]
        level = a.levels.get(sid)
        state = "closed" if window.closed(a.now) else f"open, as of {a.now:%Y-%m-%d %H:%M} UTC"
        out.append(f"{sid}  {svc.name}  (office {svc.office}, tier {svc.tier})")
        out.append(
            f"  period {window.label}: {window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M} UTC "
            f"({window.timezone}; {state})"
        )
        if level is None:
            out.append("  not probed from any vantage: nothing to measure")
            out.append("")
            continue
        out.append(f"  level: {_verdict(level.met)}" + (
            f" (failing from {', '.join(level.failing_vantages)})" if level.failing_vantages else ""))
        for m in level.per_vantage:
            out.append(f"  vantage {m.vantage}: {_verdict(m.met)}")
            d = duration
            out.append(
                f"    eligible {d(m.eligible_minutes)}  observed {d(m.observed_minutes)}  "
                f"good {d(m.good_minutes)}  bad {d(m.bad_minutes)}  unobserved {d(m.unobserved_minutes)}"
            )
            out.append(
                f"    excluded {d(m.excluded_minutes)}  maintenance {d(m.maintenance_minutes)}  "
                f"outside hours {d(m.outside_hours_minutes)}  outage runs {m.outage_runs}"
            )
            out.extend(_outage_lines(m))
            rows = [("objective", "target", "measure", "met"), *_objective_rows(m)]
            widths = [max(len(r[i]) for r in rows) for i in range(3)]
            for r in rows:
                out.append("    " + "  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3])
            burn = m.burn_rate
            left = m.budget_left_ratio
            shown_remaining = f"n/a ({m.budget_note})" if left is None else percent_text(left, decimals=1)
            if left is not None and m.consumed_seconds > m.budget_seconds:
                shown_remaining += " (overspent)"
            shown_burn = "inf" if math.isinf(burn) else f"{burn:.2f}"
            out.append(
                f"    error budget {_seconds(m.budget_seconds)} (consumed {_seconds(m.consumed_seconds)}), "
                f"remaining {shown_remaining}, burn rate {shown_burn}"
            )
            if len(m.parts) > 1:
                for p in m.parts:
                    out.append(
                        f"    from {p.start:%Y-%m-%d %H:%M} UTC: availability target {p.sla.availability:g} %, "
                        f"observed {duration(p.observed)}, good {duration(p.good)}"
                    )
        mine = [r for r in periods.get(sid, ()) if any(m.observed_minutes for m in r.measures)]
        if len(periods.get(sid, ())) > 1 and mine:
            met = [r.window.label for r in mine if r.met is True]
            missed = [r.window.label for r in mine if r.met is not True]
            out.append(
                f"  SLA periods met: {len(met)} of {len(mine)}" + (f"; not met: {', '.join(missed)}" if missed else "")
            )
        for r in a.exclusions.get(sid, ()):
            out.append(
                f"  excluded {r.starts_at:%Y-%m-%d %H:%M} to {r.ends_at:%Y-%m-%d %H:%M} UTC"
                f" ({r.vantage or 'every vantage'}), approved by {r.approver}: {r.reason}"
            )
        out.append("")
    offices = _office_outages(a, catalogue)
    if len(a.levels) > 1:
        for office, pooled in offices.items():
            out.append(f"office {office}: every service and vantage above together")
            out.extend(_outage_lines(pooled, "  "))
        out.append("")
    return "\n".join(out) + "\n" if out else ""
