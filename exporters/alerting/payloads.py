"""The JSON the daemon sends: Alertmanager's v2 alert objects and the plain webhook body.

The webhook body is a documented, versioned shape (docs/alerting.md); a field may be
added, none renamed or removed, within ``slamon.alert/v1``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from slamon.core.alert_events import AlertEvent

WEBHOOK_VERSION = "slamon.alert/v1"


def rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alertmanager_alert(event: AlertEvent, ends_at: dt.datetime) -> dict[str, Any]:
    """One element of the array POSTed to ``/api/v2/alerts``.

    A firing alert carries an ``endsAt`` a few re-send intervals ahead (Alertmanager
    resolves it by itself if the daemon dies); a resolve carries the time it ended.
    """
    alert: dict[str, Any] = {
        "labels": dict(event.labels),
        "annotations": dict(event.annotations),
        "startsAt": rfc3339(event.starts_at),
        "endsAt": rfc3339(ends_at),
    }
    if event.generator_url:
        alert["generatorURL"] = event.generator_url
    return alert


def webhook_body(event: AlertEvent) -> dict[str, Any]:
    """One alert per POST, firing once and resolved once."""
    return {
        "version": WEBHOOK_VERSION,
        "status": str(event.status),
        "alertname": event.name,
        "fingerprint": event.fingerprint,
        "labels": dict(event.labels),
        "annotations": dict(event.annotations),
        "startsAt": rfc3339(event.starts_at),
        "endsAt": rfc3339(event.ends_at) if event.ends_at else None,
        "generatorURL": event.generator_url or None,
    }
