"""What the API and the status page show, assembled from ``Runtime`` (no I/O).

Both faces read the same plain dictionaries, so a number on the page is the number
the API answers. Times are ISO 8601 UTC strings; ratios are 0..1.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable

from slamon.core.catalogue import Catalogue
from slamon.core.model import Service
from slamon.core.numbers import percent_to_ratio
from slamon.core.results import ProbeResult
from slamon.core.sla.measure import NO_BUDGET_FULL_TARGET, NO_BUDGET_UNOBSERVED, UNPLANNED_OUTAGES
from slamon.core.state import State, worst
from slamon.runtime import Runtime, SlaSnapshot


def iso(ts: float | dt.datetime | None) -> str | None:
    if ts is None:
        return None
    if isinstance(ts, dt.datetime):
        return ts.astimezone(dt.UTC).isoformat()
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


def finite(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) or math.isinf(x) else x


def vantages_of(service: Service) -> list[str]:
    """Offices the service's enabled probes run from, in a stable order."""
    return sorted({v for p in service.probes if p.enabled for v in service.vantages(p)})


def states_by_vantage(runtime: Runtime) -> dict[tuple[str, str], State]:
    """(vantage, service id) -> the worst state of its probes, in one pass."""
    grouped: dict[tuple[str, str], list[State]] = defaultdict(list)
    for (vantage, sid, _), rec in runtime.observations.probes.items():
        grouped[(vantage, sid)].append(rec.state.state)
    return {k: worst(v) for k, v in grouped.items()}


def sla_snapshot(snap: SlaSnapshot | None) -> dict | None:
    if snap is None:
        return None
    return {
        "vantage": snap.vantage,
        "period_end": iso(snap.period_end_timestamp_seconds),
        "objectives": [
            {
                "objective": o.objective,
                "target_ratio": o.target_ratio,
                "measure_ratio": finite(o.measure_ratio),
                "breached": o.objective in snap.open_breaches,
            }
            for o in snap.objectives
        ],
        "error_budget_remaining_ratio": budget_left(snap.error_budget_remaining_ratio),
        "error_budget_overspent": (
            snap.error_budget_remaining_ratio is not None and snap.error_budget_remaining_ratio < 0
        ),
        "error_budget_note": _budget_note(snap),
        "burn_rate": finite(snap.burn_rate),
        "open_breaches": sorted(snap.open_breaches),
    }


def _budget_note(snap: SlaSnapshot) -> str | None:
    """Why a snapshot has no budget figure, in the words of ``Measures.budget_note``."""
    if budget_left(snap.error_budget_remaining_ratio) is not None:
        return None
    full = any(o.objective == "availability" and o.target_ratio >= 1.0 for o in snap.objectives)
    return NO_BUDGET_FULL_TARGET if full and snap.burn_rate is not None else NO_BUDGET_UNOBSERVED


def budget_left(remaining: float | None) -> float | None:
    """The budget left as shown: a ratio in [0, 1] (0 once overspent, which
    ``error_budget_overspent`` says); None without a budget (a 100 % target)."""
    if remaining is None or math.isnan(remaining) or math.isinf(remaining):
        return None
    return min(1.0, max(0.0, remaining))


def availability_of(snap: dict | None) -> float | None:
    if not snap:
        return None
    for o in snap["objectives"]:
        if o["objective"] == "availability":
            return o["measure_ratio"]
    return None


def warnings_at(runtime: Runtime, service: Service, vantage: str) -> list[dict]:
    """The warnings the latest results of the service's probes carry at a vantage (a
    warning is a success: it never changes the state)."""
    out = []
    probes = runtime.observations.probes
    for p in service.probes:
        rec = probes.get((vantage, service.id, p.id))
        last = rec.last if rec is not None else None
        if last is not None and last.success and last.outcome.warning is not None:
            o = last.outcome
            out.append({"probe": p.id, "reason": str(o.warning), "detail": o.warning_detail or None})
    return out


