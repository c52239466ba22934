"""AlertNotifier against a real Alertmanager (Debian's prometheus-alertmanager) whose
routes send to webhook receivers served by the test: labels arrive intact, owner
routing works, re-sends keep the alert alive without duplicate notifications, and a
resolve arrives as resolved."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import random
import re
import subprocess

import aiohttp
import pytest

from exporters.alerting import (
    AlertNotifier,
    AlertTarget,
    DeliverySettings,
    NotifierSettings,
    webhook_body,
)
from tests.alerting_support import (
    ROOT,
    Receiver,
    bundled_catalogue,
    down_event,
    start_alertmanager,
    up_event,
    wait_until,
)
from tests.conftest import require_binary

pytestmark = pytest.mark.integration

FAST = DeliverySettings(
    timeout_seconds=1.0, max_attempts=4, backoff_initial_seconds=0.1, backoff_max_seconds=0.5
)


async def am_alerts(url: str) -> list[dict]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as s:
        async with s.get(f"{url}/api/v2/alerts") as resp:
            assert resp.status == 200
            return await resp.json()


def statuses(notifications: list[dict], service: str) -> list[str]:
    """The status of each notification that carried an alert of ``service``."""
    return [
        n["status"]
        for n in notifications
        if any(a["labels"].get("service") == service for a in n["alerts"])
    ]


async def test_down_and_resolve_through_alertmanager(tmp_path):
    binary = require_binary("prometheus-alertmanager", "/usr/bin/prometheus-alertmanager")
    bundled_catalogue()  # load before the clock matters
    rx = await Receiver().start()
    am = await start_alertmanager(binary, tmp_path, rx.url)
    n = AlertNotifier(
        [AlertTarget(am.url, "alertmanager")],
        NotifierSettings(resend_interval_seconds=0.5, ends_at_intervals=10, delivery=FAST),
        rng=random.Random(7),
    )
    await n.start()
    target = n.targets[0].name
    try:
        # owner unog-icts-conference has its own route; unhq-email goes to the default
        n.notify(down_event("unog-indico", "home", "unhq"))
        n.notify(down_event("unhq-email", "smtp", "unhq"))
        team, default = "/am/conference-team", "/am/default"
        await wait_until(
            lambda: statuses(rx.bodies(team), "unog-indico") and statuses(rx.bodies(default), "unhq-email"),
            timeout_seconds=10,
            what="both firing notifications",
        )
        first = next(a for a in await am_alerts(am.url) if a["labels"]["service"] == "unog-indico")
        # duplicates and re-sends: Alertmanager keeps the alert, endsAt moves on, no new notification
        n.notify(down_event("unog-indico", "home", "unhq"))
        sent = n.stats.sent_total[(target, "success")]
        await wait_until(
            lambda: n.stats.sent_total[(target, "success")] >= sent + 4, timeout_seconds=5, what="re-sends"
        )
        await asyncio.sleep(1.2)  # two group intervals
        again = next(a for a in await am_alerts(am.url) if a["labels"]["service"] == "unog-indico")
        assert again["status"]["state"] == "active"
        assert again["endsAt"] > first["endsAt"]
        assert again["startsAt"] == first["startsAt"]
        assert statuses(rx.bodies(team), "unog-indico") == ["firing"]

        n.notify(up_event("unog-indico", "home", "unhq"))
        await wait_until(
            lambda: "resolved" in statuses(rx.bodies(team), "unog-indico"),
            timeout_seconds=10,
            what="the resolved notification",
        )
        # Alertmanager refuses a malformed alert with 400: given up at once, not retried
        bad = down_event("unov-website", "home", "unov")
        n.notify(dataclasses.replace(bad, labels={**bad.labels, "bad-label": "x"}))
        await wait_until(
            lambda: n.stats.sent_total[(target, "rejected")] == 1, timeout_seconds=5, what="a rejection"
        )
    finally:
        await n.close(2.0)
        await am.stop()
        await rx.stop()

    assert statuses(rx.bodies(team), "unog-indico") == ["firing", "resolved"]
    assert statuses(rx.bodies(team), "unhq-email") == []  # routed by owner
    firing = rx.bodies(team)[0]
    alert = firing["alerts"][0]
    assert alert["labels"] == {
        "alertname": "SlamonServiceDown",
        "office": "unog",
        "service": "unog-indico",
        "vantage": "unhq",
        "tier": "silver",
        "severity": "page",
        "owner": "unog-icts-conference",
        "probe": "home",
    }
    assert alert["annotations"]["runbook_url"] == "docs/runbooks.md#slamonservicedown"
    resolved = rx.bodies(team)[-1]["alerts"][0]
    assert resolved["status"] == "resolved"
    ends = dt.datetime.fromisoformat(resolved["endsAt"].replace("Z", "+00:00"))
    assert ends <= dt.datetime.now(dt.UTC)
    assert n.stats.sent_total[(target, "rejected")] == 1
    assert n.stats.retries_total[target] == 0
    assert n.stats.deduplicated_total == 1


def _doc_blocks(language: str) -> list[str]:
    text = (ROOT / "docs" / "alerting.md").read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def test_the_documented_alertmanager_config_is_valid(tmp_path):
    amtool = require_binary("amtool", "/usr/bin/amtool")
    (config,) = _doc_blocks("yaml")
    path = tmp_path / "alertmanager.yml"
    path.write_text(config, encoding="utf-8")
    done = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_documented_webhook_payload_matches_what_is_sent():
    (example,) = _doc_blocks("json")
    documented = json.loads(example)
    sent = webhook_body(down_event("unog-indico", "home", "unhq"))
    assert documented.keys() == sent.keys()
    assert documented["labels"] == sent["labels"]
    assert documented["annotations"]["summary"] == sent["annotations"]["summary"]
    assert documented["version"] == sent["version"]
