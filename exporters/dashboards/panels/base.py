"""The parts of a panel every family shares: targets with ref ids, the data source,
the field defaults (unit, thresholds, value texts, colour) and the options."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from exporters.dashboards.frame import DS
from exporters.dashboards.styles import NEUTRAL

# The last value of each series: what a stat or bar gauge shows.
REDUCE_LAST = {"calcs": ["lastNotNull"], "fields": "", "values": False}


def ref_id(index: int) -> str:
    """The ref id of a panel's query number ``index``: A, B, C, ..."""
    return chr(ord("A") + index)


def panel(
    kind: str,
    title: str,
    targets: Iterable[dict[str, Any]],
    family_options: dict[str, Any],
    *,
    color_mode: str = "thresholds",
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
    """A panel of ``kind``: ``options`` change single keys of the family's options;
    ``color`` replaces the family's colour mode."""
    targets = list(targets)
    for i, t in enumerate(targets):
        t["refId"] = ref_id(i)
    defaults: dict[str, Any] = {
        "unit": unit,
        "thresholds": thresholds or NEUTRAL,
        "mappings": mappings or [],
        "color": color or {"mode": color_mode},
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
        "options": {**family_options, **(options or {})},
    }
    if transformations:
        p["transformations"] = transformations
    return p