def service_summary(
    catalogue: Catalogue, service: Service, runtime: Runtime, states: dict[tuple[str, str], State]
) -> dict:
    sla = catalogue.sla(service)
    per_vantage = []
    for v in vantages_of(service):
        snap = sla_snapshot(runtime.sla.get((v, service.id)))
        per_vantage.append(
            {
                "vantage": v,
                "state": str(states.get((v, service.id), State.unknown)),
                "sla": snap,
                "warnings": warnings_at(runtime, service, v),
            }
        )
    return {
        "id": service.id,
        "name": service.name,
        "office": service.office,
        "category": str(service.category),
        "lifecycle": str(service.lifecycle),
        "tier": service.tier,
        "state": str(worst([State(p["state"]) for p in per_vantage])) if per_vantage else "unknown",
        "sla_target": {
            "availability_percent": sla.availability,
            "period": str(sla.period),
            "schedule": sla.schedule,
            "budgeting": str(sla.budgeting),
        },
        "vantages": per_vantage,
        "open_breaches": sum(len(p["sla"]["open_breaches"]) for p in per_vantage if p["sla"]),
        "warnings": sum(len(p["warnings"]) for p in per_vantage),
    }


def list_services(
    runtime: Runtime,
    office: str | None = None,
    lifecycle: str | None = None,
    state: str | None = None,
) -> list[dict]:
    catalogue = runtime.catalogue
    if catalogue is None:
        return []
    states = states_by_vantage(runtime)
    out = []
    for service in sorted(catalogue.services.values(), key=lambda s: (s.office, s.id)):
        if office is not None and service.office != office:
            continue
        if lifecycle is not None and str(service.lifecycle) != lifecycle:
            continue
        summary = service_summary(catalogue, service, runtime, states)
        if state is not None and summary["state"] != state:
            continue
        out.append(summary)
    return out


def result_dict(r: ProbeResult) -> dict:
    """One probe result for people: no URL, no header, no secret (the outcome never holds
    one; ``detail`` is free text for people and is escaped wherever it is shown)."""
    o = r.outcome
    out = {
        "vantage": r.vantage,
        "probe": r.probe_id,
        "kind": r.kind,
        "started_at": iso(r.started_at),
        "success": o.success,
        "reason": None if o.reason is None else str(o.reason),
        "duration_seconds": finite(o.duration_seconds),
        "status_code": o.status_code,
        "phases": {k: v for k, v in o.phases.items()},
        "detail": o.detail or None,
        "warning": None if o.warning is None or not o.success else str(o.warning),
        "warning_detail": (o.warning_detail or None) if o.warning is not None and o.success else None,
        "steps": [
            {
                "name": s.name,
                "success": s.success,
                "duration_seconds": s.duration_seconds,
                "status_code": s.status_code,
                "reason": None if s.reason is None else str(s.reason),
            }
            for s in o.steps
        ],
    }
    if o.packets_sent is not None:  # icmp
        out["icmp"] = {
            "packets_sent": o.packets_sent,
            "packets_received": o.packets_received,
            "packet_loss_ratio": o.packet_loss_ratio,
            "rtt_seconds": o.rtt_seconds,
        }
    return out


def probe_rows(runtime: Runtime, service: Service) -> list[dict]:
    """Every enabled probe at every vantage, with its state and latest result."""
    rows = []
    for probe in service.probes:
        vantages = service.vantages(probe) if probe.enabled else []
        for v in vantages or [service.office]:
            rec = runtime.observations.probes.get((v, service.id, probe.id))
            rows.append(
                {
                    "probe": probe.id,
                    "kind": probe.kind,
                    "vantage": v,
                    "enabled": probe.enabled,
                    "interval_seconds": probe.interval,
                    "timeout_seconds": probe.timeout,
                    "state": str(rec.state.state) if rec and probe.enabled else "unknown",
                    "results_total": rec.results_total if rec else 0,
                    "latest": result_dict(rec.last) if rec and rec.last else None,
                }
            )
    return rows


def service_detail(runtime: Runtime, service: Service) -> dict:
    catalogue = runtime.catalogue
    assert catalogue is not None
    states = states_by_vantage(runtime)
    summary = service_summary(catalogue, service, runtime, states)
    sla = catalogue.sla(service)
    summary.update(
        {
            "description": service.description,
            "owner": {
                "group": service.owner.group,
                "contacts": [
                    {"role": str(c.role), "name": c.name, "email": c.email} for c in service.owner.contacts
                ],
            },
            "depends_on": list(service.depends_on),
            "automation": str(service.automation.fulfilment),
            "effective_sla": {
                "availability_percent": sla.availability,
                "latency": (
                    {"threshold_seconds": sla.latency.threshold, "percent": sla.latency.percent}
                    if sla.latency
                    else None
                ),
                "steps": (
                    {"max_duration_seconds": sla.steps.max_duration, "percent": sla.steps.percent}
                    if sla.steps
                    else None
                ),
                "unplanned_outages": sla.unplanned_outages,
                "schedule": sla.schedule,
                "period": str(sla.period),
                "budgeting": str(sla.budgeting),
            },
            "probes": probe_rows(runtime, service),
        }
    )
    return summary


