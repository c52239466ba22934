"""Grafana dashboards for slamon, generated so that they stay consistent.

Five dashboards (global overview, office, service detail, indicators, daemon health)
built only from the series named in METRICS.md. Every panel queries the Prometheus
data source chosen by the ``datasource`` template variable, so the same files work
with any data source uid. The committed JSON in ``deploy/grafana/dashboards/`` is the
output of this package; regenerate it with::

    python -m exporters.dashboards -o deploy/grafana/dashboards
    python -m exporters.dashboards -o deploy/grafana/dashboards --check   # CI: exit 1 if stale

Queries aggregate with ``by (...)`` on the labels they show, so the ``job`` and
``instance`` labels that Prometheus adds at scrape time never split a panel's series.

One module per dashboard (``overview``, ``office``, ``service``, ``indicators``,
``daemon``) lays out its panels; ``panels/`` holds one module of panel functions per
Grafana panel family; ``frame`` the document around the panels, ``styles`` thresholds,
value texts and overrides, ``shared`` the panels several dashboards show.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from exporters.dashboards import daemon, indicators, office, overview, service
from exporters.dashboards.frame import DS
from exporters.generated_files import FileSet

__all__ = ["BUILDERS", "DEFAULT_DIR", "DS", "build_all", "dashboard_files", "render"]

DEFAULT_DIR = Path("deploy/grafana/dashboards")

BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    "slamon-overview.json": overview.build,
    "slamon-office.json": office.build,
    "slamon-service.json": service.build,
    "slamon-indicators.json": indicators.build,
    "slamon-daemon.json": daemon.build,
}


def build_all() -> dict[str, dict[str, Any]]:
    """File name -> dashboard model."""
    return {name: build() for name, build in BUILDERS.items()}


def render(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=2, ensure_ascii=False) + "\n"


def dashboard_files(directory: Path) -> FileSet:
    """The JSON files in ``directory``; any other ``slamon-*.json`` there is stale."""
    files = {directory / name: render(doc) for name, doc in build_all().items()}
    return FileSet(files, owned=[(directory, "slamon-*.json")])
