"""How values look: threshold colours, value texts, fixed colours and per-series
overrides, named once so that the same meaning looks the same on every dashboard."""

from __future__ import annotations

from typing import Any


def steps(base: str, *levels: tuple[float, str]) -> dict[str, Any]:
    """Absolute thresholds: ``base`` colour below the first level."""
    return {
        "mode": "absolute",
        "steps": [{"color": base, "value": None}]
        + [{"color": color, "value": value} for value, color in levels],
    }


GOOD_HIGH_RATIO = steps("red", (0.9, "orange"), (0.99, "green"))  # compliance-like ratios
BUDGET = steps("red", (0.0, "orange"), (0.25, "yellow"), (0.5, "green"))
BURN = steps("green", (1.0, "yellow"), (6.0, "orange"), (14.4, "red"))
ZERO_GOOD = steps("green", (1.0, "red"))
ONE_GOOD = steps("red", (1.0, "green"))  # 1 = up, ok, loaded
CERT_DAYS = steps("red", (14.0, "orange"), (30.0, "green"))
NEUTRAL = steps("blue")


def value_texts(*texts: tuple[str, str | None]) -> list[dict[str, Any]]:
    """Value mappings of 0, 1, ...: the text (and colour, if any) each value shows as."""
    options: dict[str, dict[str, Any]] = {}
    for index, (text, color) in enumerate(texts):
        option: dict[str, Any] = {"text": text}
        if color:
            option["color"] = color
        option["index"] = index
        options[str(index)] = option
    return [{"type": "value", "options": options}]


UP_DOWN = value_texts(("DOWN", "red"), ("UP", "green"))
OK_FAILED = value_texts(("FAILED", "red"), ("OK", "green"))
BREACH = value_texts(("none", "green"), ("OPEN", "red"))
YES_NO = value_texts(("no", None), ("yes", None))


def fixed(color: str) -> dict[str, str]:
    """One colour for every series of a panel (or of an override)."""
    return {"mode": "fixed", "fixedColor": color}


def by_name(name: str, **props: Any) -> dict[str, Any]:
    """Override the field (table column, series) called ``name``; ``custom_cellOptions``
    stands for ``custom.cellOptions``."""
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": k.replace("_", "."), "value": v} for k, v in props.items()],
    }


def by_ref(ref: str, props: list[dict[str, Any]]) -> dict[str, Any]:
    """Override the series of the query ``ref`` (A, B, ...)."""
    return {"matcher": {"id": "byFrameRefID", "options": ref}, "properties": props}


def colored(ref: str, color: str) -> dict[str, Any]:
    """The series of query ``ref`` in a fixed colour."""
    return by_ref(ref, [{"id": "color", "value": fixed(color)}])


DASHED = {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}}
