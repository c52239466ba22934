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
from slamon.core.results import ProbeResult
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
        "error_budget_remaining_ratio": finite(snap.error_budget_remaining_ratio),
        "burn_rate": finite(snap.burn_rate),
        "open_breaches": sorted(snap.open_breaches),
    }


def availability_of(snap: dict | None) -> float | None:
    if not snap:
        return None
    for o in snap["objectives"]:
        if o["objective"] == "availability":
            return o["measure_ratio"]
    return None


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
        "measure": finite(row.measure),
        "target": finite(row.target),
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
        }
        for v in values
    ]


def catalogue_state(runtime: Runtime) -> dict:
    stats = runtime.catalogue_stats
    return {
        "loaded": runtime.catalogue is not None,
        "load_success": stats.load_success,
        "loaded_at": iso(stats.loaded_timestamp_seconds),
        "reloads": dict(stats.reloads_total),
        "errors": stats.errors,
        "warnings": stats.warnings,
        "services": len(runtime.catalogue.services) if runtime.catalogue else 0,
        "vantages": list(runtime.vantages),
        "ready": runtime.ready,
    }
