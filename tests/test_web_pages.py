"""The status pages over real HTTP: structure, escaping, the history chart, errors."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re

import aiohttp
import pytest
import pytest_asyncio

from slamon.core.results import ProbeOutcome, ProbeResult, Reason
from slamon.loader import load_catalogue
from slamon.store import Store
from slamon.web import WebServer, build_app
from tests.conftest import CATALOGUE_DIR
from tests.web_support import NOW, fill_history, runtime_for

DOWN = "unhq-fax"
HISTORY = "unhq-conference"
HOSTILE = '<script>alert("owned")</script> & <b>bold</b>'
DAYS = 40



@pytest.fixture(scope="module")
def catalogue():
    cat = load_catalogue(CATALOGUE_DIR).catalogue
    assert cat is not None
    svc = cat.services[HISTORY].model_copy(update={"description": HOSTILE})
    return dataclasses.replace(cat, services={**cat.services, HISTORY: svc})


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory, catalogue):
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('web')}/slamon.db")
    store.record_catalogue(catalogue, NOW - dt.timedelta(days=400))
    fill_history(store, catalogue, HISTORY, days=DAYS)
    store.open_breach(DOWN, "unhq", "availability", "2026-11", NOW - dt.timedelta(hours=3), 0.993, 99.5)
    runtime = runtime_for(catalogue, down={DOWN})
    probe = catalogue.services[HISTORY].probes[0]
    runtime.observations.record(ProbeResult("unhq", HISTORY, probe.id, probe.kind, NOW.timestamp() - 5, ProbeOutcome(
        success=False, duration_seconds=0.4, reason=Reason.body, status_code=200,
        detail="body did not match: <script>steal()</script>",
    )))
    server = WebServer(build_app(runtime, lambda accept: (b"", "text/plain"), store=store, clock=NOW.timestamp),
                       "127.0.0.1", 0)
    host, port = await server.start()
    async with aiohttp.ClientSession(f"http://{host}:{port}", timeout=aiohttp.ClientTimeout(total=30)) as s:
        yield s
    await server.close()
    store.close()


async def fetch(s: aiohttp.ClientSession, url: str, status: int = 200) -> str:
    async with s.get(url) as r:
        text = await r.text()
        assert r.status == status, text[:500]
        assert r.content_type == "text/html"
        return text


@pytest.mark.asyncio(loop_scope="module")  # shares the module's served app
async def test_status_grid(site, catalogue):
    html = await fetch(site, "/")
    live = [s for s in catalogue.services.values() if s.lifecycle.value != "retired"]
    assert html.count('class="service-row') == len(live)
    heads = re.findall(r'<span class="office-id">(\w+)</span>', html)
    assert heads == ["unhq", "unog", "unov", "unon"]  # headquarters first
    row = re.search(rf'<tr class="service-row has-breach" data-service="{DOWN}" data-state="down">(.*?)</tr>', html, re.S)
    assert row, "the down service with an open breach is highlighted"
    assert 'cell-breach' in row.group(1) and ">Down</span>" in row.group(1)
    # the reason reads without hovering: the objective, its measure and its target
    assert re.search(r'data-objective="availability">breach availability <span class="breach-figure">[\d.]+ % &lt; 99.5 %', row.group(1))
    assert ">overspent" in row.group(1) and "budget-over" in row.group(1)  # overspent budget shown as such
    # every state has a text beside its colour
    assert html.count(">Up</span>") > 60
    retired = await fetch(site, "/?retired=1")
    assert retired.count('class="service-row') == len(catalogue.services)


@pytest.mark.asyncio(loop_scope="module")  # shares the module's served app
async def test_service_page_escapes_description_and_failure_detail(site):
    html = await fetch(site, f"/services/{HISTORY}")
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "body did not match: &lt;script&gt;steal()&lt;/script&gt;" in html
    assert "<script" not in html  # no script at all: the page works without JavaScript
    assert "conference-systems@unhq.example" in html  # owner contacts
    assert re.search(r"<th[^>]*>resolve</th>", html)  # phase timings


@pytest.mark.asyncio(loop_scope="module")  # shares the module's served app
async def test_history_chart_shows_unobserved_days_as_gaps(site):
    html = await fetch(site, f"/services/{HISTORY}")
    svg = re.search(r'<svg class="history".*?</svg>', html, re.S).group(0)
    titles = re.findall(r"<title>(\d{4}-\d\d-\d\d): ([^<]*)</title>", svg)
    assert len(titles) == 90
    by_day = dict(titles)
    start = (NOW - dt.timedelta(days=DAYS)).date()
    gap = [start + dt.timedelta(days=d) for d in range(20, 25)]
    for day in gap:
        assert by_day[day.isoformat()] in ("not observed", "outside service hours"), day
    assert any(by_day[d.isoformat()] == "not observed" for d in gap)
    before = (start - dt.timedelta(days=3)).isoformat()
    assert by_day[before] in ("not observed", "outside service hours")
    assert ": 0.000 %" not in svg
    bad_day = (start + dt.timedelta(days=10)).isoformat()
    assert re.search(rf'class="(warn|bad)"[^>]*><title>{bad_day}: ', svg), "the bad afternoon shows"
    assert svg.count('class="ok"') > 20


@pytest.mark.asyncio(loop_scope="module")  # shares the module's served app
async def test_indicators_page(site):
    html = await fetch(site, "/indicators?period=2026-2027")
    for code in ("(a)(i)", "(a)(ii)", "(b)"):
        assert f'<span class="code">{code}</span>' in html
    assert html.count('data-office="all"') == 3 and html.count('data-office="unon"') == 3
    assert "<summary>" in html and "Not counted" in html
    # a chart per indicator: baseline, target and actual per office and in total, each
    # row's figures in its <title> (and in the table under it)
    charts = re.findall(r'<svg class="chart bars".*?</svg>', html, re.S)
    assert len(charts) == 3
    rows = re.findall(r"<g><title>([^<]*)</title>", charts[0])
    assert [r.split(":")[0] for r in rows] == ["New York", "Geneva", "Vienna", "Nairobi", "Total"]
    assert all("baseline" in r and "target" in r and "actual" in r for r in rows)
    # the trend across bienniums: 2024-2025 is on record (the catalogue was recorded in
    # 2025), 2022-2023 is not, so two bienniums
    trends = re.findall(r'<svg class="chart trend".*?</svg>', html, re.S)
    assert len(trends) == 3
    assert re.findall(r"<title>(\d{4}-\d{4}): actual", trends[0]) == ["2024-2025", "2026-2027"]
    assert html.count('<table class="data compact trend-table">') == 3
    bad = await fetch(site, "/indicators?period=soon", status=400)
    assert "bad period &#39;soon&#39;" in bad


@pytest.mark.asyncio(loop_scope="module")  # shares the module's served app
async def test_unknown_service_and_assets(site):
    html = await fetch(site, "/services/nowhere-none", status=404)
    assert "no service &#39;nowhere-none&#39;" in html
    pages = [await fetch(site, u) for u in ("/", f"/services/{HISTORY}", "/indicators")]
    assets = {a for p in pages for a in re.findall(r'(?:href|src)="(/static/[^"]+)"', p)}
    assert {"/static/style.css", "/static/favicon.svg"} <= assets
    for asset in assets:
        async with site.get(asset) as r:
            assert r.status == 200, asset
    external = {a for p in pages for a in re.findall(r'(?:href|src)="(https?://[^"]+)"', p)}
    assert not external, external


@contextlib.asynccontextmanager
async def serving(runtime):
    server = WebServer(build_app(runtime, lambda accept: (b"", "text/plain"), clock=NOW.timestamp), "127.0.0.1", 0)
    host, port = await server.start()
    try:
        async with aiohttp.ClientSession(f"http://{host}:{port}", timeout=aiohttp.ClientTimeout(total=30)) as s:
            yield s
    finally:
        await server.close()


async def test_latency_breach_reads_without_hovering(catalogue):
    rt = runtime_for(catalogue)
    svc = next(s for s in sorted(catalogue.services.values(), key=lambda s: s.id)
               if catalogue.sla(s).latency and s.lifecycle.value == "production")
    key = next(k for k in rt.sla if k[1] == svc.id)
    snap = rt.sla[key]
    objectives = tuple(dataclasses.replace(o, measure_ratio=0.912) if o.objective == "latency" else o for o in snap.objectives)
    rt.sla[key] = dataclasses.replace(snap, objectives=objectives, open_breaches=frozenset({"latency"}))
    async with serving(rt) as s:
        html = await fetch(s, "/")
    cell = re.search(rf'data-service="{svc.id}".*?data-office="{key[0]}" data-state="up">(.*?)</td>', html, re.S).group(1)
    assert ">Up</span>" in cell
    threshold = catalogue.sla(svc).latency.percent
    assert re.search(rf'breach latency <span class="breach-figure">91.20 % &lt; {threshold:g} %</span>', cell), cell


async def test_office_scoped_daemon_shows_its_offices_only(catalogue):
    rt = runtime_for(catalogue)
    rt.vantages = ("unon",)
    async with serving(rt) as s:
        html = await fetch(s, "/")
    assert re.findall(r'<span class="office-id">(\w+)</span>', html) == ["unon"]
    assert 'data-office="unhq"' not in html and 'data-office="unog"' not in html
    rows = re.findall(r'class="service-row[^"]*" data-service="([\w-]+)"', html)  # the grid's rows
    here = [s for s in catalogue.services.values() if s.lifecycle.value != "retired"
            and (s.office == "unon" or any("unon" in s.vantages(p) for p in s.probes if p.enabled))]
    assert sorted(rows) == sorted(s.id for s in here) and 0 < len(rows) < len(catalogue.services)
    assert "Service status <span class=\"muted\">from Nairobi</span>" in html


async def test_one_service_count_with_what_it_counts(catalogue):
    rt = runtime_for(catalogue)
    rt.vantages = ("unon",)
    services = list(catalogue.services.values())
    production = sum(1 for s in services if s.lifecycle.value == "production")
    probed = sum(1 for s in services if any("unon" in s.vantages(p) for p in s.probes if p.enabled))
    text = f"{len(services)} services, {production} in production, {probed} probed from here"
    async with serving(rt) as s:
        html = await fetch(s, "/")
        for path in ("/services/unon-backup", "/catalogue"):
            assert text in await fetch(s, path)
        async with s.get("/api/v1/status") as r:
            counts = (await r.json())["catalogue"]["counts"]
    assert html.count(text) == 2  # the header and the page say the same
    assert counts == {"services": len(services), "production": production, "probed_here": probed}


async def test_refresh_parameter(catalogue):
    async with serving(runtime_for(catalogue)) as s:
        html = await fetch(s, "/")
        assert '<script src="/static/refresh.js" defer></script>' in html and 'data-refresh="60"' in html
        assert 'data-refresh="15"' in await fetch(s, "/?refresh=15")
        off = await fetch(s, "/?refresh=0")
        assert "<script" not in off and "data-refresh" not in off
        assert "bad refresh &#39;soon&#39;" in await fetch(s, "/?refresh=soon", status=400)
        async with s.get("/static/refresh.js") as r:
            assert r.status == 200 and "data-live" in await r.text()


async def test_reload_failure_badge_says_why_and_links_to_the_errors(catalogue):
    rt = runtime_for(catalogue)
    rt.catalogue_stats.load_success = False
    rt.catalogue_stats.errors = 2
    rt.catalogue_stats.last_errors = (
        "services/unon/x.yaml:4:7: E104 tier: unknown tier 'Gold' <b>",
        "services/unon/x.yaml:9:3: E201 probes[0].url: the URL has a space",
    )
    rt.catalogue_stats.last_failure_timestamp_seconds = NOW.timestamp() - 60
    async with serving(rt) as s:
        html = await fetch(s, "/")
        assert '<a class="chip chip-warn" href="/catalogue"' in html and "last reload failed: 2 errors</a>" in html
        # the first reason in the header itself, escaped
        assert '<a class="meta reload-why" href="/catalogue">services/unon/x.yaml:4:7: E104 tier: unknown tier &#39;Gold&#39; &lt;b&gt;</a>' in html
        page = await fetch(s, "/catalogue")
        assert "E104 tier: unknown tier &#39;Gold&#39; &lt;b&gt;" in page and "E201 probes[0].url" in page
        async with s.get("/api/v1/status") as r:
            assert (await r.json())["catalogue"]["last_errors"][1].endswith("the URL has a space")


@pytest.mark.asyncio(loop_scope="module")  # shares the module's served app
async def test_latency_beside_availability_and_the_budget_burn(site):
    html = await fetch(site, f"/services/{HISTORY}")
    latency = re.search(r'<svg class="history latency".*?</svg>', html, re.S).group(0)
    titles = dict(re.findall(r"<title>(\d{4}-\d\d-\d\d): ([^<]*)</title>", latency))
    assert len(titles) == 90
    bad_day = ((NOW - dt.timedelta(days=DAYS)) + dt.timedelta(days=10)).date().isoformat()
    assert titles[bad_day].endswith("observed minutes under the threshold")
    assert re.search(rf'class="(warn|bad)"[^>]*><title>{bad_day}: ', latency), "the slow afternoon shows"
    assert 'aria-label="daily share of minutes under the latency threshold' in latency
    # the burn chart ends where the engine's period measure to date ends (the same
    # minutes, the same budget), and its figures are in a table beside it
    async with site.get(f"/api/v1/services/{HISTORY}/sla") as r:
        body = await r.json()
    vantage = body["level"]["vantages"][0]
    burn = re.search(r'<section class="panel" id="budget-burn">.*?</section>', html, re.S).group(0)
    assert '<svg class="chart burn"' in burn and "<title>error budget of" in burn
    bad = vantage["seconds"]["bad"] // 60
    budget = vantage["error_budget"]["budget_seconds"] / 60
    assert f"{bad} bad minutes of a budget of {budget:.1f} so far" in burn, (bad, budget)
    first_row = re.search(r"<tbody>\s*<tr><td>([\d-]+)</td><td class=\"num\">(\d+)</td>", burn)
    assert first_row.group(1) == NOW.astimezone(dt.timezone(dt.timedelta(hours=-5))).date().isoformat()
    assert int(first_row.group(2)) == bad
