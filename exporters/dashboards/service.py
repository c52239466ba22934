"""The service dashboard: one service from the selected vantages: state, probe results
and phases, status codes, certificates, SLI events, measure and burn rate."""

from __future__ import annotations

from typing import Any

from exporters.dashboards.frame import Layout, dashboard, q, var_query
from exporters.dashboards.panels import stat, state_timeline, table, timeseries
from exporters.dashboards.shared import (
    CERT_DAYS_FIELDS,
    burn_rate,
    cert_days_left,
    failures,
    series,
)
from exporters.dashboards.styles import (
    BREACH,
    BUDGET,
    BURN,
    GOOD_HIGH_RATIO,
    YES_NO,
    ZERO_GOOD,
    by_name,
    colored,
    steps,
)

SELECTOR = 'office="$office", service="$service", vantage=~"$vantage"'
STATUS_CODES = steps("red", (200.0, "green"), (300.0, "blue"), (400.0, "orange"), (500.0, "red"))

UID = "slamon-service"
TITLE = "slamon / Service"
DESCRIPTION = (
    "One service from the selected vantages: state, probe results and phases, status codes, certificates, "
    "SLI events, measure and burn rate."
)
VARIABLES = [
    var_query("office", "Office", "label_values(slamon_service_info, office)"),
    var_query("service", "Service", 'label_values(probe_success{office="$office"}, service)'),
    var_query("vantage", "Vantage", 'label_values(probe_success{service="$service"}, vantage)', multi=True),
]


def _now(lay: Layout, s: str = SELECTOR) -> None:
    lay.row("Now")
    lay.add(stat.up_down("State by vantage", [q(f"max by (vantage) (slamon_service_up{{{s}}})", "{{vantage}}")]), 6, 5)
    lay.add(stat.labels("Service", [
        q('max by (tier, lifecycle, category, owner_group) (slamon_service_info{office="$office", service="$service"})',
          "{{tier}} · {{lifecycle}} · {{owner_group}}")]), 6, 5)
    lay.add(stat.panel("Error budget remaining",
                       [q(f"min by (vantage) (slamon_sla_error_budget_remaining_ratio{{{s}}})", "{{vantage}}")],
                       unit="percentunit", thresholds=BUDGET), 6, 5)
    lay.add(stat.panel("Burn rate", [q(f"max by (vantage) (slamon_sla_burn_rate{{{s}}})", "{{vantage}}")],
                       thresholds=BURN, decimals=2), 6, 5)
    lay.add(stat.panel("Measure vs objective",
                       [q(f"min by (vantage, objective) (slamon_sla_measure_ratio{{{s}}})", "{{objective}} @ {{vantage}}"),
                        q(f"max by (objective) (slamon_sla_objective_ratio{{{s}}})", "{{objective}} objective")],
                       unit="percentunit", decimals=3, overrides=[colored("B", "blue")], thresholds=GOOD_HIGH_RATIO),
            12, 5)
    lay.add(stat.panel("Open breaches", [q(f"max by (objective) (slamon_breaches_open{{{s}}})", "{{objective}}")],
                       mappings=BREACH, thresholds=ZERO_GOOD), 6, 5)
    lay.add(stat.moment("Period ends", f"max(slamon_sla_period_end_timestamp_seconds{{{s}}})", "period end",
                        options={"textMode": "value"}), 6, 5)


def _probes(lay: Layout, s: str = SELECTOR) -> None:
    def per_probe(metric: str) -> dict[str, Any]:
        return q(f"max by (probe, vantage) ({metric}{{{s}}})", "{{probe}} @ {{vantage}}")

    lay.row("Probes")
    lay.add(state_timeline.up_down("probe_success", [per_probe("probe_success")]), 24, 7)
    lay.add(timeseries.panel("Probe duration", [per_probe("probe_duration_seconds")], unit="s"), 12, 8)
    lay.add(timeseries.panel("HTTP duration by phase",
                             [q(f"max by (probe, phase) (probe_http_duration_seconds{{{s}}})", "{{probe}} {{phase}}")],
                             description="resolve, connect, tls, processing (time to first byte) and transfer; "
                             "worst over the selected vantages.",
                             unit="s", stacked=True), 12, 8)
    lay.add(timeseries.panel("HTTP status code", [per_probe("probe_http_status_code")],
                             description="0 when no response arrived.", unit="none", thresholds=STATUS_CODES,
                             color={"mode": "thresholds"}, stepped=True, points=True), 12, 8)
    lay.add(timeseries.panel("DNS lookup time", [per_probe("probe_dns_lookup_time_seconds")], unit="s"), 12, 8)
    lay.add(stat.panel("Certificate days left", [q(cert_days_left("probe", s), "{{probe}}")], **CERT_DAYS_FIELDS), 6, 6)
    lay.add(stat.moment("Certificate expires", f"min by (probe) ({series('probe_ssl_earliest_cert_expiry', s)})",
                        "{{probe}}"), 6, 6)
    lay.add(table.panel("Last probe details",
                        [f"max by (probe, vantage) ({metric}{{{s}}})"
                         for metric in ("probe_ip_protocol", "probe_http_ssl", "probe_failed_due_to_regex")],
                        ["IP version", "TLS", "Failed on body"],
                        unit="none", overrides=[by_name("TLS", mappings=YES_NO), by_name("Failed on body", mappings=YES_NO)]),
            12, 6)


def _service_levels(lay: Layout, s: str = SELECTOR) -> None:
    lay.row("SLI and error budget")
    lay.add(timeseries.panel(
        "SLI events (eligible time)",
        [q(f"sum by (objective) (increase(slamon_sli_events_total{{{s}}}[$__rate_interval]))", "{{objective}} total"),
         q(f"sum by (objective) (increase(slamon_sli_good_events_total{{{s}}}[$__rate_interval]))", "{{objective}} good")],
        description="Probe results inside service hours and outside maintenance, and those that were good.",
        bars=True, overrides=[colored("B", "green")]), 12, 8)
    lay.add(timeseries.panel(
        "SLI error ratio",
        [q(f"1 - sum by (objective) (rate(slamon_sli_good_events_total{{{s}}}[$__rate_interval]))\n"
           f"/ sum by (objective) (rate(slamon_sli_events_total{{{s}}}[$__rate_interval]))", "{{objective}}")],
        unit="percentunit"), 12, 8)
    lay.add(timeseries.against("Measure in the period vs objective",
                               q(f"min by (objective) (slamon_sla_measure_ratio{{{s}}})", "{{objective}}"),
                               q(f"max by (objective) (slamon_sla_objective_ratio{{{s}}})", "{{objective}} objective"),
                               unit="percentunit"), 12, 8)
    lay.add(burn_rate("vantage", s), 12, 8)
    lay.add(failures("Failures by reason", "probe, reason", s), 24, 8)


def build() -> dict[str, Any]:
    return dashboard(UID, TITLE, DESCRIPTION, VARIABLES, [_now, _probes, _service_levels])
