"""Grafana dashboards for slamon, generated so that they stay consistent.

Five dashboards (global overview, office, service detail, indicators, daemon health)
built only from the series named in METRICS.md. Every panel queries the Prometheus
data source chosen by the ``datasource`` template variable, so the same files work
with any data source uid. The committed JSON in ``deploy/grafana/dashboards/`` is the
output of this module; regenerate it with::

    python -m exporters.dashboards -o deploy/grafana/dashboards
    python -m exporters.dashboards -o deploy/grafana/dashboards --check   # CI: exit 1 if stale

Queries aggregate with ``by (...)`` on the labels they show, so the ``job`` and
``instance`` labels that Prometheus adds at scrape time never split a panel's series.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 39
TAG = "slamon"
DS: dict[str, str] = {"type": "prometheus", "uid": "${datasource}"}
DEFAULT_DIR = Path("deploy/grafana/dashboards")

# Indicators of the programme plan: (id, code, title, Grafana unit)
INDICATORS = (
    ("automated-services", "(a)(i)", "Automated services", "short"),
    ("services-meeting-levels", "(a)(ii)", "Services meeting their expected service levels", "percent"),
    ("iso-aligned-services", "(b)", "ISO-aligned services", "short"),
)

UP_DOWN = [
    {
        "type": "value",
        "options": {
            "0": {"text": "DOWN", "color": "red", "index": 0},
            "1": {"text": "UP", "color": "green", "index": 1},
        },
    }
]
OK_FAILED = [
    {
        "type": "value",
        "options": {
            "0": {"text": "FAILED", "color": "red", "index": 0},
            "1": {"text": "OK", "color": "green", "index": 1},
        },
    }
]
BREACH = [
    {
        "type": "value",
        "options": {
            "0": {"text": "none", "color": "green", "index": 0},
            "1": {"text": "OPEN", "color": "red", "index": 1},
        },
    }
]
YES_NO = [
    {
        "type": "value",
        "options": {"0": {"text": "no", "index": 0}, "1": {"text": "yes", "index": 1}},
    }
]


# ------------------------------------------------------------------ building blocks


def steps(base: str, *levels: tuple[float, str]) -> dict[str, Any]:
    """Absolute thresholds: ``base`` colour below the first level."""
    return {
        "mode": "absolute",
        "steps": [{"color": base, "value": None}]
        + [{"color": color, "value": value} for value, color in levels],
    }


GOOD_HIGH_RATIO = steps("red", (0.9, "orange"), (0.99, "green"))  # compliance-like ratios
BUDGET = steps("red", (0.0, "orange"), (0.25, "yellow"), (0.5, "green"))
BURN = steps("green", (1.0, "yellow"), (6.0, "orange"), (14.4, "red"))
ZERO_GOOD = steps("green", (1.0, "red"))
CERT_DAYS = steps("red", (14.0, "orange"), (30.0, "green"))
NEUTRAL = steps("blue")


def q(expr: str, legend: str = "", *, instant: bool = False, table: bool = False) -> dict[str, Any]:
    """A Prometheus target; refIds are assigned by ``panel``."""
    target: dict[str, Any] = {
        "datasource": DS,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
    }
    if table:
        target["format"] = "table"
    return target


def var_query(name: str, label: str, query: str, *, multi: bool = False) -> dict[str, Any]:
    """A query variable; ``multi`` ones offer All as the regex ``.*``."""
    v: dict[str, Any] = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-values"},
        "refresh": 2,  # on time range change: new offices and services appear
        "sort": 1,
        "regex": "",
        "hide": 0,
        "multi": multi,
        "includeAll": multi,
        "current": {},
        "options": [],
    }
    if multi:
        v["allValue"] = ".*"
    return v


DATASOURCE_VAR: dict[str, Any] = {
    "name": "datasource",
    "label": "Prometheus",
    "type": "datasource",
    "query": "prometheus",
    "regex": "",
    "refresh": 1,
    "hide": 0,
    "current": {},
    "options": [],
}


class Layout:
    """Places panels left to right in rows of 24 columns, assigning ids."""

    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []
        self.x = 0
        self.y = 0
        self.row_height = 0
        self.next_id = 1

    def _new_line(self) -> None:
        if self.x:
            self.y += self.row_height
            self.x = 0
            self.row_height = 0

    def row(self, title: str) -> None:
        self._new_line()
        self.panels.append(
            {
                "id": self.next_id,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                "panels": [],
            }
        )
        self.next_id += 1
        self.y += 1

    def add(self, panel: dict[str, Any], w: int, h: int) -> None:
        if self.x + w > 24:
            self._new_line()
        panel["id"] = self.next_id
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.next_id += 1
        self.x += w
        self.row_height = max(self.row_height, h)
        self.panels.append(panel)


def panel(
    kind: str,
    title: str,
    targets: Iterable[dict[str, Any]],
    *,
    description: str = "",
    unit: str = "short",
    thresholds: dict[str, Any] | None = None,
    mappings: list[dict[str, Any]] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    decimals: int | None = None,
    options: dict[str, Any] | None = None,
    custom: dict[str, Any] | None = None,
    overrides: list[dict[str, Any]] | None = None,
    transformations: list[dict[str, Any]] | None = None,
    color: dict[str, Any] | None = None,
) -> dict[str, Any]:
    targets = list(targets)
    for i, t in enumerate(targets):
        t["refId"] = chr(ord("A") + i)
    defaults: dict[str, Any] = {
        "unit": unit,
        "thresholds": thresholds or NEUTRAL,
        "mappings": mappings or [],
        "color": color or {"mode": "thresholds" if kind in ("stat", "bargauge", "gauge", "table", "state-timeline") else "palette-classic"},
    }
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    if decimals is not None:
        defaults["decimals"] = decimals
    if custom is not None:
        defaults["custom"] = custom
    p: dict[str, Any] = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": {**_default_options(kind), **(options or {})},
    }
    if transformations:
        p["transformations"] = transformations
    return p


REDUCE_LAST = {"calcs": ["lastNotNull"], "fields": "", "values": False}


def _default_options(kind: str) -> dict[str, Any]:
    if kind == "stat":
        return {
            "reduceOptions": REDUCE_LAST,
            "colorMode": "background",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "value_and_name",
        }
    if kind == "bargauge":
        return {
            "reduceOptions": REDUCE_LAST,
            "displayMode": "gradient",
            "orientation": "horizontal",
            "showUnfilled": True,
            "valueMode": "color",
        }
    if kind == "timeseries":
        return {
            "legend": {"displayMode": "table", "placement": "bottom", "showLegend": True, "calcs": ["lastNotNull", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    if kind == "state-timeline":
        return {
            "mergeValues": True,
            "showValue": "auto",
            "alignValue": "left",
            "rowHeight": 0.9,
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
            "tooltip": {"mode": "single", "sort": "none"},
        }
    if kind == "table":
        return {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}}
    return {}


def lines(*, stacked: bool = False, bars: bool = False, threshold_lines: bool = False, stepped: bool = False) -> dict[str, Any]:
    """``custom`` field config of a time series panel."""
    return {
        "drawStyle": "bars" if bars else "line",
        "lineInterpolation": "stepAfter" if stepped else "linear",
        "lineWidth": 1,
        "fillOpacity": 60 if bars else 10,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stacked else "none", "group": "A"},
        "thresholdsStyle": {"mode": "line+area" if threshold_lines else "off"},
    }


def merge_table(rename: dict[str, str], exclude: Iterable[str] = ("Time",)) -> list[dict[str, Any]]:
    """Join instant table queries on their labels and name the value columns."""
    return [
        {"id": "merge", "options": {}},
        {
            "id": "organize",
            "options": {
                "excludeByName": dict.fromkeys(exclude, True),
                "renameByName": rename,
                "indexByName": {},
            },
        },
    ]


def by_name(name: str, **props: Any) -> dict[str, Any]:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": k.replace("_", "."), "value": v} for k, v in props.items()],
    }


def by_ref(ref: str, props: list[dict[str, Any]]) -> dict[str, Any]:
    return {"matcher": {"id": "byFrameRefID", "options": ref}, "properties": props}


DASHED = {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}}


def dashboard(uid: str, title: str, description: str, variables: list[dict[str, Any]], layout: Layout) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": [TAG],
        "timezone": "utc",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": [
            {
                "title": "slamon dashboards",
                "type": "dashboards",
                "tags": [TAG],
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
                "targetBlank": False,
                "icon": "external link",
                "tooltip": "",
                "url": "",
            }
        ],
        "templating": {"list": [DATASOURCE_VAR, *variables]},
        "panels": layout.panels,
    }


# ------------------------------------------------------------------ the dashboards

# A service counts as up in an office only when it is up from every vantage it is probed from.
SERVICE_UP = "min by (office, service) (slamon_service_up)"


def overview() -> dict[str, Any]:
    lay = Layout()
    lay.row("Services by office")
    lay.add(
        panel(
            "stat",
            "Services up",
            [q(f"sum by (office) ({SERVICE_UP})", "{{office}}")],
            description="Services up from every vantage they are probed from (after the failure/success thresholds).",
            color={"mode": "fixed", "fixedColor": "green"},
        ),
        6, 5,
    )
    lay.add(
        panel(
            "stat",
            "Services down",
            [q(f"sum by (office) (1 - {SERVICE_UP})", "{{office}}")],
            description="Services down from at least one vantage.",
            thresholds=ZERO_GOOD,
        ),
        6, 5,
    )
    lay.add(
        panel(
            "stat",
            "Services with an open breach",
            [q("sum by (office) (max by (office, service) (slamon_breaches_open))", "{{office}}")],
            description="Services whose current-period measure is below an objective (a breach is open).",
            thresholds=ZERO_GOOD,
        ),
        6, 5,
    )
    lay.add(
        panel(
            "stat",
            "Services in unknown state",
            [q('sum by (office) (max by (office, service) (slamon_service_state{state="unknown"}))', "{{office}}")],
            description="Probed services without enough results yet to call them up or down at some vantage.",
            thresholds=steps("green", (1.0, "yellow")),
        ),
        6, 5,
    )
    lay.row("Service levels by office (current SLA period)")
    lay.add(
        panel(
            "bargauge",
            "SLA compliance",
            [
                q(
                    "sum by (office) (min by (office, service) (slamon_sla_measure_ratio >= bool slamon_sla_objective_ratio))\n"
                    "/\ncount by (office) (min by (office, service) (slamon_sla_measure_ratio))",
                    "{{office}}",
                )
            ],
            description="Share of measured services meeting every objective of their SLA from every vantage, so far in the current period.",
            unit="percentunit",
            thresholds=GOOD_HIGH_RATIO,
            minimum=0,
            maximum=1,
        ),
        8, 7,
    )
    lay.add(
        panel(
            "bargauge",
            "Error budget remaining (worst service)",
            [q("min by (office) (slamon_sla_error_budget_remaining_ratio)", "{{office}}")],
            description="The smallest remaining error budget of any service of the office (1 untouched, 0 spent, below 0 overspent).",
            unit="percentunit",
            thresholds=BUDGET,
            maximum=1,
        ),
        8, 7,
    )
    lay.add(
        panel(
            "bargauge",
            "Lowest error budgets",
            [q("bottomk(10, min by (office, service) (slamon_sla_error_budget_remaining_ratio))", "{{service}}", instant=True)],
            description="The ten services with the least error budget left in their period.",
            unit="percentunit",
            thresholds=BUDGET,
            maximum=1,
        ),
        8, 7,
    )
    lay.add(
        panel(
            "table",
            "Open breaches",
            [q("max by (office, service, vantage, objective) (slamon_breaches_open) == 1", instant=True, table=True)],
            description="Objectives whose current-period measure is below target, by vantage.",
            transformations=merge_table({}, exclude=("Time", "Value")),
        ),
        24, 6,
    )
    lay.row("Indicators (current period; office all = total)")
    for ind, code, title, unit in INDICATORS:
        lay.add(
            panel(
                "stat",
                f"{code} {title}",
                [q(f'max by (office) (slamon_indicator_value{{indicator="{ind}"}})', "{{office}}")],
                unit=unit,
                color={"mode": "fixed", "fixedColor": "blue"},
            ),
            8, 5,
        )
    lay.row("Trends")
    lay.add(
        panel(
            "timeseries",
            "Services down",
            [q(f"sum by (office) (1 - {SERVICE_UP})", "{{office}}")],
            custom=lines(stepped=True),
            decimals=0,
        ),
        8, 8,
    )
    lay.add(
        panel(
            "timeseries",
            "Probe failures per second",
            [q("sum by (office) (rate(slamon_probe_failures_total[$__rate_interval]))", "{{office}}")],
            unit="reqps",
            custom=lines(),
        ),
        8, 8,
    )
    lay.add(
        panel(
            "timeseries",
            "Probe results per second by vantage",
            [q("sum by (vantage) (rate(slamon_probe_results_total[$__rate_interval]))", "{{vantage}}")],
            unit="reqps",
            custom=lines(),
        ),
        8, 8,
    )
    return dashboard(
        "slamon-overview",
        "slamon / Global overview",
        "All offices: services up and down, SLA compliance, error budgets, open breaches and the three indicators.",
        [],
        lay,
    )


OFFICE_SEL = 'office="$office", vantage=~"$vantage"'


def office() -> dict[str, Any]:
    s = OFFICE_SEL
    lay = Layout()
    lay.row("Services")
    lay.add(
        panel(
            "stat",
            "Service state",
            [q(f"min by (service) (slamon_service_up{{{s}}})", "{{service}}")],
            description="Down when down from any selected vantage. Services in unknown state are not shown.",
            mappings=UP_DOWN,
            thresholds=steps("red", (1.0, "green")),
            options={"textMode": "value_and_name", "orientation": "vertical"},
        ),
        24, 6,
    )
    lay.add(
        panel(
            "state-timeline",
            "State over time",
            [q(f"min by (service) (slamon_service_up{{{s}}})", "{{service}}")],
            mappings=UP_DOWN,
            thresholds=steps("red", (1.0, "green")),
            custom={"fillOpacity": 80, "lineWidth": 0},
        ),
        24, 8,
    )
    lay.row("Service levels (current SLA period)")
    lay.add(
        panel(
            "table",
            "Measure vs objective",
            [
                q(f"min by (service, objective) (slamon_sla_measure_ratio{{{s}}})", instant=True, table=True),
                q(f"max by (service, objective) (slamon_sla_objective_ratio{{{s}}})", instant=True, table=True),
                q(f"max by (service, objective) (slamon_breaches_open{{{s}}})", instant=True, table=True),
            ],
            description="The worst measure over the selected vantages, against the objective's target.",
            unit="percentunit",
            decimals=3,
            transformations=merge_table({"Value #A": "Measure", "Value #B": "Objective", "Value #C": "Breach"}),
            overrides=[
                by_name("Breach", unit="short", mappings=BREACH, custom_cellOptions={"type": "color-text"}, decimals=0),
                by_name("Measure", custom_cellOptions={"type": "color-background"}, thresholds=GOOD_HIGH_RATIO),
            ],
        ),
        12, 10,
    )
    lay.add(
        panel(
            "bargauge",
            "Error budget remaining",
            [q(f"min by (service) (slamon_sla_error_budget_remaining_ratio{{{s}}})", "{{service}}")],
            unit="percentunit",
            thresholds=BUDGET,
            maximum=1,
        ),
        12, 10,
    )
    lay.add(
        panel(
            "timeseries",
            "Burn rate",
            [q(f"max by (service) (slamon_sla_burn_rate{{{s}}})", "{{service}}")],
            description="1 spends exactly the error budget over the period; 14.4 spends 2 % of a 30-day budget in an hour.",
            thresholds=BURN,
            custom=lines(threshold_lines=True),
        ),
        12, 8,
    )
    lay.add(
        panel(
            "bargauge",
            "Certificate days left",
            [q(f"(min by (service, probe) (probe_ssl_earliest_cert_expiry{{{s}}}) - time()) / 86400", "{{service}} {{probe}}")],
            unit="suffix: days",
            decimals=0,
            thresholds=CERT_DAYS,
            minimum=0,
        ),
        12, 8,
    )
    lay.row("Probes")
    lay.add(
        panel(
            "timeseries",
            "Probe durations",
            [q(f"max by (service, probe) (probe_duration_seconds{{{s}}})", "{{service}} {{probe}}")],
            unit="s",
            custom=lines(),
        ),
        12, 8,
    )
    lay.add(
        panel(
            "timeseries",
            "Failures by reason",
            [q(f"sum by (reason) (increase(slamon_probe_failures_total{{{s}}}[$__rate_interval]))", "{{reason}}")],
            unit="short",
            custom=lines(bars=True, stacked=True),
        ),
        12, 8,
    )
    lay.add(
        panel(
            "timeseries",
            "Failures by service and probe",
            [q(f"sum by (service, probe) (increase(slamon_probe_failures_total{{{s}}}[$__rate_interval]))", "{{service}} {{probe}}")],
            unit="short",
            custom=lines(bars=True, stacked=True),
        ),
        24, 8,
    )
    return dashboard(
        "slamon-office",
        "slamon / Office",
        "One office: the state of its services, their current-period measures against objectives, error budgets, burn rates and probe figures.",
        [
            var_query("office", "Office", "label_values(slamon_service_info, office)"),
            var_query("vantage", "Vantage", 'label_values(probe_success{office="$office"}, vantage)', multi=True),
        ],
        lay,
    )


SERVICE_SEL = 'office="$office", service="$service", vantage=~"$vantage"'


def service() -> dict[str, Any]:
    s = SERVICE_SEL
    lay = Layout()
    lay.row("Now")
    lay.add(
        panel(
            "stat",
            "State by vantage",
            [q(f"max by (vantage) (slamon_service_up{{{s}}})", "{{vantage}}")],
            mappings=UP_DOWN,
            thresholds=steps("red", (1.0, "green")),
        ),
        6, 5,
    )
    lay.add(
        panel(
            "stat",
            "Service",
            [q('max by (tier, lifecycle, category, owner_group) (slamon_service_info{office="$office", service="$service"})',
               "{{tier}} · {{lifecycle}} · {{owner_group}}")],
            options={"textMode": "name", "colorMode": "none"},
        ),
        6, 5,
    )
    lay.add(
        panel(
            "stat",
            "Error budget remaining",
            [q(f"min by (vantage) (slamon_sla_error_budget_remaining_ratio{{{s}}})", "{{vantage}}")],
            unit="percentunit",
            thresholds=BUDGET,
        ),
        6, 5,
    )
    lay.add(
        panel(
            "stat",
            "Burn rate",
            [q(f"max by (vantage) (slamon_sla_burn_rate{{{s}}})", "{{vantage}}")],
            thresholds=BURN,
            decimals=2,
        ),
        6, 5,
    )
    lay.add(
        panel(
            "stat",
            "Measure vs objective",
            [
                q(f"min by (vantage, objective) (slamon_sla_measure_ratio{{{s}}})", "{{objective}} @ {{vantage}}"),
                q(f"max by (objective) (slamon_sla_objective_ratio{{{s}}})", "{{objective}} objective"),
            ],
            unit="percentunit",
            decimals=3,
            overrides=[by_ref("B", [{"id": "color", "value": {"mode": "fixed", "fixedColor": "blue"}}])],
            thresholds=GOOD_HIGH_RATIO,
        ),
        12, 5,
    )
    lay.add(
        panel(
            "stat",
            "Open breaches",
            [q(f"max by (objective) (slamon_breaches_open{{{s}}})", "{{objective}}")],
            mappings=BREACH,
            thresholds=ZERO_GOOD,
        ),
        6, 5,
    )
    lay.add(
        panel(
            "stat",
            "Period ends",
            [q(f"max(slamon_sla_period_end_timestamp_seconds{{{s}}}) * 1000", "period end")],
            unit="dateTimeFromNow",
            options={"colorMode": "none", "textMode": "value"},
        ),
        6, 5,
    )
    lay.row("Probes")
    lay.add(
        panel(
            "state-timeline",
            "probe_success",
            [q(f"max by (probe, vantage) (probe_success{{{s}}})", "{{probe}} @ {{vantage}}")],
            mappings=UP_DOWN,
            thresholds=steps("red", (1.0, "green")),
            custom={"fillOpacity": 80, "lineWidth": 0},
        ),
        24, 7,
    )
    lay.add(
        panel(
            "timeseries",
            "Probe duration",
            [q(f"max by (probe, vantage) (probe_duration_seconds{{{s}}})", "{{probe}} @ {{vantage}}")],
            unit="s",
            custom=lines(),
        ),
        12, 8,
    )
    lay.add(
        panel(
            "timeseries",
            "HTTP duration by phase",
            [q(f"max by (probe, phase) (probe_http_duration_seconds{{{s}}})", "{{probe}} {{phase}}")],
            description="resolve, connect, tls, processing (time to first byte) and transfer; worst over the selected vantages.",
            unit="s",
            custom=lines(stacked=True),
        ),
        12, 8,
    )
    lay.add(
        panel(
            "timeseries",
            "HTTP status code",
            [q(f"max by (probe, vantage) (probe_http_status_code{{{s}}})", "{{probe}} @ {{vantage}}")],
            description="0 when no response arrived.",
            unit="none",
            thresholds=steps("red", (200.0, "green"), (300.0, "blue"), (400.0, "orange"), (500.0, "red")),
            color={"mode": "thresholds"},
            custom={**lines(stepped=True), "showPoints": "always"},
        ),
        12, 8,
    )
    lay.add(
        panel(
            "timeseries",
            "DNS lookup time",
            [q(f"max by (probe, vantage) (probe_dns_lookup_time_seconds{{{s}}})", "{{probe}} @ {{vantage}}")],
            unit="s",
            custom=lines(),
        ),
        12, 8,
    )
    lay.add(
        panel(
            "stat",
            "Certificate days left",
            [q(f"(min by (probe) (probe_ssl_earliest_cert_expiry{{{s}}}) - time()) / 86400", "{{probe}}")],
            unit="suffix: days",
            decimals=0,
            thresholds=CERT_DAYS,
        ),
        6, 6,
    )
    lay.add(
        panel(
            "stat",
            "Certificate expires",
            [q(f"min by (probe) (probe_ssl_earliest_cert_expiry{{{s}}}) * 1000", "{{probe}}")],
            unit="dateTimeFromNow",
            options={"colorMode": "none"},
        ),
        6, 6,
    )
    lay.add(
        panel(
            "table",
            "Last probe details",
            [
                q(f"max by (probe, vantage) (probe_ip_protocol{{{s}}})", instant=True, table=True),
                q(f"max by (probe, vantage) (probe_http_ssl{{{s}}})", instant=True, table=True),
                q(f"max by (probe, vantage) (probe_failed_due_to_regex{{{s}}})", instant=True, table=True),
            ],
            unit="none",
            transformations=merge_table({"Value #A": "IP version", "Value #B": "TLS", "Value #C": "Failed on body"}),
            overrides=[by_name("TLS", mappings=YES_NO), by_name("Failed on body", mappings=YES_NO)],
        ),
        12, 6,
    )
    lay.row("SLI and error budget")
    lay.add(
        panel(
            "timeseries",
            "SLI events (eligible time)",
            [
                q(f"sum by (objective) (increase(slamon_sli_events_total{{{s}}}[$__rate_interval]))", "{{objective}} total"),
                q(f"sum by (objective) (increase(slamon_sli_good_events_total{{{s}}}[$__rate_interval]))", "{{objective}} good"),
            ],
            description="Probe results inside service hours and outside maintenance, and those that were good.",
            custom=lines(bars=True),
            overrides=[by_ref("B", [{"id": "color", "value": {"mode": "fixed", "fixedColor": "green"}}])],
        ),
        12, 8,
    )
    lay.add(
        panel(
            "timeseries",
            "SLI error ratio",
            [
                q(
                    f"1 - sum by (objective) (rate(slamon_sli_good_events_total{{{s}}}[$__rate_interval]))\n"
                    f"/ sum by (objective) (rate(slamon_sli_events_total{{{s}}}[$__rate_interval]))",
                    "{{objective}}",
                )
            ],
            unit="percentunit",
            custom=lines(),
        ),
        12, 8,
    )
    lay.add(
        panel(
            "timeseries",
            "Measure in the period vs objective",
            [
                q(f"min by (objective) (slamon_sla_measure_ratio{{{s}}})", "{{objective}}"),
                q(f"max by (objective) (slamon_sla_objective_ratio{{{s}}})", "{{objective}} objective"),
            ],
            unit="percentunit",
            custom=lines(),
            overrides=[by_ref("B", [DASHED])],
        ),
        12, 8,
    )
    lay.add(
        panel(
            "timeseries",
            "Burn rate",
            [q(f"max by (vantage) (slamon_sla_burn_rate{{{s}}})", "{{vantage}}")],
            thresholds=BURN,
            custom=lines(threshold_lines=True),
        ),
        12, 8,
    )
    lay.add(
        panel(
            "timeseries",
            "Failures by reason",
            [q(f"sum by (probe, reason) (increase(slamon_probe_failures_total{{{s}}}[$__rate_interval]))", "{{probe}} {{reason}}")],
            custom=lines(bars=True, stacked=True),
        ),
        24, 8,
    )
    return dashboard(
        "slamon-service",
        "slamon / Service",
        "One service from the selected vantages: state, probe results and phases, status codes, certificates, SLI events, measure and burn rate.",
        [
            var_query("office", "Office", "label_values(slamon_service_info, office)"),
            var_query("service", "Service", 'label_values(probe_success{office="$office"}, service)'),
            var_query("vantage", "Vantage", 'label_values(probe_success{service="$service"}, vantage)', multi=True),
        ],
        lay,
    )


def _total_of(series: str, ind: str) -> str:
    """The "all" figure of a biennium, else the offices' mean (a percentage indicator
    has no total unless indicators.yaml writes one)."""
    sel = f'indicator="{ind}", biennium="$biennium"'
    return f'max({series}{{{sel}, office="all"}})\nor\navg({series}{{{sel}, office!="all"}})'


def indicators() -> dict[str, Any]:
    lay = Layout()

    def sel(ind: str, *, biennium: bool = False, offices: bool = True) -> str:
        parts = [f'indicator="{ind}"']
        if offices:
            parts.append('office=~"$office"')
        if biennium:
            parts.append('biennium="$biennium"')
        return "{" + ", ".join(parts) + "}"

    lay.row("Total of all offices")
    for ind, code, title, unit in INDICATORS:
        total = f'indicator="{ind}", office="all"'
        lay.add(
            panel(
                "stat",
                f"{code} {title}",
                [
                    q(f"max(slamon_indicator_value{{{total}}})", "Actual"),
                    q(_total_of("slamon_indicator_baseline", ind), "Baseline"),
                    q(_total_of("slamon_indicator_target", ind), "Target"),
                ],
                description="Baseline and target of the total as written in indicators.yaml (counts: the sum of the "
                "offices); where the file sets none, the mean of the offices' figures.",
                unit=unit,
                color={"mode": "fixed", "fixedColor": "blue"},
                overrides=[by_ref("A", [{"id": "color", "value": {"mode": "fixed", "fixedColor": "green"}}])],
            ),
            8, 5,
        )
    for ind, code, title, unit in INDICATORS:
        lay.row(f"{code} {title}")
        value = f"max by (office) (slamon_indicator_value{sel(ind)})"
        base = f"max by (office) (slamon_indicator_baseline{sel(ind, biennium=True)})"
        target = f"max by (office) (slamon_indicator_target{sel(ind, biennium=True)})"
        lay.add(
            panel(
                "table",
                "Actual, baseline and target by office",
                [
                    q(value, instant=True, table=True),
                    q(base, instant=True, table=True),
                    q(target, instant=True, table=True),
                    q(f"({value} - {base})\n/\n({target} - {base})", instant=True, table=True),
                ],
                description="Progress is the share of the way from baseline to target covered so far (1 = target met).",
                unit=unit,
                transformations=merge_table(
                    {"Value #A": "Actual", "Value #B": "Baseline", "Value #C": "Target", "Value #D": "Progress"}
                ),
                overrides=[
                    by_name(
                        "Progress",
                        unit="percentunit",
                        custom_cellOptions={"type": "color-background"},
                        thresholds=steps("red", (0.5, "orange"), (1.0, "green")),
                    )
                ],
            ),
            10, 8,
        )
        lay.add(
            panel(
                "timeseries",
                "Actual over time, with target",
                [q(value, "{{office}}"), q(target, "{{office}} target")],
                unit=unit,
                custom=lines(stepped=True),
                overrides=[by_ref("B", [DASHED])],
            ),
            14, 8,
        )
    return dashboard(
        "slamon-indicators",
        "slamon / Indicators",
        "The programme's performance indicators per office and in total: actual value against the biennium's baseline and target.",
        [
            var_query("biennium", "Biennium", "label_values(slamon_indicator_target, biennium)"),
            var_query("office", "Office", "label_values(slamon_indicator_value, office)", multi=True),
        ],
        lay,
    )


def daemon() -> dict[str, Any]:
    s = 'instance=~"$instance"'
    lay = Layout()
    lay.row("Daemon and catalogue")
    lay.add(
        panel("stat", "Scrape up", [q(f"max by (instance) (up{{{s}}})", "{{instance}}")],
              mappings=UP_DOWN, thresholds=steps("red", (1.0, "green"))),
        4, 5,
    )
    lay.add(
        panel(
            "stat",
            "Version",
            [q(f"max by (instance, version, python) (slamon_build_info{{{s}}})", "{{instance}}: {{version}} (Python {{python}})")],
            options={"textMode": "name", "colorMode": "none"},
        ),
        5, 5,
    )
    lay.add(
        panel("stat", "Catalogue load", [q(f"max by (instance) (slamon_catalogue_load_success{{{s}}})", "{{instance}}")],
              description="Whether the last load or reload succeeded; a failed reload keeps the last good catalogue running.",
              mappings=OK_FAILED, thresholds=steps("red", (1.0, "green"))),
        4, 5,
    )
    lay.add(
        panel("stat", "Catalogue loaded",
              [q(f"max by (instance) (slamon_catalogue_loaded_timestamp_seconds{{{s}}}) * 1000", "{{instance}}")],
              unit="dateTimeFromNow", options={"colorMode": "none"}),
        5, 5,
    )
    lay.add(
        panel("stat", "Reloads in range",
              [q(f"sum by (result) (increase(slamon_catalogue_reloads_total{{{s}}}[$__range]))", "{{result}}")],
              decimals=0,
              overrides=[by_name("failure", thresholds=ZERO_GOOD)],
              color={"mode": "fixed", "fixedColor": "blue"}),
        6, 5,
    )
    lay.add(
        panel("bargauge", "Services in the catalogue",
              [q(f"sum by (office, lifecycle) (slamon_catalogue_services{{{s}}})", "{{office}} {{lifecycle}}")],
              decimals=0),
        24, 7,
    )
    lay.row("Scheduler")
    lag = f"sum by (le) (rate(slamon_scheduler_lag_seconds_bucket{{{s}}}[$__rate_interval]))"
    lay.add(
        panel(
            "timeseries",
            "Scheduling lag quantiles",
            [q(f"histogram_quantile({p}, {lag})", f"p{int(p * 100)}") for p in (0.5, 0.9, 0.99)],
            description="How late probe runs start after their due time. Sustained lag means the daemon is short of CPU or concurrency.",
            unit="s",
            thresholds=steps("green", (0.5, "orange"), (1.0, "red")),
            custom=lines(threshold_lines=True),
        ),
        12, 8,
    )
    lay.add(
        panel(
            "timeseries",
            "Probes in flight and scheduled",
            [q(f"sum(slamon_scheduler_in_flight{{{s}}})", "in flight"),
             q(f"sum(slamon_scheduler_probes{{{s}}})", "scheduled")],
            custom=lines(),
        ),
        12, 8,
    )
    lay.add(
        panel(
            "timeseries",
            "Runs and overruns per second",
            [q(f"sum(rate(slamon_scheduler_runs_total{{{s}}}[$__rate_interval]))", "runs"),
             q(f"sum(rate(slamon_scheduler_overruns_total{{{s}}}[$__rate_interval]))", "overruns")],
            description="An overrun is a run skipped because the previous run of the same probe was still going.",
            unit="reqps",
            custom=lines(),
            overrides=[by_ref("B", [{"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}])],
        ),
        12, 8,
    )
    lay.add(
        panel(
            "timeseries",
            "Probe results per second by vantage",
            [q(f"sum by (vantage) (rate(slamon_probe_results_total{{{s}}}[$__rate_interval]))", "{{vantage}}")],
            unit="reqps",
            custom=lines(),
        ),
        12, 8,
    )
    lay.row("Store")
    lay.add(
        panel("stat", "Store", [q(f"max by (instance) (slamon_store_up{{{s}}})", "{{instance}}")],
              description="Whether the database accepts writes; while it does not, results wait in the buffer.",
              mappings=UP_DOWN, thresholds=steps("red", (1.0, "green"))),
        6, 8,
    )
    lay.add(
        panel(
            "timeseries",
            "Write queue vs buffer capacity",
            [q(f"sum(slamon_store_queue_length{{{s}}})", "queued"),
             q(f"sum(slamon_store_buffer_capacity{{{s}}})", "capacity")],
            custom=lines(),
            overrides=[by_ref("B", [DASHED])],
        ),
        9, 8,
    )
    lay.add(
        panel(
            "timeseries",
            "Written, dropped and write errors",
            [q(f"sum(rate(slamon_store_written_total{{{s}}}[$__rate_interval]))", "written/s"),
             q(f"sum(increase(slamon_store_dropped_total{{{s}}}[$__rate_interval]))", "dropped"),
             q(f"sum(increase(slamon_store_write_errors_total{{{s}}}[$__rate_interval]))", "write errors")],
            description="Dropped results were lost because the buffer was full; write errors are failed batches (retried).",
            custom=lines(),
            overrides=[
                by_ref("B", [{"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}]),
                by_ref("C", [{"id": "color", "value": {"mode": "fixed", "fixedColor": "orange"}}]),
            ],
        ),
        9, 8,
    )
    lay.row("Shard leases (--shards)")
    lay.add(
        panel("stat", "Lease session", [q(f"min by (instance) (slamon_lease_up{{{s}}})", "{{instance}}")],
              description="Whether the daemon can prove its leases in PostgreSQL; while it cannot, it probes nothing.",
              mappings=UP_DOWN, thresholds=steps("red", (1.0, "green"))),
        6, 8,
    )
    lay.add(
        panel(
            "timeseries",
            "Shards held and the evaluator",
            [q(f"sum by (instance) (slamon_lease_shards_held{{{s}}})", "{{instance}}"),
             q(f"sum(slamon_lease_evaluator{{{s}}})", "evaluators")],
            description="Shards each daemon probes; a standby holds none. One evaluator per group of daemons.",
            decimals=0,
            custom=lines(),
        ),
        9, 8,
    )
    lay.add(
        panel(
            "timeseries",
            "Shards taken and minutes probed twice",
            [q(f"sum(increase(slamon_lease_acquired_total{{{s}}}[$__rate_interval]))", "shards taken"),
             q(f"sum(increase(slamon_duplicate_minutes_total{{{s}}}[$__rate_interval]))", "minutes probed twice")],
            description="Shards taken at start, on a takeover or when daemons rebalance; minutes in which two daemons probed one service at once (counted once in the SLA).",
            custom=lines(),
            overrides=[by_ref("B", [{"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}])],
        ),
        9, 8,
    )
    return dashboard(
        "slamon-daemon",
        "slamon / Daemon health",
        "The daemons themselves: scrape and catalogue state, scheduling lag, concurrency, overruns and the result store.",
        [var_query("instance", "Daemon", "label_values(slamon_build_info, instance)", multi=True)],
        lay,
    )


# ------------------------------------------------------------------ files

BUILDERS = {
    "slamon-overview.json": overview,
    "slamon-office.json": office,
    "slamon-service.json": service,
    "slamon-indicators.json": indicators,
    "slamon-daemon.json": daemon,
}


def build_all() -> dict[str, dict[str, Any]]:
    """File name -> dashboard model."""
    return {name: build() for name, build in BUILDERS.items()}


def render(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exporters.dashboards", description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_DIR, help=f"folder of the JSON files (default {DEFAULT_DIR})")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file differs from the generated one")
    args = parser.parse_args(argv)
    stale = []
    for name, model in build_all().items():
        path = args.output / name
        text = render(model)
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    if stale:
        print("out of date (run python -m exporters.dashboards): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
