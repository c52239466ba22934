"""Stat panels: one big value per series, its background coloured by threshold."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from exporters.dashboards.frame import q
from exporters.dashboards.panels import base
from exporters.dashboards.styles import ONE_GOOD, UP_DOWN

OPTIONS: dict[str, Any] = {
    "reduceOptions": base.REDUCE_LAST,
    "colorMode": "background",
    "graphMode": "none",
    "justifyMode": "auto",
    "orientation": "auto",
    "textMode": "value_and_name",
}


def panel(title: str, targets: Iterable[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return base.panel("stat", title, targets, OPTIONS, **fields)


def up_down(title: str, targets: Iterable[dict[str, Any]], *, mappings: list[dict[str, Any]] = UP_DOWN,
            **fields: Any) -> dict[str, Any]:
    """A 0/1 state: 1 green, 0 red, shown as the texts of ``mappings``."""
    return panel(title, targets, mappings=mappings, thresholds=ONE_GOOD, **fields)


def moment(title: str, seconds: str, legend: str, *, options: dict[str, Any] | None = None,
           **fields: Any) -> dict[str, Any]:
    """A Unix time in ``seconds`` shown as "in 3 days" or "2 hours ago", uncoloured."""
    return panel(title, [q(f"{seconds} * 1000", legend)], unit="dateTimeFromNow",
                 options={"colorMode": "none", **(options or {})}, **fields)


def labels(title: str, targets: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The labels of an info series, written by the targets' legends, without a value."""
    return panel(title, targets, options={"textMode": "name", "colorMode": "none"})
