"""The OpenAPI 3.1 document of ``/api/v1``, written as data.

The tests check that every route the application registers under ``/api/v1`` is
described here and that real answers validate against these schemas.

Why one module above 500 lines: it is one document, data rather than logic; split, the
schemas a route shares with another would be read in two places.
"""

from __future__ import annotations

import copy
from typing import Any

from slamon import __version__
from slamon.core.results import WarningReason

NUM = {"type": "number"}
INT = {"type": "integer"}
STR = {"type": "string"}
BOOL = {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
# units: every field named *_ratio is a ratio 0..1, every *_percent a percentage 0..100
RATIO = {"type": "number", "minimum": 0, "maximum": 1, "description": "a ratio 0..1 (0.999 is 99.9 %)"}
PERCENT = {"type": "number", "minimum": 0, "maximum": 100, "description": "a percentage 0..100"}
MINUTES = {"type": "number", "minimum": 0}


def nullable(schema: dict) -> dict:
    t = schema.get("type")
    if t is None:
        return {"anyOf": [schema, {"type": "null"}]}
    return {**schema, "type": [t, "null"]}


def obj(props: dict[str, Any], required: list[str] | None = None, extra: bool = False) -> dict:
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
        "additionalProperties": extra,
    }


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: dict) -> dict:
    return {"type": "array", "items": items}


STATE = {"type": "string", "enum": ["up", "down", "unknown"]}

