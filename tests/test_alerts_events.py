"""The pure mapping from what the daemon saw to alert events, their JSON, and the
``--alertmanager`` / ``--alert-webhook`` values (no event loop, no network)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from exporters.alerting import (
    WEBHOOK_VERSION,
    AlertTarget,
    AlertTargetError,
    alertmanager_alert,
    parse_alert_targets,
    webhook_body,
)
from slamon.core.alert_events import (
    SERVICE_DOWN,
    SLA_BREACHED,
    AlertEvent,
    AlertStatus,
    BreachChange,
    event_for_breach,
    event_for_transition,
)
from slamon.core.state import State
from tests.alerting_support import T0, bundled_catalogue, transition

AT = dt.datetime.fromtimestamp(T0, dt.UTC)


def test_a_probe_going_down_fires_with_labels_from_the_catalogue():
    cat = bundled_catalogue()
    svc = cat.services["unog-indico"]
    event = event_for_transition(transition("unog-indico", "home", "unhq", State.down), cat)
    assert event is not None
    assert event.name == SERVICE_DOWN
    assert event.status is AlertStatus.firing
    assert event.labels == {
        "alertname": "SlamonServiceDown",
        "office": "unog",
        "service": "unog-indico",
        "vantage": "unhq",
        "tier": svc.tier,
        "severity": "page",
        "owner": svc.owner.group,
        "probe": "home",
    }
    assert event.starts_at == AT and event.starts_at.tzinfo is not None
    assert event.ends_at is None
    assert event.annotations["runbook_url"] == "docs/runbooks.md#slamonservicedown"
    assert "unog-indico" in event.annotations["summary"] and "from unhq" in event.annotations["summary"]
    assert "status" in event.annotations["description"] and "503" in event.annotations["description"]


def test_a_probe_coming_back_resolves_the_same_alert():
    cat = bundled_catalogue()
    down = event_for_transition(transition("unhq-email", "smtp", "unhq", State.down, T0), cat)
    up = event_for_transition(transition("unhq-email", "smtp", "unhq", State.up, T0 + 300), cat)
    assert down is not None and up is not None
    assert up.status is AlertStatus.resolved
    assert up.identity == down.identity and up.fingerprint == down.fingerprint
    assert up.ends_at == AT + dt.timedelta(seconds=300)
    assert "at unhq" in up.annotations["summary"]


def test_no_secrets_or_urls_reach_labels_or_annotations():
    cat = bundled_catalogue()
    event = event_for_transition(transition("unog-indico", "home", "unog", State.down), cat)
    assert event is not None
    texts = [*event.labels.values(), *event.annotations.values()]
    assert not any("secret.example" in t or "token" in t for t in texts)
    assert not any("://" in v for v in event.labels.values())


def test_severity_follows_lifecycle():
    cat = bundled_catalogue()
    non_production = next(s for s in cat.services.values() if s.lifecycle != "production" and s.probes)
    probe = non_production.probes[0]
    event = event_for_transition(
        transition(non_production.id, probe.id, non_production.office, State.down), cat
    )
    assert event is not None and event.labels["severity"] == "ticket"


def test_unknown_service_or_state_gives_no_event():
    cat = bundled_catalogue()
    assert event_for_transition(transition("unog-gone", "home", "unog", State.down), cat) is None
    assert event_for_transition(transition("unog-indico", "home", "unog", State.unknown), cat) is None


def test_a_breach_opens_and_resolves_with_its_objective():
    cat = bundled_catalogue()
    change = BreachChange("unhq-email", "unon", "availability", True, AT, 0.9962, 0.999)
    opened = event_for_breach(change, cat)
    resolved = event_for_breach(dataclasses.replace(change, opened=False, at=AT + dt.timedelta(hours=2)), cat)
    assert opened is not None and resolved is not None
    assert opened.name == SLA_BREACHED and opened.status is AlertStatus.firing
    assert opened.labels["objective"] == "availability"
    assert opened.labels["severity"] == "ticket"
    assert opened.labels["office"] == "unhq" and opened.labels["vantage"] == "unon"
    assert "99.620 %" in opened.annotations["description"]
    assert "below its target of 99.9 %" in opened.annotations["description"]
    # a measure just below its target never reads as the target (docs/sla.md, units)
    close = event_for_breach(dataclasses.replace(change, measure_ratio=0.99949996, target_ratio=0.9995), cat)
    assert close is not None and "is 99.949 %, below its target of 99.95 %" in close.annotations["description"]
    assert opened.annotations["runbook_url"].endswith("#slamonslabreached")
    assert resolved.status is AlertStatus.resolved and resolved.identity == opened.identity
    assert resolved.ends_at == AT + dt.timedelta(hours=2)
    with pytest.raises(ValueError, match="UTC"):
        event_for_breach(dataclasses.replace(change, at=dt.datetime(2026, 1, 1)), cat)


def test_events_refuse_naive_times_and_missing_alertname():
    with pytest.raises(ValueError, match="UTC"):
        AlertEvent("X", {"alertname": "X"}, {}, AlertStatus.firing, dt.datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="alertname"):
        AlertEvent("X", {"office": "unog"}, {}, AlertStatus.firing, AT)


def test_alertmanager_and_webhook_payloads():
    cat = bundled_catalogue()
    event = event_for_transition(
        transition("unog-indico", "home", "unog", State.down), cat, generator_url="http://slamon.unog:9730/"
    )
    assert event is not None
    am = alertmanager_alert(event, AT + dt.timedelta(minutes=3))
    assert am["labels"] == event.labels and am["annotations"] == event.annotations
    assert am["startsAt"] == "2026-11-30T00:53:20.000Z"
    assert am["endsAt"] == "2026-11-30T00:56:20.000Z"
    assert am["generatorURL"] == "http://slamon.unog:9730/"
    body = webhook_body(event)
    assert body["version"] == WEBHOOK_VERSION
    assert body["status"] == "firing" and body["endsAt"] is None
    assert body["alertname"] == "SlamonServiceDown" and body["labels"]["owner"] == event.labels["owner"]
    assert len(body["fingerprint"]) == 16


def test_parse_alert_targets():
    targets = parse_alert_targets(
        ["http://am.example:9093", "unog,unov=https://user:pw@am.geneva.example/", " unon = http://10.0.0.5:9093 "],
        known_offices=["unhq", "unog", "unov", "unon"],
    )
    assert targets[0] == AlertTarget("http://am.example:9093", "alertmanager", None)
    assert targets[0].post_url == "http://am.example:9093/api/v2/alerts"
    assert targets[1].offices == frozenset({"unog", "unov"})
    assert targets[1].name == "am.geneva.example:443"  # no credentials, no path
    assert targets[2].offices == frozenset({"unon"}) and targets[2].accepts("unon")
    assert not targets[2].accepts("unog")
    hook = parse_alert_targets(["http://hooks.example/services/T0K3N?x=a=b"], kind="webhook")[0]
    assert hook.offices is None and hook.post_url == "http://hooks.example/services/T0K3N?x=a=b"
    assert hook.name == "hooks.example:80"


@pytest.mark.parametrize(
    ("value", "kind", "message"),
    [
        ("am.example:9093", "alertmanager", "--alertmanager 'am.example:9093': the URL must start with http"),
        ("ftp://am.example", "webhook", "--alert-webhook 'ftp://am.example': the URL must start"),
        ("http://", "alertmanager", "has no host"),
        ("http://am:99999", "alertmanager", "not a URL"),
        ("http://am/#x", "webhook", "#fragment"),
        ("UNOG=http://am", "alertmanager", "the URL must start"),
        ("geneva=http://am", "alertmanager", "unknown office geneva"),
        ("unog,,=http://am", "alertmanager", "is not an office id"),
        ("http://bob:hunter2@am:notaport", "alertmanager", "'http://***@am:notaport'"),
    ],
)
def test_bad_alert_targets_are_explained(value, kind, message):
    with pytest.raises(AlertTargetError) as err:
        parse_alert_targets([value], kind=kind, known_offices=["unhq", "unog", "unov", "unon"])
    assert message in str(err.value)
    assert "hunter2" not in str(err.value)
