"""Panels and queries that more than one dashboard shows, each for the label selector
(and grouping) of the dashboard that shows it."""

from __future__ import annotations

from typing import Any

from exporters.dashboards.frame import q
from exporters.dashboards.panels import timeseries
from exporters.dashboards.styles import BURN, CERT_DAYS

# A service counts as up in an office only when it is up from every vantage it is probed from.
SERVICE_UP = "min by (office, service) (slamon_service_up)"

# How certificate days left look, in a stat or a bar gauge.
CERT_DAYS_FIELDS: dict[str, Any] = {"unit": "suffix: days", "decimals": 0, "thresholds": CERT_DAYS}


def series(metric: str, selector: str = "") -> str:
    """``metric{selector}``, or the bare metric when there is no selector."""
    return f"{metric}{{{selector}}}" if selector else metric


def legend(by: str) -> str:
    """A legend naming each series by the labels it is grouped ``by`` ("office, service")."""
    return " ".join(f"{{{{{label}}}}}" for label in by.split(", "))


def cert_days_left(by: str, selector: str) -> str:
    """Days until the earliest certificate of each group expires."""
    return f"(min by ({by}) ({series('probe_ssl_earliest_cert_expiry', selector)}) - time()) / 86400"


def burn_rate(by: str, selector: str, description: str = "") -> dict[str, Any]:
    return timeseries.panel(
        "Burn rate",
        [q(f"max by ({by}) ({series('slamon_sla_burn_rate', selector)})", legend(by))],
        description=description,
        thresholds=BURN,
        threshold_lines=True,
    )


def failures(title: str, by: str, selector: str) -> dict[str, Any]:
    """Probe failures per step, stacked, grouped ``by`` (e.g. reason)."""
    expr = f"sum by ({by}) (increase({series('slamon_probe_failures_total', selector)}[$__rate_interval]))"
    return timeseries.panel(title, [q(expr, legend(by))], bars=True, stacked=True)


def results_by_vantage(selector: str = "") -> dict[str, Any]:
    expr = f"sum by (vantage) (rate({series('slamon_probe_results_total', selector)}[$__rate_interval]))"
    return timeseries.panel("Probe results per second by vantage", [q(expr, "{{vantage}}")], unit="reqps")
