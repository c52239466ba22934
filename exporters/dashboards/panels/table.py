"""Tables: instant queries joined on their labels, one value column per query."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from exporters.dashboards.frame import q
from exporters.dashboards.panels import base

OPTIONS: dict[str, Any] = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}}


def merge_table(rename: dict[str, str], exclude: Iterable[str] = ("Time",)) -> list[dict[str, Any]]:
    """Join instant table queries on their labels and name the value columns."""
    return [
        {"id": "merge", "options": {}},
        {
            "id": "organize",
            "options": {
                "excludeByName": dict.fromkeys(exclude, True),
                "renameByName": rename,
                "indexByName": {},
            },
        },
    ]


def panel(title: str, exprs: Sequence[str], columns: Sequence[str] = (), *,
          exclude: Iterable[str] = ("Time",), **fields: Any) -> dict[str, Any]:
    """One row per label set of ``exprs``; the value of query i is the column
    ``columns[i]``; the columns in ``exclude`` are hidden."""
    targets = [q(expr, instant=True, table=True) for expr in exprs]
    rename = {f"Value #{base.ref_id(i)}": column for i, column in enumerate(columns)}
    return base.panel("table", title, targets, OPTIONS, transformations=merge_table(rename, exclude), **fields)
