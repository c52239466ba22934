"""Dependency-aware alerting: the root cause of an outage as a ``caused_by`` label on the
daemon's alerts (kept from firing to resolve), and the inhibit rules generated from the
catalogue's dependency graph, checked by amtool and run by a real Alertmanager: while a
service is down from a vantage, the pages of its dependents from that vantage are
inhibited; other vantages and tickets still arrive."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
from pathlib import Path

import aiohttp
import pytest

from exporters.inhibitions import dependents, inhibit_rules, render_section, update_config
from slamon.core.alert_events import dependency_cause, event_for_transition
from slamon.core.state import State
from slamon.daemon import Daemon
from slamon.runtime import Runtime
from tests.alerting_support import (
    ALERTMANAGER_CONFIG,
    ROOT,
    Receiver,
    bundled_catalogue,
    start_alertmanager,
    transition,
    wait_until,
)
from tests.conftest import require_binary

DEPLOY_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"


def test_dependency_cause_is_the_root_of_the_outage():
    cat = bundled_catalogue()
    # unhq-fax depends on unhq-email, which depends on unhq-identity (and the network)
    assert "unhq-email" in cat.services["unhq-fax"].depends_on
    assert "unhq-identity" in cat.services["unhq-email"].depends_on
    assert dependency_cause(cat, "unhq-fax", lambda s: False) is None
    assert dependency_cause(cat, "unhq-fax", lambda s: s == "unhq-email") == "unhq-email"
    # both down: the one whose own dependencies are up is the cause
    assert dependency_cause(cat, "unhq-fax", lambda s: s in {"unhq-email", "unhq-identity"}) == "unhq-identity"
    assert dependency_cause(cat, "unhq-identity", lambda s: s == "unhq-fax") is None  # not a dependency


def test_caused_by_is_a_label_and_a_sentence():
    cat = bundled_catalogue()
    event = event_for_transition(transition("unhq-fax", "web", "unog", State.down), cat, caused_by="unhq-email")
    assert event.labels["caused_by"] == "unhq-email"
    assert "depends on unhq-email, which is down from unog" in event.annotations["description"]
    plain = event_for_transition(transition("unhq-fax", "web", "unog", State.down), cat)
    assert "caused_by" not in plain.labels


class Recorder:
    """Stands in for the notifier: the daemon's hook calls ``notify``."""

    def __init__(self) -> None:
        self.events = []

    def notify(self, event) -> None:
        self.events.append(event)


def test_the_resolve_carries_the_caused_by_of_the_firing():
    cat = bundled_catalogue()
    runtime = Runtime(catalogue=cat)
    recorder = Recorder()
    hook = Daemon._transition_hook(recorder, runtime)
    # unhq-email's probe is down from unog (two failures, its threshold)
    email = cat.services["unhq-email"].probes[0].id
    down = transition("unhq-email", email, "unog", State.down)
    runtime.observations.record(down.result)
    runtime.observations.record(down.result)
    assert runtime.observations.service_state("unog", "unhq-email") is State.down
    fax = cat.services["unhq-fax"].probes[0].id
    hook(transition("unhq-fax", fax, "unog", State.down))
    # the dependency comes back before the dependent: the resolve keeps the label
    runtime.observations.retain(set())
    hook(transition("unhq-fax", fax, "unog", State.up))
    firing, resolved = recorder.events
    assert firing.labels["caused_by"] == "unhq-email" and firing.firing
    assert resolved.labels == firing.labels and not resolved.firing


def test_generated_rules_follow_the_graph():
    cat = bundled_catalogue()
    graph = dependents(cat)
    assert "unhq-fax" in graph["unhq-email"] and "unhq-fax" in graph["unhq-identity"]  # transitive
    rules = {r["source_matchers"][1]: r for r in inhibit_rules(cat)}
    rule = rules['service="unhq-email"']
    assert rule["source_matchers"][0] == 'alertname="SlamonServiceDown"'
    assert rule["target_matchers"][1] == 'severity="page"' and rule["equal"] == ["vantage"]
    assert 'service="unhq-fax"' not in rules  # nothing depends on it: no rule
    for r in rules.values():  # a service never inhibits itself
        source = r["source_matchers"][1].split('"')[1]
        assert source not in r["target_matchers"][0].split('"')[1].split("|")


def test_the_deploy_config_holds_the_current_rules():
    text = DEPLOY_CONFIG.read_text(encoding="utf-8")
    assert update_config(text, bundled_catalogue()) == text, (
        "run: slamon rules --alertmanager-config deploy/alertmanager/alertmanager.yml"
    )
    with pytest.raises(ValueError, match="no generated section"):
        update_config("route: {receiver: x}\n", bundled_catalogue())


