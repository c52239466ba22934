"""The global overview: every office's services up and down, SLA compliance, error
budgets, open breaches, the three indicators and trends."""

from __future__ import annotations

from typing import Any

from exporters.dashboards.frame import Layout, dashboard, q
from exporters.dashboards.indicators import INDICATORS
from exporters.dashboards.panels import bargauge, stat, table, timeseries
from exporters.dashboards.shared import SERVICE_UP, results_by_vantage
from exporters.dashboards.styles import GOOD_HIGH_RATIO, ZERO_GOOD, fixed, steps

COMPLIANCE = (
    "sum by (office) (min by (office, service) (slamon_sla_measure_ratio >= bool slamon_sla_objective_ratio))\n"
    "/\ncount by (office) (min by (office, service) (slamon_sla_measure_ratio))"
)

UID = "slamon-overview"
TITLE = "slamon / Global overview"
DESCRIPTION = "All offices: services up and down, SLA compliance, error budgets, open breaches and the three indicators."
VARIABLES: list[dict[str, Any]] = []


def _panels(lay: Layout) -> None:
    lay.row("Services by office")
    lay.add(stat.panel("Services up", [q(f"sum by (office) ({SERVICE_UP})", "{{office}}")],
                       description="Services up from every vantage they are probed from (after the failure/success thresholds).",
                       color=fixed("green")), 6, 5)
    lay.add(stat.panel("Services down", [q(f"sum by (office) (1 - {SERVICE_UP})", "{{office}}")],
                       description="Services down from at least one vantage.", thresholds=ZERO_GOOD), 6, 5)
    lay.add(stat.panel("Services with an open breach",
                       [q("sum by (office) (max by (office, service) (slamon_breaches_open))", "{{office}}")],
                       description="Services whose current-period measure is below an objective (a breach is open).",
                       thresholds=ZERO_GOOD), 6, 5)
    lay.add(stat.panel("Services in unknown state",
                       [q('sum by (office) (max by (office, service) (slamon_service_state{state="unknown"}))', "{{office}}")],
                       description="Probed services without enough results yet to call them up or down at some vantage.",
                       thresholds=steps("green", (1.0, "yellow"))), 6, 5)

    lay.row("Service levels by office (current SLA period)")
    lay.add(bargauge.panel("SLA compliance", [q(COMPLIANCE, "{{office}}")],
                           description="Share of measured services meeting every objective of their SLA from every "
                           "vantage, so far in the current period.",
                           unit="percentunit", thresholds=GOOD_HIGH_RATIO, minimum=0, maximum=1), 8, 7)
    lay.add(bargauge.budget("Error budget remaining (worst service)",
                            [q("min by (office) (slamon_sla_error_budget_remaining_ratio)", "{{office}}")],
                            description="The smallest remaining error budget of any service of the office "
                            "(1 untouched, 0 spent, below 0 overspent)."), 8, 7)
    lay.add(bargauge.budget("Lowest error budgets",
                            [q("bottomk(10, min by (office, service) (slamon_sla_error_budget_remaining_ratio))",
                               "{{service}}", instant=True)],
                            description="The ten services with the least error budget left in their period."), 8, 7)
    lay.add(table.panel("Open breaches", ["max by (office, service, vantage, objective) (slamon_breaches_open) == 1"],
                        exclude=("Time", "Value"),
                        description="Objectives whose current-period measure is below target, by vantage."), 24, 6)

    lay.row("Indicators (current period; office all = total)")
    for ind, code, title, unit in INDICATORS:
        lay.add(stat.panel(f"{code} {title}",
                           [q(f'max by (office) (slamon_indicator_value{{indicator="{ind}"}})', "{{office}}")],
                           unit=unit, color=fixed("blue")), 8, 5)

    lay.row("Trends")
    lay.add(timeseries.panel("Services down", [q(f"sum by (office) (1 - {SERVICE_UP})", "{{office}}")],
                             stepped=True, decimals=0), 8, 8)
    lay.add(timeseries.panel("Probe failures per second",
                             [q("sum by (office) (rate(slamon_probe_failures_total[$__rate_interval]))", "{{office}}")],
                             unit="reqps"), 8, 8)
    lay.add(results_by_vantage(), 8, 8)


def build() -> dict[str, Any]:
    return dashboard(UID, TITLE, DESCRIPTION, VARIABLES, [_panels])
