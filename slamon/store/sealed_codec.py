"""Sealed periods as stored: the targets as canonical JSON, the outage runs as a blob,
the verdicts as JSON (no I/O). docs/storage.md ("Sealed period aggregates") is the
written specification of these layouts."""

from __future__ import annotations

import json
import struct
from functools import lru_cache

from slamon.core.catalogue import EffectiveSLA
from slamon.core.model import STORED_CONTEXT, Budgeting, LatencyObjective, Period, StepsObjective
from slamon.core.sla.measure import ObjectiveResult
from slamon.core.sla.sealed import Run

RUNS_VERSION = 1
"""First byte of a ``runs`` blob. Version 1: then per run two unsigned 32-bit
little-endian integers, the first epoch minute of the run and the minute after its last."""


def encode_runs(runs: tuple[Run, ...] | None) -> bytes:
    flat = [m for run in runs or () for m in run]
    return bytes((RUNS_VERSION,)) + struct.pack(f"<{len(flat)}I", *flat)


def decode_runs(blob: bytes) -> tuple[Run, ...]:
    blob = bytes(blob)
    if not blob or blob[0] != RUNS_VERSION:
        raise ValueError(f"unknown outage-runs layout (version byte {blob[:1]!r})")
    flat = struct.unpack(f"<{(len(blob) - 1) // 4}I", blob[1:])
    return tuple(zip(flat[0::2], flat[1::2], strict=True))


def encode_sla(sla: EffectiveSLA) -> str:
    """The targets in force as canonical JSON (sorted keys, no spaces): equal targets
    give equal text, so a reader compares parts by text."""
    body = {
        "availability": sla.availability,
        "latency": sla.latency.model_dump(mode="json") if sla.latency else None,
        "steps": sla.steps.model_dump(mode="json") if sla.steps else None,
        "unplanned_outages": sla.unplanned_outages,
        "schedule": sla.schedule,
        "period": str(sla.period.value),
        "budgeting": str(sla.budgeting.value),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


@lru_cache(maxsize=1024)  # a handful of distinct target sets in an estate
def decode_sla(text: str) -> EffectiveSLA:
    body = json.loads(text)
    latency, steps = body["latency"], body["steps"]
    return EffectiveSLA(
        availability=body["availability"],
        latency=LatencyObjective.model_validate(latency, context=STORED_CONTEXT) if latency else None,
        steps=StepsObjective.model_validate(steps, context=STORED_CONTEXT) if steps else None,
        unplanned_outages=body["unplanned_outages"],
        schedule=body["schedule"],
        period=Period(body["period"]),
        budgeting=Budgeting(body["budgeting"]),
    )


def encode_objectives(objectives: dict[str, ObjectiveResult]) -> str:
    return json.dumps(
        {
            name: {"target": o.target, "actual": o.actual, "met": o.met, "unit": o.unit,
                   "total": o.total, "bad": o.bad, "allowed_bad": o.allowed_bad}
            for name, o in objectives.items()
        },
        separators=(",", ":"),
    )  # fmt: skip


def decode_objectives(text: str | None) -> dict[str, ObjectiveResult]:
    if not text:
        return {}
    return {name: ObjectiveResult(name, **o) for name, o in json.loads(text).items()}