def breach_dict(row) -> dict:
    return {
        "id": row.id,
        "service": row.service_id,
        "vantage": row.vantage,
        "objective": row.objective,
        "period": row.period,
        "opened_at": iso(row.opened_at),
        "resolved_at": iso(row.resolved_at),
        "open": row.resolved_at is None,
        **breach_figures(row.objective, row.measure, row.target),
    }


def breach_figures(objective: str, measure: float | None, target: float | None) -> dict:
    """A breach's figures in named units. The store keeps a ratio objective's measure
    as a ratio and its target as the catalogue's percent; ``unplanned_outages`` keeps
    the count of bad minutes and the number allowed."""
    outages = objective == UNPLANNED_OUTAGES
    return {
        "measure_ratio": None if outages else finite(measure),
        "target_ratio": None if outages or target is None else finite(percent_to_ratio(target)),
        "bad_minutes": finite(measure) if outages else None,
        "allowed_bad_minutes": finite(target) if outages else None,
    }


def exclusion_dict(row) -> dict:
    return {
        "id": row.id,
        "service": row.service_id,
        "vantage": row.vantage,
        "starts_at": iso(row.starts_at),
        "ends_at": iso(row.ends_at),
        "reason": row.reason,
        "approver": row.approver,
        "created_at": iso(row.created_at),
    }


def indicator_dicts(values: Iterable) -> list[dict]:
    return [
        {
            "indicator": str(v.indicator),
            "office": v.office,
            "value": finite(v.value),
            "unit": v.unit,
            "baseline": v.baseline,
            "target": v.target,
            "biennium": v.biennium,
            "counted": list(v.counted),
            "eligible": None if v.eligible is None else list(v.eligible),
            "not_counted": [{"service": sid, "reasons": list(reasons)} for sid, reasons in v.not_counted],
            # (a)(ii) per SLA period (docs/reports.md): the service-periods behind ``value``
            "method": getattr(v, "method", None),
            "service_periods_met": getattr(v, "periods_met", None),
            "service_periods_in_scope": getattr(v, "periods_in_scope", None),
            "service_periods_met_ratio": (
                v.periods_met / v.periods_in_scope if getattr(v, "periods_in_scope", None) else None
            ),
            "service_periods": None if getattr(v, "service_periods", None) is None else [
                {"service": p.service, "periods_met": len(p.met), "periods_in_scope": p.in_scope,
                 "breached_periods": [label for label, _ in p.breached], "unobserved_periods": list(p.unobserved)}
                for p in v.service_periods
            ],
        }
        for v in values
    ]


def service_counts(catalogue: Catalogue | None, vantages: Iterable[str] = ()) -> dict:
    """The one service count every face shows (header, status page, API, demo banner):
    every service in the catalogue, those in production, and those probed from the
    daemon's own offices (``vantages``; all offices when empty)."""
    if catalogue is None:
        return {"services": 0, "production": 0, "probed_here": 0}
    here = set(vantages) or set(catalogue.offices)
    services = list(catalogue.services.values())
    return {
        "services": len(services),
        "production": sum(1 for s in services if str(s.lifecycle) == "production"),
        "probed_here": sum(1 for s in services if here & set(vantages_of(s))),
    }


def counts_text(counts: dict) -> str:
    """``73 services, 60 in production, 64 probed from here``."""
    return f"{counts['services']} services, {counts['production']} in production, {counts['probed_here']} probed from here"


def catalogue_state(runtime: Runtime) -> dict:
    stats = runtime.catalogue_stats
    return {
        "loaded": runtime.catalogue is not None,
        "load_success": stats.load_success,
        "loaded_at": iso(stats.loaded_timestamp_seconds),
        "reloads": dict(stats.reloads_total),
        "errors": stats.errors,
        "warnings": stats.warnings,
        "last_errors": list(stats.last_errors),
        "last_failure_at": iso(stats.last_failure_timestamp_seconds),
        "services": len(runtime.catalogue.services) if runtime.catalogue else 0,
        "counts": service_counts(runtime.catalogue, runtime.vantages),
        "vantages": list(runtime.vantages),
        "ready": runtime.ready,
    }
