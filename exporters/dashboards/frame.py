"""What every dashboard shares around its panels: the data source, query targets,
template variables, the grid layout and the dashboard document itself."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

SCHEMA_VERSION = 39
TAG = "slamon"
# Every panel and query reads the data source the ``datasource`` variable chooses, so
# the same files work with any data source uid.
DS: dict[str, str] = {"type": "prometheus", "uid": "${datasource}"}


def q(expr: str, legend: str = "", *, instant: bool = False, table: bool = False) -> dict[str, Any]:
    """A Prometheus target; refIds are assigned by the panel that holds it."""
    target: dict[str, Any] = {
        "datasource": DS,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
    }
    if table:
        target["format"] = "table"
    return target


def var_query(name: str, label: str, query: str, *, multi: bool = False) -> dict[str, Any]:
    """A query variable; ``multi`` ones offer All as the regex ``.*``."""
    v: dict[str, Any] = {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-values"},
        "refresh": 2,  # on time range change: new offices and services appear
        "sort": 1,
        "regex": "",
        "hide": 0,
        "multi": multi,
        "includeAll": multi,
        "current": {},
        "options": [],
    }
    if multi:
        v["allValue"] = ".*"
    return v


DATASOURCE_VAR: dict[str, Any] = {
    "name": "datasource",
    "label": "Prometheus",
    "type": "datasource",
    "query": "prometheus",
    "regex": "",
    "refresh": 1,
    "hide": 0,
    "current": {},
    "options": [],
}


class Layout:
    """Places panels left to right in rows of 24 columns, assigning ids."""

    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []
        self.x = 0
        self.y = 0
        self.row_height = 0
        self.next_id = 1

    def _new_line(self) -> None:
        if self.x:
            self.y += self.row_height
            self.x = 0
            self.row_height = 0

    def row(self, title: str) -> None:
        self._new_line()
        self.panels.append(
            {
                "id": self.next_id,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                "panels": [],
            }
        )
        self.next_id += 1
        self.y += 1

    def add(self, panel: dict[str, Any], w: int, h: int) -> None:
        if self.x + w > 24:
            self._new_line()
        panel["id"] = self.next_id
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.next_id += 1
        self.x += w
        self.row_height = max(self.row_height, h)
        self.panels.append(panel)


def dashboard(uid: str, title: str, description: str, variables: list[dict[str, Any]],
              sections: Iterable[Callable[[Layout], None]]) -> dict[str, Any]:
    """The dashboard document, its panels added by ``sections`` in order: the
    ``datasource`` variable first, a drop-down of the other slamon dashboards (by tag)
    that keeps the time range and variables."""
    layout = Layout()
    for section in sections:
        section(layout)
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": [TAG],
        "timezone": "utc",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": [
            {
                "title": "slamon dashboards",
                "type": "dashboards",
                "tags": [TAG],
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
                "targetBlank": False,
                "icon": "external link",
                "tooltip": "",
                "url": "",
            }
        ],
        "templating": {"list": [DATASOURCE_VAR, *variables]},
        "panels": layout.panels,
    }
