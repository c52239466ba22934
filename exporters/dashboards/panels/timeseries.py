"""Time series panels: lines or bars over the dashboard's time range."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from exporters.dashboards.panels import base
from exporters.dashboards.styles import DASHED, by_ref

OPTIONS: dict[str, Any] = {
    "legend": {"displayMode": "table", "placement": "bottom", "showLegend": True, "calcs": ["lastNotNull", "max"]},
    "tooltip": {"mode": "multi", "sort": "desc"},
}


def lines(*, stacked: bool = False, bars: bool = False, threshold_lines: bool = False, stepped: bool = False,
          points: bool = False) -> dict[str, Any]:
    """``custom`` field config: how the series are drawn."""
    return {
        "drawStyle": "bars" if bars else "line",
        "lineInterpolation": "stepAfter" if stepped else "linear",
        "lineWidth": 1,
        "fillOpacity": 60 if bars else 10,
        "showPoints": "always" if points else "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stacked else "none", "group": "A"},
        "thresholdsStyle": {"mode": "line+area" if threshold_lines else "off"},
    }


def panel(title: str, targets: Iterable[dict[str, Any]], *, stacked: bool = False, bars: bool = False,
          threshold_lines: bool = False, stepped: bool = False, points: bool = False,
          **fields: Any) -> dict[str, Any]:
    """Each series its own colour; ``threshold_lines`` draws the thresholds as lines."""
    custom = lines(stacked=stacked, bars=bars, threshold_lines=threshold_lines, stepped=stepped, points=points)
    return base.panel("timeseries", title, targets, OPTIONS, color_mode="palette-classic", custom=custom, **fields)


def against(title: str, value: dict[str, Any], line: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A value and, dashed, the line it is held against (objective, target, capacity)."""
    return panel(title, [value, line], overrides=[by_ref("B", [DASHED])], **fields)
