"""Maintenance windows become Alertmanager silences, against a real Alertmanager
(Debian's prometheus-alertmanager) started by the test: one silence per service and
window, created before the window starts, never duplicated (a second pass, a new
silencer as after a restart), expired when the window leaves the catalogue, and
silencing the service's alerts for real."""

from __future__ import annotations

import dataclasses
import datetime as dt

import aiohttp
import pytest

from exporters.alerting import AlertTarget
from exporters.alerting.silences import COMMENT_PREFIX, MaintenanceSilencer
from slamon.core.catalogue import Catalogue
from slamon.core.model import Service
from tests.alerting_support import Receiver, bundled_catalogue, start_alertmanager
from tests.conftest import require_binary

pytestmark = pytest.mark.integration

NOW = dt.datetime(2030, 1, 7, 12, 0, tzinfo=dt.UTC)  # a Monday; 13:00 in Geneva


def with_maintenance(catalogue: Catalogue, service_id: str, maintenance: list[dict]) -> Catalogue:
    doc = catalogue.services[service_id].model_dump(by_alias=True)
    doc["maintenance"] = maintenance
    service = Service.model_validate(doc, context={"stored": True})
    return dataclasses.replace(catalogue, services={**catalogue.services, service_id: service})


async def silences(url: str) -> list[dict]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as s:
        async with s.get(f"{url}/api/v2/silences") as resp:
            assert resp.status == 200
            return await resp.json()


def ours(found: list[dict], state: str | None = None) -> list[dict]:
    return [s for s in found if s["createdBy"] == "slamon" and (state is None or s["status"]["state"] == state)]


async def test_maintenance_windows_become_silences(tmp_path):
    binary = require_binary("prometheus-alertmanager", "/usr/bin/prometheus-alertmanager")
    rx = await Receiver().start()
    am = await start_alertmanager(binary, tmp_path, rx.url)
    base = bundled_catalogue()
    # Geneva local times: a window in 30 minutes (due, inside the 1 h lead), one
    # tomorrow (not yet), and a one-off under way already
    catalogue = with_maintenance(base, "unog-indico", [
        {"name": "db upgrade", "from": "2030-01-07T13:30", "to": "2030-01-07T15:00"},
        {"name": "daily restart", "every": "day", "start": "03:00", "duration": "15m"},
    ])
    catalogue = with_maintenance(catalogue, "unog-gdoc", [
        {"name": "storage move", "from": "2030-01-07T11:00:00Z", "to": "2030-01-07T13:00:00Z"},
    ])
    owned = {"unog-indico", "unog-gdoc", "unhq-email"}
    try:
        silencer = MaintenanceSilencer([AlertTarget(am.url, "alertmanager")], lead_seconds=3600,
                                       clock=NOW.timestamp)
        report = await silencer.sync(catalogue, owned)
        assert (report.created, report.kept, report.failed) == (2, 0, 0)
        found = ours(await silences(am.url))
        assert len(found) == 2
        by_comment = {s["comment"]: s for s in found}
        upgrade = by_comment[COMMENT_PREFIX + "unog-indico|db upgrade|2030-01-07T12:30Z"]
        assert upgrade["matchers"] == [{"name": "service", "value": "unog-indico", "isRegex": False, "isEqual": True}]
        assert upgrade["startsAt"].startswith("2030-01-07T12:30:00") and upgrade["endsAt"].startswith("2030-01-07T14:00:00")
        assert upgrade["status"]["state"] == "pending"
        assert by_comment[COMMENT_PREFIX + "unog-gdoc|storage move|2030-01-07T11:00Z"]

        # idempotent: again, and from a new silencer (a restarted daemon)
        assert (await silencer.sync(catalogue, owned)).created == 0
        again = MaintenanceSilencer([AlertTarget(am.url + "/api/v2/alerts", "alertmanager")], clock=NOW.timestamp)
        report = await again.sync(catalogue, owned)
        assert (report.created, report.kept) == (0, 2)
        assert len(ours(await silences(am.url))) == 2

        # a daemon that does not own unog-indico leaves its silence alone
        other = await again.sync(base, {"unhq-email"})
        assert other.expired == 0

        # the window is taken out of the catalogue: its silence is expired
        without = with_maintenance(catalogue, "unog-indico", [])
        report = await again.sync(without, owned)
        assert report.expired == 1
        left = ours(await silences(am.url))
        assert [s["comment"] for s in left if s["status"]["state"] != "expired"] == [
            COMMENT_PREFIX + "unog-gdoc|storage move|2030-01-07T11:00Z"
        ]
        # an Alertmanager for other offices only gets none of unog's
        unhq_only = MaintenanceSilencer([AlertTarget(am.url, "alertmanager", frozenset({"unhq"}))],
                                        clock=(NOW + dt.timedelta(hours=14, minutes=30)).timestamp)
        assert (await unhq_only.sync(catalogue, owned)).created == 0
    finally:
        await am.stop()
        await rx.stop()


