"""The office dashboard: one office's services, their current-period measures against
objectives, error budgets, burn rates, certificates and probe figures."""

from __future__ import annotations

from typing import Any

from exporters.dashboards.frame import Layout, dashboard, q, var_query
from exporters.dashboards.panels import bargauge, stat, state_timeline, table, timeseries
from exporters.dashboards.shared import CERT_DAYS_FIELDS, burn_rate, cert_days_left, failures
from exporters.dashboards.styles import BREACH, GOOD_HIGH_RATIO, by_name

SELECTOR = 'office="$office", vantage=~"$vantage"'

UID = "slamon-office"
TITLE = "slamon / Office"
DESCRIPTION = (
    "One office: the state of its services, their current-period measures against objectives, error budgets, "
    "burn rates and probe figures."
)
VARIABLES = [
    var_query("office", "Office", "label_values(slamon_service_info, office)"),
    var_query("vantage", "Vantage", 'label_values(probe_success{office="$office"}, vantage)', multi=True),
]


def _panels(lay: Layout) -> None:
    s = SELECTOR
    state = f"min by (service) (slamon_service_up{{{s}}})"
    lay.row("Services")
    lay.add(stat.up_down("Service state", [q(state, "{{service}}")],
                         description="Down when down from any selected vantage. Services in unknown state are not shown.",
                         options={"textMode": "value_and_name", "orientation": "vertical"}), 24, 6)
    lay.add(state_timeline.up_down("State over time", [q(state, "{{service}}")]), 24, 8)

    lay.row("Service levels (current SLA period)")
    lay.add(table.panel("Measure vs objective",
                        [f"min by (service, objective) (slamon_sla_measure_ratio{{{s}}})",
                         f"max by (service, objective) (slamon_sla_objective_ratio{{{s}}})",
                         f"max by (service, objective) (slamon_breaches_open{{{s}}})"],
                        ["Measure", "Objective", "Breach"],
                        description="The worst measure over the selected vantages, against the objective's target.",
                        unit="percentunit", decimals=3,
                        overrides=[
                            by_name("Breach", unit="short", mappings=BREACH, custom_cellOptions={"type": "color-text"},
                                    decimals=0),
                            by_name("Measure", custom_cellOptions={"type": "color-background"}, thresholds=GOOD_HIGH_RATIO),
                        ]), 12, 10)
    lay.add(bargauge.budget("Error budget remaining",
                            [q(f"min by (service) (slamon_sla_error_budget_remaining_ratio{{{s}}})", "{{service}}")]),
            12, 10)
    lay.add(burn_rate("service", s, "1 spends exactly the error budget over the period; 14.4 spends 2 % of a "
                      "30-day budget in an hour."), 12, 8)
    lay.add(bargauge.panel("Certificate days left", [q(cert_days_left("service, probe", s), "{{service}} {{probe}}")],
                           minimum=0, **CERT_DAYS_FIELDS), 12, 8)

    lay.row("Probes")
    lay.add(timeseries.panel("Probe durations",
                             [q(f"max by (service, probe) (probe_duration_seconds{{{s}}})", "{{service}} {{probe}}")],
                             unit="s"), 12, 8)
    lay.add(failures("Failures by reason", "reason", s), 12, 8)
    lay.add(failures("Failures by service and probe", "service, probe", s), 24, 8)


def build() -> dict[str, Any]:
    return dashboard(UID, TITLE, DESCRIPTION, VARIABLES, [_panels])
