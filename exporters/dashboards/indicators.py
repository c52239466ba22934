"""The indicators dashboard: the programme's performance indicators per office and in
total, actual value against the biennium's baseline and target."""

from __future__ import annotations

from typing import Any

from exporters.dashboards.frame import Layout, dashboard, q, var_query
from exporters.dashboards.panels import stat, table, timeseries
from exporters.dashboards.styles import by_name, colored, fixed, steps

# Indicators of the programme plan: (id, code, title, Grafana unit)
INDICATORS = (
    ("automated-services", "(a)(i)", "Automated services", "short"),
    ("services-meeting-levels", "(a)(ii)", "Services meeting their expected service levels", "percent"),
    ("iso-aligned-services", "(b)", "ISO-aligned services", "short"),
)
PROGRESS = steps("red", (0.5, "orange"), (1.0, "green"))

UID = "slamon-indicators"
TITLE = "slamon / Indicators"
DESCRIPTION = (
    "The programme's performance indicators per office and in total: actual value against the biennium's "
    "baseline and target."
)
VARIABLES = [
    var_query("biennium", "Biennium", "label_values(slamon_indicator_target, biennium)"),
    var_query("office", "Office", "label_values(slamon_indicator_value, office)", multi=True),
]


def _total_of(series: str, ind: str) -> str:
    """The "all" figure of a biennium, else the offices' mean (a percentage indicator
    has no total unless indicators.yaml writes one)."""
    sel = f'indicator="{ind}", biennium="$biennium"'
    return f'max({series}{{{sel}, office="all"}})\nor\navg({series}{{{sel}, office!="all"}})'


def _selector(ind: str, *, biennium: bool = False) -> str:
    parts = [f'indicator="{ind}"', 'office=~"$office"']
    if biennium:
        parts.append('biennium="$biennium"')
    return "{" + ", ".join(parts) + "}"


def _totals(lay: Layout) -> None:
    lay.row("Total of all offices")
    for ind, code, title, unit in INDICATORS:
        lay.add(stat.panel(f"{code} {title}",
                           [q(f'max(slamon_indicator_value{{indicator="{ind}", office="all"}})', "Actual"),
                            q(_total_of("slamon_indicator_baseline", ind), "Baseline"),
                            q(_total_of("slamon_indicator_target", ind), "Target")],
                           description="Baseline and target of the total as written in indicators.yaml (counts: the sum "
                           "of the offices); where the file sets none, the mean of the offices' figures.",
                           unit=unit, color=fixed("blue"), overrides=[colored("A", "green")]), 8, 5)


def _by_office(lay: Layout, ind: str, code: str, title: str, unit: str) -> None:
    lay.row(f"{code} {title}")
    value = f"max by (office) (slamon_indicator_value{_selector(ind)})"
    base = f"max by (office) (slamon_indicator_baseline{_selector(ind, biennium=True)})"
    target = f"max by (office) (slamon_indicator_target{_selector(ind, biennium=True)})"
    lay.add(table.panel("Actual, baseline and target by office",
                        [value, base, target, f"({value} - {base})\n/\n({target} - {base})"],
                        ["Actual", "Baseline", "Target", "Progress"],
                        description="Progress is the share of the way from baseline to target covered so far "
                        "(1 = target met).",
                        unit=unit,
                        overrides=[by_name("Progress", unit="percentunit", custom_cellOptions={"type": "color-background"},
                                           thresholds=PROGRESS)]), 10, 8)
    lay.add(timeseries.against("Actual over time, with target", q(value, "{{office}}"), q(target, "{{office}} target"),
                               unit=unit, stepped=True), 14, 8)


def _each_indicator(lay: Layout) -> None:
    for indicator in INDICATORS:
        _by_office(lay, *indicator)


def build() -> dict[str, Any]:
    return dashboard(UID, TITLE, DESCRIPTION, VARIABLES, [_totals, _each_indicator])