async def test_an_unreachable_alertmanager_is_a_counted_failure_not_a_crash():
    silencer = MaintenanceSilencer([AlertTarget("http://127.0.0.1:9", "alertmanager")], clock=NOW.timestamp)
    catalogue = with_maintenance(bundled_catalogue(), "unog-indico", [
        {"name": "db upgrade", "from": "2030-01-07T13:30", "to": "2030-01-07T15:00"}])
    report = await silencer.sync(catalogue, {"unog-indico"})
    assert (report.created, report.failed) == (0, 1)


async def test_an_active_silence_suppresses_the_services_alerts(tmp_path):
    binary = require_binary("prometheus-alertmanager", "/usr/bin/prometheus-alertmanager")
    rx = await Receiver().start()
    am = await start_alertmanager(binary, tmp_path, rx.url)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start, end = now - dt.timedelta(minutes=1), now + dt.timedelta(hours=1)
    catalogue = with_maintenance(bundled_catalogue(), "unog-indico", [
        {"name": "emergency fix", "from": start.isoformat(), "to": end.isoformat()}])
    try:
        report = await MaintenanceSilencer([AlertTarget(am.url, "alertmanager")]).sync(catalogue, {"unog-indico"})
        assert report.created == 1
        alerts = [
            {"labels": {"alertname": "SlamonServiceDown", "service": service, "office": "unog", "vantage": "unog"},
             "startsAt": now.isoformat().replace("+00:00", "Z")}
            for service in ("unog-indico", "unog-gdoc")
        ]
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as s:
            async with s.post(f"{am.url}/api/v2/alerts", json=alerts) as resp:
                assert resp.status == 200
            async with s.get(f"{am.url}/api/v2/alerts") as resp:
                states = {a["labels"]["service"]: a["status"] for a in await resp.json()}
        silence_id = ours(await silences(am.url))[0]["id"]
        assert states["unog-indico"]["state"] == "suppressed"
        assert states["unog-indico"]["silencedBy"] == [silence_id]
        assert states["unog-gdoc"]["state"] == "active"
    finally:
        await am.stop()
        await rx.stop()


async def test_the_daemon_creates_the_silences_of_its_services(tmp_path):
    from tests.daemon_support import service_doc, write_catalogue
    from tests.test_daemon_run import DaemonProcess

    binary = require_binary("prometheus-alertmanager", "/usr/bin/prometheus-alertmanager")
    rx = await Receiver().start()
    am = await start_alertmanager(binary, tmp_path, rx.url)
    soon = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=10)
    mine = service_doc("unog-web", [{"id": "tcp", "kind": "tcp", "host": "127.0.0.1", "port": 9, "interval": "60s", "timeout": "1s"}])
    theirs = service_doc("unhq-web", [{"id": "tcp", "kind": "tcp", "host": "127.0.0.1", "port": 9, "interval": "60s", "timeout": "1s"}])
    for doc in (mine, theirs):
        doc["maintenance"] = [{"name": "patch", "from": soon.isoformat(), "to": (soon + dt.timedelta(hours=1)).isoformat()}]
    cat = write_catalogue(tmp_path / "catalogue", [mine, theirs])
    args = ["--catalogue", str(cat), "--listen", "127.0.0.1:0", "--office", "unog", "--alertmanager", am.url]
    try:
        async with DaemonProcess(*args) as daemon:
            await daemon.listening()
            await daemon.wait_for_log(r"event=silence_created .*service=unog-web .*window=patch")
            found = ours(await silences(am.url))
            # only the service this daemon (--office unog) owns
            assert [s["matchers"][0]["value"] for s in found] == ["unog-web"]
    finally:
        await am.stop()
        await rx.stop()
