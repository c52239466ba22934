"""The daemon's own alert notifications (for offices that run no Prometheus).

- ``targets``: ``AlertTarget`` and ``parse_alert_targets`` for ``--alertmanager`` /
  ``--alert-webhook``;
- ``payloads``: the JSON sent to Alertmanager's v2 API and to plain webhooks;
- ``delivery``: one bounded queue and task per target, retries with backoff, ``AlertStats``;
- ``notifier``: ``AlertNotifier`` (de-duplication, re-send, routing by office).

The events themselves are built by the pure ``slamon.core.alert_events``.
"""

from exporters.alerting.delivery import AlertStats, DeliverySettings
from exporters.alerting.notifier import AlertNotifier, NotifierSettings
from exporters.alerting.payloads import WEBHOOK_VERSION, alertmanager_alert, webhook_body
from exporters.alerting.targets import AlertTarget, AlertTargetError, parse_alert_targets

__all__ = [
    "WEBHOOK_VERSION",
    "AlertNotifier",
    "AlertStats",
    "AlertTarget",
    "AlertTargetError",
    "DeliverySettings",
    "NotifierSettings",
    "alertmanager_alert",
    "parse_alert_targets",
    "webhook_body",
]