SCHEMAS: dict[str, dict] = {
    "Problem": obj(
        {"type": STR, "title": STR, "status": INT, "detail": STR},
        ["title", "status", "detail"],
    ),
    "Status": obj(
        {
            "catalogue": obj(
                {
                    "loaded": BOOL,
                    "load_success": BOOL,
                    "loaded_at": nullable(TIME),
                    "reloads": {"type": "object", "additionalProperties": INT},
                    "errors": INT,
                    "warnings": INT,
                    "last_errors": array(STR),
                    "last_failure_at": nullable(TIME),
                    "services": INT,
                    "counts": obj({"services": INT, "production": INT, "probed_here": INT}),
                    "vantages": array(STR),
                    "ready": BOOL,
                }
            ),
            "store": BOOL,
            "now": TIME,
        }
    ),
    "SlaSnapshot": obj(
        {
            "vantage": STR,
            "period_end": nullable(TIME),
            "objectives": array(
                obj(
                    {
                        "objective": STR,
                        "target_ratio": RATIO,
                        "measure_ratio": nullable(RATIO),
                        "breached": BOOL,
                    }
                )
            ),
            "error_budget_remaining_ratio": nullable(RATIO),
            "error_budget_overspent": BOOL,
            "error_budget_note": nullable(STR),
            "burn_rate": nullable(NUM),
            "open_breaches": array(STR),
        }
    ),
    "ServiceSummary": obj(
        {
            "id": STR,
            "name": STR,
            "office": STR,
            "category": STR,
            "lifecycle": {"type": "string", "enum": ["pipeline", "production", "deprecated", "retired"]},
            "tier": STR,
            "state": STATE,
            "sla_target": obj(
                {"availability_percent": PERCENT, "period": STR, "schedule": STR, "budgeting": STR}
            ),
            "vantages": array(obj({"vantage": STR, "state": STATE, "sla": nullable(ref("SlaSnapshot")),
                                   "warnings": array(obj({"probe": STR, "reason": STR, "detail": nullable(STR)}))})),
            "open_breaches": INT,
            "warnings": INT,
        }
    ),
    "ServiceList": obj({"count": INT, "services": array(ref("ServiceSummary"))}),
    "Result": obj(
        {
            "vantage": STR,
            "probe": STR,
            "kind": STR,
            "started_at": TIME,
            "success": BOOL,
            "reason": nullable(STR),
            "duration_seconds": nullable(NUM),
            "status_code": nullable(INT),
            "phases": {"type": "object", "additionalProperties": NUM},
            "detail": nullable(STR),
            "warning": {"type": ["string", "null"], "enum": [*(w.value for w in WarningReason), None]},
            "warning_detail": nullable(STR),
            "steps": array(
                obj(
                    {
                        "name": STR,
                        "success": BOOL,
                        "duration_seconds": NUM,
                        "status_code": nullable(INT),
                        "reason": nullable(STR),
                    }
                )
            ),
            "icmp": obj(  # icmp results only (latest result; the store keeps none of it)
                {
                    "packets_sent": INT,
                    "packets_received": INT,
                    "packet_loss_ratio": NUM,
                    "rtt_seconds": nullable(NUM),
                }
            ),
        },
        required=["vantage", "probe", "kind", "started_at", "success", "reason", "duration_seconds",
                  "status_code", "phases", "detail", "steps"],
    ),
    "ProbeRow": obj(
        {
            "probe": STR,
            "kind": STR,
            "vantage": STR,
            "enabled": BOOL,
            "interval_seconds": NUM,
            "timeout_seconds": NUM,
            "state": STATE,
            "results_total": INT,
            "latest": nullable(ref("Result")),
        }
    ),
    "ServiceDetail": {
        "type": "object",
        "description": "a ServiceSummary with the service's details",
        "properties": {
            "description": STR,
            "owner": obj(
                {
                    "group": STR,
                    "contacts": array(obj({"role": STR, "name": STR, "email": STR})),
                }
            ),
            "depends_on": array(STR),
            "automation": STR,
            "effective_sla": obj(
                {
                    "availability_percent": PERCENT,
                    "latency": nullable(obj({"threshold_seconds": NUM, "percent": PERCENT})),
                    "steps": nullable(obj({"max_duration_seconds": NUM, "percent": PERCENT})),
                    "unplanned_outages": nullable(INT),
                    "schedule": STR,
                    "period": STR,
                    "budgeting": STR,
                }
            ),
            "probes": array(ref("ProbeRow")),
            "recent_results": array(ref("Result")),
        },
        "required": ["description", "owner", "effective_sla", "probes", "recent_results"],
        "additionalProperties": False,
    },
    "Measures": {
        "type": "object",
        "description": "One service at one vantage over the period (counts in seconds).",
        "properties": {
            "service": STR,
            "vantage": STR,
            "period": STR,
            "start": TIME,
            "end": TIME,
            "as_of": TIME,
            "closed": BOOL,
            "elapsed_ratio": RATIO,
            "seconds": {"type": "object", "additionalProperties": INT},
            "results": obj({"total": INT, "good": INT}),
            "outage_runs": INT,
            "outages": ref("Outages"),
            "error_budget": obj(
                {
                    "budget_seconds": NUM,
                    "consumed_seconds": NUM,
                    "remaining_seconds": NUM,
                    "remaining_ratio": nullable(RATIO),
                    "overspent": BOOL,
                    "note": nullable(STR),
                    "burn_rate": nullable(NUM),
                }
            ),
            "objectives": {
                "type": "object",
                "additionalProperties": obj(
                    {
                        "target_ratio": nullable(RATIO),
                        "actual_ratio": nullable(RATIO),
                        "met": nullable(BOOL),
                        "unit": STR,
                        "total": NUM,
                        "bad": NUM,
                        "allowed_bad": NUM,
                    }
                ),
            },
            "met": nullable(BOOL),
            "parts": array({"type": "object"}),
        },
        "required": ["service", "vantage", "period", "seconds", "error_budget", "objectives", "met"],
    },
    "Outages": obj(
        {
            "count": INT,
            "downtime_seconds": NUM,
            "mtrs_seconds": nullable(NUM),
            "mtbf_seconds": nullable(NUM),
            "mtbsi_seconds": nullable(NUM),
            "longest_seconds": NUM,
            "by_cause_seconds": obj(
                {"service": NUM, "dependency": NUM, "maintenance_overrun": NUM, "unobserved": NUM}
            ),
        }
    ),
    "ServiceLevel": obj(
        {
            "service": STR,
            "met": nullable(BOOL),
            "failing_vantages": array(STR),
            "unobserved_vantages": array(STR),
            "vantages": array(ref("Measures")),
        }
    ),
    "ServiceSla": obj(
        {
            "period": STR,
            "start": nullable(TIME),
            "end": nullable(TIME),
            "as_of": TIME,
            "level": nullable(ref("ServiceLevel")),
            # each of the service's own SLA periods in the period (not for "current")
            "sla_periods": array(
                obj(
                    {
                        "period": STR,
                        "start": TIME,
                        "end": TIME,
                        "closed": BOOL,
                        "met": nullable(BOOL),
                        "observed_minutes": INT,
                        "failing": array(STR),
                    }
                )
            ),
        },
        required=["period", "start", "end", "as_of", "level"],
    ),
    "SlaReport": obj(
        {
            "period": STR,
            "office": nullable(STR),
            "as_of": TIME,
            "summary": obj(
                {"services": INT, "met": INT, "not_met": INT, "unknown": INT, "outages": ref("Outages")}
            ),
            "services": array(ref("ServiceLevel")),
        }
    ),
    "Indicator": obj(
        {
            "indicator": {
                "type": "string",
                "enum": ["automated-services", "services-meeting-levels", "iso-aligned-services"],
            },
            "office": STR,
            "value": nullable(NUM),
            "unit": {"type": "string", "enum": ["count", "percent"]},
            "baseline": nullable(NUM),
            "target": nullable(NUM),
            "biennium": STR,
            "counted": array(STR),
            "eligible": nullable(array(STR)),
            "not_counted": array(obj({"service": STR, "reasons": array(STR)})),
            "method": {"enum": ["per-sla-period", "whole-period", None]},
            "service_periods_met": nullable(INT),
            "service_periods_in_scope": nullable(INT),
            "service_periods_met_ratio": nullable({"type": "number", "minimum": 0, "maximum": 1}),
            "service_periods": nullable(
                array(
                    obj(
                        {
                            "service": STR,
                            "periods_met": INT,
                            "periods_in_scope": INT,
                            "breached_periods": array(STR),
                            "unobserved_periods": array(STR),
                        }
                    )
                )
            ),
        },
        required=["indicator", "office", "value", "unit", "baseline", "target", "biennium", "counted",
                  "eligible", "not_counted"],
    ),
    "IndicatorList": obj({"period": STR, "office": nullable(STR), "indicators": array(ref("Indicator"))}),
    "Breach": obj(
        {
            "id": INT,
            "service": STR,
            "vantage": STR,
            "objective": STR,
            "period": STR,
            "opened_at": TIME,
            "resolved_at": nullable(TIME),
            "open": BOOL,
            "measure_ratio": nullable(RATIO),
            "target_ratio": nullable(RATIO),
            "bad_minutes": nullable(MINUTES),
            "allowed_bad_minutes": nullable(MINUTES),
        }
    ),
    "BreachList": obj({"count": INT, "breaches": array(ref("Breach"))}),
    "Exclusion": obj(
        {
            "id": INT,
            "service": STR,
            "vantage": nullable(STR),
            "starts_at": TIME,
            "ends_at": TIME,
            "reason": STR,
            "approver": STR,
            "created_at": TIME,
        }
    ),
    "ExclusionList": obj({"count": INT, "exclusions": array(ref("Exclusion"))}),
    "HeartbeatAnswer": obj({"status": {"type": "string", "enum": ["accepted"]}, "detail": STR}),
    "ReloadAnswer": obj({"status": {"type": "string", "enum": ["requested", "reloaded", "refused"]}, "detail": STR}),
    "OpenAPI": {"type": "object", "required": ["openapi", "info", "paths", "components"]},
}


