"""``slamon demo``: the estate, the derived catalogue, the history and the command."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from slamon.core.model import IcmpProbe, TcpProbe, TlsProbe
from slamon.core.sla.rollup import MINUTES_PER_DAY
from slamon.demo.backfill import backfill, backfill_days, vantages_of
from slamon.demo.derive import derive_catalogue, secret_names
from slamon.demo.estate import Estate
from slamon.demo.profiles import Profile, assign_profiles
from slamon.loader import load_catalogue
from slamon.probes import ProbeContext, run_probe
from slamon.store import Store

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "catalogue"


@pytest.fixture(scope="module")
def bundled():
    report = load_catalogue(BUNDLED)
    assert report.catalogue is not None and not report.errors
    return report.catalogue


def test_profiles_are_deterministic_and_cover_every_kind(bundled):
    first = assign_profiles(bundled, seed=7)
    assert first == assign_profiles(bundled, seed=7)
    assert set(first) == {s.id for s in bundled.services.values() if any(p.enabled for p in s.probes)}
    for profile in Profile:
        assert profile in first.values(), profile
    expiring = [sid for sid, p in first.items() if p is Profile.expiring_cert]
    assert any(isinstance(p, TlsProbe) for p in bundled.services[expiring[0]].probes)


def _expected_up(estate: Estate, service_id: str, probe, now: float) -> bool | None:
    """What the profile says this probe gives now (None: either, e.g. flaky)."""
    profile = estate.profiles.get(service_id, Profile.healthy)
    if isinstance(probe, TlsProbe):
        return True  # an expiring certificate is a warning, not an outage
    if isinstance(probe, TcpProbe) and not probe.expect:
        return True  # the port answers even while the application is down
    if isinstance(probe, IcmpProbe):
        return True  # the loopback answers echo requests whatever the profile says
    if estate.behaviour.in_maintenance(service_id, now) or estate.behaviour.in_outage(service_id, now):
        return False
    if profile is Profile.flaky:
        return None
    return True


async def test_every_probe_behaves_as_its_profile_says(bundled, tmp_path):
    async with Estate(bundled, tmp_path, seed=1) as estate:
        derived = derive_catalogue(BUNDLED, tmp_path / "catalogue", estate, base_interval=10.0)
        report = load_catalogue(derived)
        assert not report.errors, [str(d) for d in report.errors]
        catalogue = report.catalogue
        assert set(catalogue.services) == set(bundled.services)
        for service in catalogue.services.values():
            for probe in service.probes:  # every target on loopback, every interval short
                assert probe.interval <= 40 and probe.timeout < probe.interval
                urls = [probe.url] if probe.kind == "http" else [s.url for s in getattr(probe, "steps", [])]
                assert all(u.split("/")[2].startswith("127.0.0.1:") for u in urls), probe
                host = getattr(probe, "server", None) or getattr(probe, "host", "127.0.0.1")
                assert host == "127.0.0.1", probe

        env = {name: "demo" for name in secret_names(derived)}
        assert "UMOJA_PROBE_PASSWORD" in env
        ctx = ProbeContext.create(max_body_bytes=1 << 20, env=env)
        if asyncio.iscoroutine(ctx):
            ctx = await ctx
        try:
            tasks = [(s.id, p) for s in catalogue.services.values() for p in s.probes
                     if p.enabled and p.kind != "heartbeat"]  # heartbeats are pushed: tested below
            before = {(sid, p.id): _expected_up(estate, sid, p, time.time()) for sid, p in tasks}
            outcomes = await asyncio.gather(*(run_probe(p, ctx) for _, p in tasks))
            after = {(sid, p.id): _expected_up(estate, sid, p, time.time()) for sid, p in tasks}
        finally:
            await ctx.close()
    checked = 0
    wrong = []
    for (sid, probe), outcome in zip(tasks, outcomes, strict=True):
        expected = before[(sid, probe.id)]
        if expected is None or expected != after[(sid, probe.id)]:
            continue  # flaky, or a window opened or closed while probing
        checked += 1
        if outcome.success != expected:
            wrong.append((sid, probe.id, estate.profiles.get(sid), outcome.reason, outcome.detail))
    assert not wrong
    assert checked > 100
    by_id = {(sid, p.id): o for (sid, p), o in zip(tasks, outcomes, strict=True)}
    expiring = next(sid for sid, p in estate.profiles.items() if p is Profile.expiring_cert)
    cert = next(o for (sid, _), o in by_id.items() if sid == expiring and o.warning == "cert_expiry_soon")
    assert cert.success is True and cert.reason is None
    journeys = [o for (sid, pid), o in by_id.items() if sid == "unhq-erp" and pid == "transaction"]
    if before[("unhq-erp", "transaction")]:
        assert journeys[0].success and len(journeys[0].steps) == 5


def test_backfill_is_fast_deterministic_and_complete(bundled, tmp_path):
    profiles = assign_profiles(bundled, seed=3)
    today = dt.date(2026, 11, 29)
    kwargs = dict(today=today, seed=3, start=dt.date(2025, 12, 1), full_days=10, coarse_every_days=30, breach_months=2)
    stores = []
    for name in ("a", "b"):
        store = Store.open(f"sqlite:///{tmp_path / name}.db")
        started = time.monotonic()
        summary = backfill(store, bundled, profiles, **kwargs)
        assert time.monotonic() - started < 30  # seconds, not minutes (generous: shared machine)
        stores.append((store, summary))
    (a, sa), (b, sb) = stores
    days = backfill_days(today, dt.date(2025, 12, 1), 10, 30)
    assert days[-1] == today - dt.timedelta(days=1) and len(days) == 10 + 12
    services = [s for s in bundled.services.values() if vantages_of(s)]
    assert sa.rollups == sum(len(vantages_of(s)) for s in services) * len(days)
    assert sa == sb
    for service in services[:10]:
        ra = a.rollups(service.id)
        rb = b.rollups(service.id)
        assert {r.day for r in ra} == set(days)
        assert [(r.vantage, r.day, r.good, r.fast) for r in ra] == [(r.vantage, r.day, r.good, r.fast) for r in rb]
        assert all(r.observed.bit_count() == MINUTES_PER_DAY for r in ra)
    # the profiles show in the history
    outage = next(s for s, p in profiles.items() if p is Profile.outage)
    healthy = next(s for s, p in profiles.items() if p is Profile.healthy and not bundled.services[s].maintenance)
    bad = lambda sid: sum(MINUTES_PER_DAY - r.good.bit_count() for r in a.rollups(sid))  # noqa: E731
    assert bad(outage) > bad(healthy)
    assert len(a.revisions("unhq-erp")) == 2  # 2025 (as it was) and 2026 (as now)
    assert sa.breaches >= 1 and len(a.breaches()) == sa.breaches
    for store, _ in stores:
        store.close()


def test_backfill_adds_an_exclusion_with_reason_and_approver(bundled, tmp_path):
    profiles = assign_profiles(bundled, seed=1)
    store = Store.open(f"sqlite:///{tmp_path / 'x.db'}")
    today = dt.date(2026, 11, 29)
    backfill(store, bundled, profiles, today=today, seed=1, start=today - dt.timedelta(days=45),
             full_days=45, breach_months=1)
    [exclusion] = store.exclusions()
    assert profiles[exclusion.service_id] is Profile.outage
    assert exclusion.reason and exclusion.approver
    store.close()


def _metric(text: str, name: str, service: str) -> list[float]:
    pattern = re.compile(rf'^{name}{{[^}}]*service="{re.escape(service)}"[^}}]*}} (\S+)$', re.M)
    return [float(v) for v in pattern.findall(text)]


def test_demo_command_serves_metrics_and_stops(bundled, tmp_path):
    profiles = assign_profiles(bundled, seed=1)
    outage = sorted(s for s, p in profiles.items() if p is Profile.outage)
    healthy = sorted(
        s for s, p in profiles.items()
        if p is Profile.healthy and not bundled.services[s].maintenance
        and bundled.services[s].lifecycle == "production"
    )[:5]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    err_path = tmp_path / "stderr.txt"
    err_file = err_path.open("w")  # a file, not a pipe: the daemon's log can never block on it
    proc = subprocess.Popen(
        [sys.executable, "-m", "slamon", "demo", "--workdir", str(tmp_path / "demo"), "--listen", "127.0.0.1:0",
         "--duration", "6", "--interval", "2", "--no-backfill", "--seed", "1", "--estate-ports", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err_file, text=True,
    )
    try:
        base = None
        for _ in range(50):
            line = proc.stdout.readline()
            if not line:
                break
            m = re.search(r"metrics\s+(http://\S+)/metrics", line)
            if m:
                base = m.group(1)
                break
        assert base, err_path.read_text()
        deadline = time.monotonic() + 20
        text = ""
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
                text = response.read().decode()
            heartbeat = re.search(r'^probe_success\{[^}]*probe="nightly",service="unog-backup"[^}]*\} 1\.0$', text, re.M)
            if heartbeat and all(_metric(text, "probe_success", s) for s in healthy + outage):
                break
            time.sleep(0.5)
        for service in healthy:
            assert _metric(text, "probe_success", service) and all(v == 1 for v in _metric(text, "probe_success", service)), service
        # the demo's backup jobs send their heartbeats: on time
        assert heartbeat, "no heartbeat result for unog-backup/nightly"
        assert re.search(r'^slamon_heartbeat_last_seconds\{[^}]*service="unog-backup"', text, re.M)
        # the outage cycle starts with the demo: down now (its http probes fail)
        for service in outage:
            assert 0 in _metric(text, "probe_success", service), service
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
            assert response.status == 200
        proc.communicate(timeout=45)
        assert proc.returncode == 0, err_path.read_text()
        assert "stopping" in err_path.read_text()
    finally:
        if proc.poll() is None:
            proc.terminate()  # the demo stops its daemon on SIGTERM; kill only if it hangs
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
        err_file.close()


def _indicators(store: Store, catalogue, first_year: int, now: dt.datetime):
    """The three indicators of one biennium from the store, as a report computes them."""
    from slamon.core.indicators import SlaVerdicts, compute_indicators
    from slamon.core.sla.bulk import MeasureJob, index_rollups, measure_many
    from slamon.core.sla.context import current_targets, service_context
    from slamon.core.sla.masks import MaskCache
    from slamon.core.sla.periods import biennium

    end = biennium(first_year, "UTC").end
    services = store.services_at(min(now, end - dt.timedelta(seconds=1)))
    jobs = []
    for s in services:
        if s.lifecycle != "production" or s.tier not in catalogue.tiers:
            continue
        office = catalogue.offices[s.office]
        window = biennium(first_year, office.timezone)
        rollups = index_rollups(store.rollups(s.id))
        for v in vantages_of(s):
            jobs.append(MeasureJob(service_context(s, office), v, window,
                                   current_targets(s, catalogue.tiers[s.tier]), rollups.get((s.id, v), {})))
    table: dict[str, dict[str, bool | None]] = {}
    for m in measure_many(jobs, now, MaskCache()):
        met = [r.met for r in m.objectives.values()]
        table.setdefault(m.service_id, {})[m.vantage] = None if None in met else all(met)
    return compute_indicators(
        services, SlaVerdicts.simple(table), catalogue.practices, catalogue.indicators,
        period_end=(end - dt.timedelta(days=1)).date(), today=now.date(),
    )


def test_history_gives_every_office_all_three_indicators(bundled, tmp_path):
    today = dt.date(2026, 11, 29)
    store = Store.open(f"sqlite:///{tmp_path / 'h.db'}")
    backfill(store, bundled, assign_profiles(bundled, seed=1), today=today, seed=1,
             start=dt.date(2024, 1, 1), full_days=5, coarse_every_days=45, breach_months=1)
    now = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)
    trend = {}
    for first_year in (2024, 2026):
        values = _indicators(store, bundled, first_year, now)
        for v in values:
            assert v.value is not None and v.value > 0, (first_year, v.indicator, v.office)
            if v.unit == "percent":
                assert v.value <= 100
        per_office = {(v.indicator, v.office) for v in values}
        assert {o for _, o in per_office} == {"unhq", "unog", "unov", "unon", "all"}
        trend[first_year] = {(v.indicator, v.office): v.value for v in values}
        assert any(v.value < 100 for v in values if v.unit == "percent")  # not all perfect
    # the catalogue as it stood in 2024 was behind today's: the counts rise
    assert trend[2024][("automated-services", "all")] < trend[2026][("automated-services", "all")]
    store.close()


async def test_journey_login_needs_the_token_and_the_session(bundled, tmp_path):
    import aiohttp

    # a fixed clock outside every maintenance window and outage: a Wednesday noon
    noon = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC).timestamp()
    async with Estate(bundled, tmp_path, seed=1, clock=lambda: noon) as estate:
        assert not estate.behaviour.in_maintenance("unhq-erp", noon)
        base = f"http://127.0.0.1:{estate.http_port}/unhq-erp/transaction"
        timeout = aiohttp.ClientTimeout(total=10)
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(timeout=timeout, cookie_jar=jar) as session:
            async with session.get(f"{base}/sap/bc/ui2/start_up") as r:
                assert r.status == 401  # not signed in
            async with session.get(f"{base}/sap/bc/ui2/flp") as r:
                assert r.status == 200
                token = re.search(r'name="sap-login-XSRF" value="([^"]+)"', await r.text()).group(1)
            form = {"sap-user": "u", "sap-password": "p"}
            async with session.post(f"{base}/sap/bc/ui2/flp", data={**form, "sap-login-XSRF": "forged"},
                                    allow_redirects=False) as r:
                assert r.status == 403
            async with session.post(f"{base}/sap/bc/ui2/flp", data={**form, "sap-login-XSRF": token},
                                    allow_redirects=False) as r:
                assert r.status in (200, 302)
            async with session.get(f"{base}/sap/bc/ui2/start_up") as r:
                assert r.status == 200 and '"client"' in await r.text()


def test_demo_under_json_logs_writes_no_plain_text_line(tmp_path):
    """`slamon demo --log-format json`: every line on stdout and stderr is one JSON
    event, catalogue diagnostics included (one event each, with file, line, column
    and code as fields)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out_path, err_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.run(
            [sys.executable, "-m", "slamon", "demo", "--workdir", str(tmp_path / "demo"),
             "--listen", "127.0.0.1:0", "--duration", "3", "--interval", "2", "--no-backfill",
             "--estate-ports", "0", "--log-format", "json"],
            cwd=ROOT, env=env, stdout=out, stderr=err, timeout=120,
        )
    lines = out_path.read_text().splitlines() + err_path.read_text().splitlines()
    assert proc.returncode == 0, err_path.read_text()
    events = []
    for line in lines:
        if line.strip():
            events.append(json.loads(line))  # a plain-text line fails here
    names = [e["event"] for e in events]
    assert "demo_ready" in names
    diagnostics = [e for e in events if e["event"] == "catalogue_diagnostic"]
    assert diagnostics, names
    for d in diagnostics:
        assert d["file"].endswith(".yaml") and d["line"] >= 1 and d["column"] >= 1
        assert d["code"].startswith("W") and d["detail"]
    assert not any("message" in e for e in events), [e for e in events if "message" in e]


