"""State timelines: one band per series, coloured by its state over time."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from exporters.dashboards.panels import base
from exporters.dashboards.styles import ONE_GOOD, UP_DOWN

OPTIONS: dict[str, Any] = {
    "mergeValues": True,
    "showValue": "auto",
    "alignValue": "left",
    "rowHeight": 0.9,
    "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
    "tooltip": {"mode": "single", "sort": "none"},
}


def up_down(title: str, targets: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A 0/1 state over time: UP green, DOWN red."""
    return base.panel("state-timeline", title, targets, OPTIONS, mappings=UP_DOWN, thresholds=ONE_GOOD,
                      custom={"fillOpacity": 80, "lineWidth": 0})