_summary = SCHEMAS["ServiceSummary"]
SCHEMAS["ServiceDetail"]["properties"] = {**_summary["properties"], **SCHEMAS["ServiceDetail"]["properties"]}
SCHEMAS["ServiceDetail"]["required"] = [*_summary["required"], *SCHEMAS["ServiceDetail"]["required"]]


def _q(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema or STR}


ID = {"name": "id", "in": "path", "required": True, "description": "service id, e.g. unog-email", "schema": STR}
OFFICE = _q("office", "an office id (unhq, unog, unov, unon); unknown ids are a 400")
PERIOD = _q(
    "period",
    "current (default: each service's own SLA period), 2026-11, 2026-Q3, 2026, 2026-2027 or rolling-30d",
)
SINCE = _q("since", "ISO 8601 date or time (UTC when no offset is given)")


def _json(schema: str, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


def _problem(description: str) -> dict:
    return {"description": description, "content": {"application/problem+json": {"schema": ref("Problem")}}}


NO_CATALOGUE = _problem("no catalogue loaded yet, or no store configured")
BAD = _problem("a bad query parameter (period label, office, limit, ...)")


def _get(summary: str, schema: str, params: list[dict], errors: dict[str, dict] | None = None) -> dict:
    responses = {"200": _json(schema, summary)}
    responses.update(errors or {})
    return {"get": {"summary": summary, "parameters": params, "responses": responses}}


PATHS: dict[str, dict] = {
    "/api/v1/status": _get("The daemon's catalogue load state and whether it has a store", "Status", []),
    "/api/v1/services": _get(
        "Services with their state and current-period SLA per vantage",
        "ServiceList",
        [
            OFFICE,
            _q("lifecycle", "pipeline | production | deprecated | retired", {"type": "string", "enum": ["pipeline", "production", "deprecated", "retired"]}),
            _q("state", "up | down | unknown (worst over the service's vantages)", STATE),
        ],
        {"400": BAD, "503": NO_CATALOGUE},
    ),
    "/api/v1/services/{id}": _get(
        "One service: owner, effective SLA, probes with their latest result, recent results from the store",
        "ServiceDetail",
        [ID, _q("limit", "how many recent results (1-1000, default 50)", INT)],
        {"400": BAD, "404": _problem("unknown service"), "503": NO_CATALOGUE},
    ),
    "/api/v1/services/{id}/sla": _get(
        "SLA measures of one service over a period, per vantage",
        "ServiceSla",
        [ID, PERIOD],
        {"400": BAD, "404": _problem("unknown service"), "503": NO_CATALOGUE},
    ),
    "/api/v1/sla": _get(
        "SLA measures of every service (of an office) over a period",
        "SlaReport",
        [OFFICE, PERIOD],
        {"400": BAD, "503": NO_CATALOGUE},
    ),
    "/api/v1/indicators": _get(
        "The three indicators per office and in total, with the services counted and why others are not",
        "IndicatorList",
        [OFFICE, _q("period", "current (the biennium of today, default), 2026-2027, 2026, 2026-Q3, 2026-11")],
        {"400": BAD, "503": NO_CATALOGUE},
    ),
    "/api/v1/breaches": _get(
        "Recorded SLA breaches, newest first",
        "BreachList",
        [
            _q("state", "open | all (default)", {"type": "string", "enum": ["open", "all"]}),
            _q("service", "a service id"),
            _q("since", "keep breaches still open at or resolved after this time"),
        ],
        {"400": BAD, "503": NO_CATALOGUE},
    ),
    "/api/v1/exclusions": _get(
        "Recorded exclusions (time taken out of the SLA), by start",
        "ExclusionList",
        [_q("service", "a service id"), _q("since", "keep exclusions ending after this time")],
        {"400": BAD, "503": NO_CATALOGUE},
    ),
    "/api/v1/openapi.json": _get("This document", "OpenAPI", []),
    "/api/v1/admin/reload": {
        "post": {
            "summary": "Reload the catalogue (admin)",
            "security": [{"adminToken": []}],
            "parameters": [],
            "responses": {
                "200": _json("ReloadAnswer", "reloaded"),
                "202": _json("ReloadAnswer", "reload requested"),
                "409": _json("ReloadAnswer", "the new catalogue has errors; the last good one keeps running"),
                "401": _problem("no or wrong bearer token"),
                "403": _problem("admin actions are off (no SLAMON_ADMIN_TOKEN)"),
                "503": _problem("this server has no reload action"),
            },
        }
    },
    "/api/v1/heartbeat/{service}/{probe}": {
        "post": {
            "summary": "A batch job's heartbeat (kind: heartbeat probes)",
            "description": "Authorization: Bearer <the probe's token>. Optional status (ok | fail) and "
            "message (at most 200 characters shown), as query or form fields. 421 when another "
            "daemon (--office/--shard) owns the service.",
            "security": [{"heartbeatToken": []}],
            "parameters": [
                {"name": "service", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "probe", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "status", "in": "query", "required": False, "schema": {"enum": ["ok", "fail"]}},
                {"name": "message", "in": "query", "required": False, "schema": {"type": "string"}},
            ],
            "responses": {
                "202": _json("HeartbeatAnswer", "heartbeat recorded"),
                "400": _problem("status is neither ok nor fail"),
                "401": _problem("no or wrong heartbeat token (counted in slamon_heartbeat_rejected_total)"),
                "404": _problem("unknown service, or no heartbeat probe of that id"),
                "421": _problem("another daemon (--office/--shard) takes this service's heartbeats"),
                "503": _problem("this server takes no heartbeats, or is stopping (Retry-After)"),
            },
        }
    },
}


def openapi_document() -> dict:
    """A fresh copy (callers may not change the shared data)."""
    return copy.deepcopy(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "slamon API",
                "version": __version__,
                "description": "Read-only view of the service catalogue, probe results, SLA measures, "
                "breaches, exclusions and the three ICT-operations indicators. Errors are RFC 9457 problem objects.",
            },
            "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
            "paths": PATHS,
            "components": {
                "schemas": SCHEMAS,
                "securitySchemes": {
                    "heartbeatToken": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "the heartbeat probe's token (its ${env:NAME} in the daemon's environment)",
                    },
                    "adminToken": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "the daemon's SLAMON_ADMIN_TOKEN",
                    }
                },
            },
        }
    )