def test_the_demo_history_rises_and_each_baseline_is_the_previous_actual(bundled, tmp_path):
    """docs/demo.md: the indicators rise from biennium to biennium in the demo history,
    and the demo catalogue's baselines are the previous biennium's actuals."""
    import shutil

    from exporters.reports import build_report
    from slamon.assess import assess_indicators
    from slamon.demo.baselines import rebase_demo_catalogue

    today = dt.date(2026, 11, 29)
    now = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)
    store = Store.open(f"sqlite:///{tmp_path / 'demo.db'}")
    backfill(store, bundled, assign_profiles(bundled, seed=1), today=today, seed=1, full_days=10, breach_months=1)
    actual = {}
    for label in ("2022-2023", "2024-2025", "2026-2027"):
        actual[label] = {(v.office, v.indicator.value): v.value for v in assess_indicators(store, label, now, catalogue=bundled)}
    for key in actual["2022-2023"]:
        series = [actual[label][key] for label in actual]
        assert series == sorted(series), key  # never falls
    for indicator in ("automated-services", "iso-aligned-services", "services-meeting-levels"):
        total = [actual[label][("all", indicator)] for label in actual]
        assert total[0] < total[1] < total[2], indicator  # and the totals rise

    demo = tmp_path / "catalogue"
    shutil.copytree(BUNDLED, demo)
    rebase_demo_catalogue(store, bundled, demo, now)
    loaded = load_catalogue(demo)
    assert loaded.catalogue is not None and not loaded.errors, [str(d) for d in loaded.errors]
    report = build_report(store, loaded.catalogue, "2024-2025", now)
    checked = 0
    for section in report.sections():
        for row in section.indicators:
            if row.baseline is None:
                continue
            assert row.previous_period == "2022-2023"
            expected = round(row.previous, 1) if row.unit == "percent" else row.previous
            assert row.baseline == expected, (section.office, row.indicator)
            assert row.target >= row.baseline
            checked += 1
    assert checked >= 12  # every office's three indicators
    store.close()


def test_the_banner_counts_services_as_the_status_page_does(bundled, capsys):
    """One service count, worded the same everywhere: the banner, the page header."""
    from types import SimpleNamespace

    from slamon.cli.demo import _print_banner
    from slamon.web.views import counts_text, service_counts

    estate = SimpleNamespace(catalogue=bundled, profiles=assign_profiles(bundled, 1))
    _print_banner("http://127.0.0.1:1", Path("/tmp/c"), "sqlite:///x.db", "note", estate, "127.0.0.1:1")
    out = capsys.readouterr().out
    counts = service_counts(bundled, ())
    assert counts["probed_here"] == len(estate.profiles)  # every probed service is simulated
    assert f"slamon demo: {counts_text(counts)};" in out
    assert f"{len(bundled.services)} services, " in out