@pytest.mark.integration
def test_amtool_accepts_the_deploy_config():
    amtool = require_binary("amtool", "/usr/bin/amtool")
    done = subprocess.run([amtool, "check-config", str(DEPLOY_CONFIG)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    count = len(inhibit_rules(bundled_catalogue()))
    text = DEPLOY_CONFIG.read_text(encoding="utf-8")
    by_hand = text.split("# BEGIN slamon dependency inhibitions")[0].count("- source_matchers:")
    assert by_hand >= 3
    assert f"{count + by_hand} inhibit rules" in done.stdout  # the generated ones and those written by hand


def alert(service: str, vantage: str, severity: str = "page", alertname: str = "SlamonServiceDown") -> dict:
    now = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    return {"labels": {"alertname": alertname, "service": service, "vantage": vantage, "severity": severity,
                       "office": service.split("-")[0]}, "startsAt": now}


@pytest.mark.integration
async def test_alertmanager_inhibits_the_dependents_pages(tmp_path: Path):
    binary = require_binary("prometheus-alertmanager", "/usr/bin/prometheus-alertmanager")
    rx = await Receiver().start()
    # the tests' routes, plus the generated section as the whole inhibit_rules list
    config = ALERTMANAGER_CONFIG + "inhibit_rules:\n" + render_section(inhibit_rules(bundled_catalogue()))
    am = await start_alertmanager(binary, tmp_path, rx.url, config=config)
    try:
        alerts = [
            alert("unhq-identity", "unog"),  # the cause
            alert("unhq-email", "unog"),  # depends on it: inhibited
            alert("unhq-fax", "unog"),  # through unhq-email: inhibited
            alert("unhq-email", "unhq"),  # another vantage: pages
            alert("unhq-email", "unog", "ticket", "SlamonSLABreached"),  # a ticket: arrives
        ]
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as s:
            async with s.post(f"{am.url}/api/v2/alerts", json=alerts) as resp:
                assert resp.status == 200

            async def states() -> dict:
                async with s.get(f"{am.url}/api/v2/alerts") as resp:
                    return {(a["labels"]["alertname"], a["labels"]["service"], a["labels"]["vantage"]): a["status"]
                            for a in await resp.json()}

            found: dict = {}

            async def settled() -> bool:
                found.update(await states())
                return len(found) == 5 and found[("SlamonServiceDown", "unhq-email", "unog")]["state"] == "suppressed"

            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while not await settled():
                assert loop.time() < deadline, found
                await asyncio.sleep(0.1)
        assert found[("SlamonServiceDown", "unhq-fax", "unog")]["state"] == "suppressed"
        assert found[("SlamonServiceDown", "unhq-email", "unog")]["inhibitedBy"]
        assert found[("SlamonServiceDown", "unhq-identity", "unog")]["state"] == "active"
        assert found[("SlamonServiceDown", "unhq-email", "unhq")]["state"] == "active"
        assert found[("SlamonSLABreached", "unhq-email", "unog")]["state"] == "active"
        # and the notifications: nothing for the inhibited pages
        await wait_until(lambda: len(rx.bodies()) >= 3, 10, "three notifications (one per active group)")
        await asyncio.sleep(1.0)  # group_interval 500 ms: anything late would be here by now
        notified = {(a["labels"]["alertname"], a["labels"]["service"], a["labels"]["vantage"])
                    for body in rx.bodies() for a in body["alerts"]}
        assert ("SlamonServiceDown", "unhq-email", "unog") not in notified
        assert ("SlamonServiceDown", "unhq-fax", "unog") not in notified
        assert ("SlamonServiceDown", "unhq-email", "unhq") in notified
    finally:
        await am.stop()
        await rx.stop()


async def test_the_daemon_names_the_cause_in_its_alerts(tmp_path: Path):
    from tests.alerting_support import free_port
    from tests.daemon_support import service_doc, write_catalogue
    from tests.test_daemon_run import DaemonProcess

    port = free_port()  # nothing listens yet: both services are down

    def tcp(threshold: int) -> dict:
        return {"id": "tcp", "kind": "tcp", "host": "127.0.0.1", "port": port, "interval": "1s",
                "timeout": "500ms", "failure_threshold": threshold}

    identity = service_doc("unog-identity", [tcp(1)])
    email = service_doc("unog-email", [tcp(3)])  # turns down after the identity service
    email["depends_on"] = ["unog-identity"]
    cat = write_catalogue(tmp_path / "catalogue", [identity, email])
    rx = await Receiver().start()
    args = ["--catalogue", str(cat), "--listen", "127.0.0.1:0", "--office", "unog",
            "--alert-webhook", f"{rx.url}/hook", "--shutdown-timeout", "2"]
    server = None
    try:
        async with DaemonProcess(*args) as daemon:
            await daemon.listening()

            def alerts(service: str, status: str) -> list[dict]:
                return [b for b in rx.bodies() if b["labels"]["service"] == service and b["status"] == status]

            await wait_until(lambda: alerts("unog-email", "firing"), 15, "unog-email firing")
            firing = alerts("unog-email", "firing")[0]
            assert firing["labels"]["caused_by"] == "unog-identity"
            assert "caused_by" not in alerts("unog-identity", "firing")[0]["labels"]
            # both come back: the resolve of unog-email carries the same labels
            server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", port)
            await wait_until(lambda: alerts("unog-email", "resolved"), 15, "unog-email resolved")
            resolved = alerts("unog-email", "resolved")[0]
            assert resolved["labels"] == firing["labels"] and resolved["fingerprint"] == firing["fingerprint"]
    finally:
        if server is not None:
            server.close()
        await rx.stop()
