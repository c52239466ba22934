"""Grafana dashboards for slamon, as deterministic JSON (provisioned from deploy/grafana).

Five dashboards: a global overview of every office, one office, one service, the
three indicators, and the daemons' own health. They query only the agreed metric
names (``slamon_*``, blackbox-compatible ``probe_*``) and the generated ``slo:*``
recordings; template variables (office, service, vantage) come from the series
themselves, so the dashboards do not depend on the catalogue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

DATASOURCE = {"type": "prometheus", "uid": "slamon-prometheus"}  # provisioned in deploy/grafana
TAGS = ["slamon"]


@dataclass
class _Board:
    uid: str
    title: str
    description: str
    variables: list[str] = field(default_factory=list)
    panels: list[dict] = field(default_factory=list)
    _y: int = 0
    _x: int = 0
    _row_height: int = 0

    def add(self, kind: str, title: str, targets: list[tuple[str, str]], width: int = 12,
            height: int = 8, unit: str | None = None, description: str = "", **options) -> None:
        if self._x + width > 24:
            self._x, self._y = 0, self._y + self._row_height
            self._row_height = 0
        panel = {
            "id": len(self.panels) + 1,
            "type": kind,
            "title": title,
            "description": description,
            "datasource": DATASOURCE,
            "gridPos": {"x": self._x, "y": self._y, "w": width, "h": height},
            "targets": [
                {
                    "refId": chr(ord("A") + i),
                    "datasource": DATASOURCE,
                    "expr": expr,
                    "legendFormat": legend,
                    **({"instant": True, "format": "table"} if kind == "table" else {}),
                }
                for i, (expr, legend) in enumerate(targets)
            ],
            "fieldConfig": {"defaults": {**({"unit": unit} if unit else {})}, "overrides": []},
            "options": options,
        }
        if kind == "table":  # one row per service from several instant queries
            panel["transformations"] = [{"id": "merge", "options": {}}]
        self.panels.append(panel)
        self._x += width
        self._row_height = max(self._row_height, height)

    def document(self) -> dict:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": TAGS,
            "timezone": "utc",
            "schemaVersion": 39,
            "version": 1,
            "editable": False,
            "refresh": "1m",
            "time": {"from": "now-24h", "to": "now"},
            "templating": {"list": [_variable(v) for v in self.variables]},
            "panels": self.panels,
        }


_VARIABLE_QUERIES = {
    "office": "label_values(slamon_service_info, office)",
    "service": 'label_values(slamon_service_info{office=~"$office"}, service)',
    "vantage": 'label_values(slamon_service_up{service=~"$service"}, vantage)',
}


def _variable(name: str) -> dict:
    return {
        "name": name,
        "label": name,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": _VARIABLE_QUERIES[name], "refId": name},
        "refresh": 2,
        "includeAll": name != "service",
        "multi": name != "service",
        "current": {},
        "sort": 1,
    }


def overview() -> dict:
    b = _Board("slamon-overview", "slamon: all offices",
               "Every office at a glance: services down, SLA measures, budgets and breaches.")
    b.add("stat", "Services down", [
        ('count by (office) (max by (office, service) (slamon_service_up == 0)) or on (office) '
         '(0 * count by (office) (slamon_service_info))', "{{office}}")], width=8, height=5,
        colorMode="background", graphMode="none")
    b.add("stat", "Open SLA breaches", [
        ("sum by (office) (max by (office, service, objective) (slamon_breaches_open))", "{{office}}")],
        width=8, height=5, colorMode="background", graphMode="none")
    b.add("stat", "Catalogue: production services", [
        ('sum by (office) (slamon_catalogue_services{lifecycle="production"})', "{{office}}")],
        width=8, height=5, graphMode="none")
    b.add("bargauge", "Lowest availability this period, per office", [
        ('min by (office) (slamon_sla_measure_ratio{objective="availability"})', "{{office}}")],
        unit="percentunit", min=0.95, max=1, displayMode="lcd", orientation="horizontal")
    b.add("bargauge", "Error budget left: the ten lowest services", [
        ("bottomk(10, min by (office, service) (slamon_sla_error_budget_remaining_ratio))",
         "{{service}}")], unit="percentunit", min=0, max=1, displayMode="lcd", orientation="horizontal")
    b.add("timeseries", "Error ratio (1h) of services burning budget", [
        ("topk(10, max by (office, service) (slo:sli_error:ratio_rate1h) > 0)", "{{service}}")],
        width=24, unit="percentunit")
    b.add("table", "Services down or in breach", [
        ("max by (office, service, vantage) (slamon_service_up == 0)", ""),
        ("max by (office, service, vantage, objective) (slamon_breaches_open == 1)", "")], width=24)
    return b.document()


def office() -> dict:
    b = _Board("slamon-office", "slamon: office", "The services of one office.", ["office"])
    b.add("table", "Services", [
        ('max by (service, tier, owner_group, lifecycle) (slamon_service_info{office=~"$office"})', ""),
        ('min by (service) (slamon_service_up{office=~"$office"})', ""),
        ('min by (service) (slamon_sla_measure_ratio{office=~"$office", objective="availability"})', ""),
        ('min by (service) (slamon_sla_error_budget_remaining_ratio{office=~"$office"})', ""),
    ], width=24, height=10)
    b.add("timeseries", "Availability error ratio (1h window)", [
        ('max by (service) (slo:sli_error:ratio_rate1h{office=~"$office", sloth_slo="availability"})',
         "{{service}}")], unit="percentunit")
    b.add("timeseries", "Burn rate (5m)", [
        ('max by (service) (slo:current_burn_rate:ratio{office=~"$office"})', "{{service}}")])
    b.add("state-timeline", "Up / down", [
        ('min by (service) (slamon_service_up{office=~"$office"})', "{{service}}")], width=24)
    return b.document()


def service() -> dict:
    b = _Board("slamon-service", "slamon: service", "One service: probes, SLI, error budget.",
               ["office", "service", "vantage"])
    sel = 'service="$service", vantage=~"$vantage"'
    b.add("state-timeline", "Probe success", [
        (f"probe_success{{{sel}}}", "{{vantage}} {{probe}}")], width=24, height=6)
    b.add("timeseries", "Probe duration", [
        (f"probe_duration_seconds{{{sel}}}", "{{vantage}} {{probe}}")], unit="s")
    b.add("timeseries", "HTTP phases", [
        (f"sum by (phase) (probe_http_duration_seconds{{{sel}}})", "{{phase}}")], unit="s",
        stacking={"mode": "normal"})
    b.add("timeseries", "SLI error ratio by window", [
        (f'slo:sli_error:ratio_rate5m{{{sel}}}', "5m {{sloth_slo}} {{vantage}}"),
        (f'slo:sli_error:ratio_rate1h{{{sel}}}', "1h {{sloth_slo}} {{vantage}}"),
        (f'slo:sli_error:ratio_rate1d{{{sel}}}', "1d {{sloth_slo}} {{vantage}}")], unit="percentunit")
    b.add("timeseries", "Error budget left this period", [
        (f"slamon_sla_error_budget_remaining_ratio{{{sel}}}", "{{vantage}}")], unit="percentunit")
    b.add("stat", "Availability this period", [
        (f'slamon_sla_measure_ratio{{{sel}, objective="availability"}}', "{{vantage}}")],
        width=8, unit="percentunit", graphMode="none")
    b.add("stat", "Objective", [
        (f'slamon_sla_objective_ratio{{{sel}, objective="availability"}}', "{{vantage}}")],
        width=8, unit="percentunit", graphMode="none")
    b.add("stat", "Certificate days left", [
        (f"min by (probe) (probe_ssl_earliest_cert_expiry{{{sel}}} - time()) / 86400", "{{probe}}")],
        width=8, unit="d", graphMode="none")
    b.add("timeseries", "Failures by reason (rate)", [
        (f"sum by (reason) (rate(slamon_probe_failures_total{{{sel}}}[5m]))", "{{reason}}")],
        width=24, unit="ops")
    return b.document()


def indicators() -> dict:
    b = _Board("slamon-indicators", "slamon: indicators",
               "The ICT-operations indicators per office: actual against baseline and target.",
               ["office"])
    for indicator, title in (
        ("automated-services", "(a)(i) automated services"),
        ("services-meeting-levels", "(a)(ii) services meeting their service levels"),
        ("iso-aligned-services", "(b) ISO-aligned services"),
    ):
        b.add("bargauge", title, [
            (f'slamon_indicator_value{{office=~"$office", indicator="{indicator}"}}', "{{office}} actual"),
            (f'max by (office) (slamon_indicator_target{{office=~"$office", indicator="{indicator}"}})',
             "{{office}} target"),
            (f'max by (office) (slamon_indicator_baseline{{office=~"$office", indicator="{indicator}"}})',
             "{{office}} baseline"),
        ], width=8, height=10, displayMode="gradient", orientation="horizontal")
    return b.document()


def daemon_health() -> dict:
    b = _Board("slamon-daemon", "slamon: daemon health", "The slamon daemons themselves.")
    b.add("stat", "Daemons up", [('sum(up{job="slamon"})', "up")], width=6, height=5, graphMode="none")
    b.add("stat", "Catalogue loaded", [("min(slamon_catalogue_load_success)", "loaded")],
          width=6, height=5, graphMode="none")
    b.add("stat", "Store up", [("min(slamon_store_up)", "store")], width=6, height=5, graphMode="none")
    b.add("stat", "Probes scheduled", [("sum(slamon_scheduler_probes)", "probes")],
          width=6, height=5, graphMode="none")
    b.add("timeseries", "Scheduler lag p99", [
        ("histogram_quantile(0.99, sum by (instance, le) (rate(slamon_scheduler_lag_seconds_bucket[5m])))",
         "{{instance}}")], unit="s")
    b.add("timeseries", "Probes in flight", [("slamon_scheduler_in_flight", "{{instance}}")])
    b.add("timeseries", "Probe results per second", [
        ("sum by (instance) (rate(slamon_probe_results_total[5m]))", "{{instance}}")], unit="ops")
    b.add("timeseries", "Store queue and drops", [
        ("slamon_store_queue_length", "queue {{instance}}"),
        ("rate(slamon_store_dropped_total[5m])", "dropped/s {{instance}}"),
        ("rate(slamon_store_write_errors_total[5m])", "write errors/s {{instance}}")])
    b.add("timeseries", "Catalogue reloads", [
        ("sum by (result) (increase(slamon_catalogue_reloads_total[1h]))", "{{result}}")], width=24)
    return b.document()


def build_dashboards() -> dict[str, dict]:
    """File name -> dashboard document."""
    boards = [overview(), office(), service(), indicators(), daemon_health()]
    return {f"{board['uid']}.json": board for board in boards}


def dump_json(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def panel_queries(document: dict) -> list[str]:
    """Every PromQL expression of a dashboard (panels and variables)."""
    exprs = [t["expr"] for p in document["panels"] for t in p["targets"]]
    return exprs
