"""One import point for the daemon's own alert notifications.

The code lives in ``exporters/alerting/`` (targets, payloads, delivery, notifier) and,
for the pure mapping from transitions and breaches to events, in
``slamon.core.alert_events``. See docs/alerting.md.
"""

from exporters.alerting import (
    WEBHOOK_VERSION,
    AlertNotifier,
    AlertStats,
    AlertTarget,
    AlertTargetError,
    DeliverySettings,
    NotifierSettings,
    parse_alert_targets,
)
from slamon.core.alert_events import (
    AlertEvent,
    AlertStatus,
    BreachChange,
    Severity,
    event_for_breach,
    event_for_transition,
)

__all__ = [
    "WEBHOOK_VERSION",
    "AlertEvent",
    "AlertNotifier",
    "AlertStats",
    "AlertStatus",
    "AlertTarget",
    "AlertTargetError",
    "BreachChange",
    "DeliverySettings",
    "NotifierSettings",
    "Severity",
    "event_for_breach",
    "event_for_transition",
    "parse_alert_targets",
]
