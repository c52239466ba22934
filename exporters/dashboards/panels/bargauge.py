"""Bar gauges: one horizontal bar per series, coloured by threshold."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from exporters.dashboards.panels import base
from exporters.dashboards.styles import BUDGET

OPTIONS: dict[str, Any] = {
    "reduceOptions": base.REDUCE_LAST,
    "displayMode": "gradient",
    "orientation": "horizontal",
    "showUnfilled": True,
    "valueMode": "color",
}


def panel(title: str, targets: Iterable[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return base.panel("bargauge", title, targets, OPTIONS, **fields)


def budget(title: str, targets: Iterable[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """Error budget remaining: a ratio up to 1 (untouched), below 0 when overspent."""
    return panel(title, targets, unit="percentunit", thresholds=BUDGET, maximum=1, **fields)
