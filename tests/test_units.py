"""One set of units everywhere (issue 12, point 4), and the zero-budget case.

A small estate on a real SQLite store, with breaches recorded from the engine's own
figures, rendered every way a number leaves slamon: `slamon sla` (text and JSON), the
report (HTML, Markdown, the three CSV tables, JSON), the API (each route) and the pages
(served over HTTP on 127.0.0.1). Every field named ``*_ratio`` must hold a ratio 0..1,
every ``*_percent`` a percentage 0..100, and no text may show a percentage over 100.

Hand-computed figures:
- ``unhq-edge`` (target 99.95 %): 1,999 observed minutes, 1 bad: 1998/1999 =
  99.94997498749375 %, which nearest rounding would show as the target (99.950 %):
  text shows 99.949 %, CSV and JSON the full value.
- ``unhq-vault`` (target 100 %, unplanned_outages: 0): 120 good minutes: no budget,
  nothing consumed: remaining "n/a (no budget: target 100 %)", consumed 0.
- ``unog-ledger`` (target 100 %, unplanned_outages: 0): 60 minutes, 2 bad: breached
  (availability and unplanned outages), consumed 2 minutes of no budget.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import aiohttp
import pytest
import pytest_asyncio

from exporters.reports import build_report, render
from exporters.reports.tables import TABLES
from slamon.assess import assess_period
from slamon.cli.sla import as_json, as_text
from slamon.core.numbers import percent_text, percent_value_text
from slamon.evaluator import snapshot_of
from slamon.runtime import Runtime
from slamon.store import Store
from slamon.store.writer import catalogue_thresholds
from slamon.web import WebServer, build_app
from tests.exporters_estate import catalogue as estate_catalogue
from tests.exporters_estate import service
from tests.store_support import result, utc

NOW = utc(2026, 11, 20, 12, 0)
DAY = utc(2026, 11, 10, 8, 0)
EDGE, VAULT, LEDGER, MAIL = "unhq-edge", "unhq-vault", "unog-ledger", "unog-mail"
NO_BUDGET = "no budget: target 100 %"
FULL = {"availability": 100, "unplanned_outages": 0}


def _catalogue():
    return estate_catalogue([
        service(EDGE, sla={"availability": 99.95}),
        service(VAULT, sla=FULL),
        service(LEDGER, sla=FULL),
        service(MAIL, tier="bronze"),
    ])


def _minutes(sid: str, vantage: str, count: int, bad=()):
    return [
        result((DAY + dt.timedelta(minutes=i, seconds=5)).timestamp(), success=i not in bad,
               service=sid, vantage=vantage, probe="web")
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def estate(tmp_path_factory):
    cat = _catalogue()
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('units')}/slamon.db")
    store.record_catalogue(list(cat.services.values()), utc(2026, 1, 1))
    store.write_results(
        _minutes(EDGE, "unhq", 1999, bad=(700,))
        + _minutes(VAULT, "unhq", 120)
        + _minutes(LEDGER, "unog", 60, bad=(10, 11))
        + _minutes(MAIL, "unog", 300, bad=range(20, 35)),
        catalogue_thresholds(lambda: cat),
    )
    a = assess_period(store, cat, "2026-11", NOW)
    # breaches as the evaluator records them: the engine's measure and target
    for (sid, vantage), m in a.measures.items():
        for name, o in m.objectives.items():
            if o.met is False:
                store.open_breach(sid, vantage, name, "2026-11", DAY + dt.timedelta(hours=2), o.actual, o.target)
    yield store, cat
    store.close()


PERCENT_IN_TEXT = re.compile(r"(-?\d+(?:\.\d+)?)(?:\s|&nbsp;|&#160;)*%")


def _check_text(text: str, where: str) -> None:
    found = PERCENT_IN_TEXT.findall(text)
    assert found, f"{where}: no percentage at all (the check would prove nothing)"
    bad = [x for x in found if not 0 <= float(x) <= 100]
    assert not bad, f"{where}: percentages outside 0..100: {bad[:5]}"


def _check_json(doc, where: str, seen: dict[str, int]) -> None:
    if isinstance(doc, dict):
        for k, v in doc.items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                if k.endswith("_ratio"):
                    seen["ratio"] += 1
                    assert 0 <= v <= 1, f"{where}: {k} = {v} is not a ratio 0..1"
                if k.endswith("_percent"):
                    seen["percent"] += 1
                    assert 0 <= v <= 100, f"{where}: {k} = {v} is not a percentage 0..100"
            if k in ("measure", "target", "actual", "value", "baseline", "previous") and v is not None:
                # a figure whose unit varies (an indicator: count or percent) has it beside it
                assert doc.get("unit") in ("count", "percent"), f"{where}: {k!r} does not name its unit"
                if doc["unit"] == "percent":
                    assert 0 <= v <= 100, f"{where}: {k} = {v} is not a percentage"
            _check_json(v, f"{where}.{k}", seen)
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            _check_json(v, f"{where}[{i}]", seen)


def _check_csv(text: str, where: str) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        for k, v in row.items():
            if v and k.endswith("_ratio"):
                assert 0 <= float(v) <= 1, f"{where}: {k} = {v}"
            if v and k.endswith("_percent"):
                assert 0 <= float(v) <= 100, f"{where}: {k} = {v}"
    return rows


def test_sla_command_and_report_name_their_units(estate):
    store, cat = estate
    a = assess_period(store, cat, "2026-11", NOW)
    seen = {"ratio": 0, "percent": 0}
    _check_json(as_json(a, cat), "slamon sla --format json", seen)
    _check_text(as_text(a, cat), "slamon sla")
    for period in ("2026-11", "2026-2027"):
        report = build_report(store, cat, period, NOW)
        assert any(s.breaches for sec in report.offices for s in sec.services), "the store has breaches"
        _check_json(json.loads(render(report, "json")), f"report {period} json", seen)
        _check_text(render(report, "html"), f"report {period} html")
        _check_text(render(report, "md"), f"report {period} md")
        for table in TABLES:
            _check_csv(render(report, "csv", table=table), f"report {period} csv {table}")
        assert not {"target", "actual"} & set(TABLES["sla"])  # the SLA table names its units
    assert seen["ratio"] > 10 and seen["percent"] > 10


def test_a_failing_measure_never_reads_as_its_target(estate):
    store, cat = estate
    exact = 100 * 1998 / 1999  # 99.94997498749375
    a = assess_period(store, cat, "2026-11", NOW, service_ids=[EDGE])
    text = as_text(a, cat)
    assert "availability  99.95 %  99.949 %  NO" in text  # nearest rounding would say 99.950 %
    assert "latency       90 %     99.950 %  yes" in text  # met: nearest
    assert "remaining 0.0 % (overspent)" in text  # 60 s consumed of 59.97 s
    doc = as_json(a, cat)
    availability = doc["services"][0]["vantages"][0]["objectives"]["availability"]
    assert availability["actual_ratio"] == 1998 / 1999 and availability["target_ratio"] == 0.9995

    report = build_report(store, cat, "2026-11", NOW)
    md = render(report, "md")
    assert "| Availability | 99.95 % | 99.949 % | not met |" in md
    assert "| Availability | 99.95 % | 99.950 %" not in md
    rows = list(csv.DictReader(io.StringIO(render(report, "csv", table="sla"))))
    edge = next(r for r in rows if r["service"] == EDGE and r["objective"] == "availability")
    assert float(edge["actual_percent"]) == pytest.approx(exact, rel=1e-15)  # full precision, not 99.95
    assert edge["actual_percent"] != "99.95" and edge["target_percent"] == "99.95"
    obj = json.loads(render(report, "json"))
    (svc,) = [s for sec in obj["offices"] for s in sec["services"] if s["id"] == EDGE]
    assert svc["vantages"][0]["objectives"][0]["actual_percent"] == pytest.approx(exact, rel=1e-15)


@pytest.mark.parametrize(
    ("value", "target", "met", "shown"),
    [
        (99.949996, 99.95, False, "99.949 %"),
        (99.9499999999999, 99.95, False, "99.949 %"),
        (99.95, 99.95, False, "< 99.95 %"),  # the exact verdict says below; the float cannot show it
        (99.95, 99.95, True, "99.950 %"),
        (99.9504, 99.95, True, "99.950 %"),
        (99.9996, 99.95, True, "100.000 %"),  # met: nearest rounding
        (99.9996, 100, False, "99.999 %"),  # failing 100 %: never "100.000 %"
        (95.0, 99.5, False, "95.000 %"),
        (12.3456, None, None, "12.346 %"),
    ],
)
def test_the_one_formatting_function(value, target, met, shown):
    assert percent_value_text(value, target_percent=target, met=met) == shown
    if target is not None:
        assert percent_text(value / 100, target_ratio=target / 100, met=met).rstrip(" %").lstrip("< ") in shown


def test_zero_budget_says_the_same_everywhere(estate):
    store, cat = estate
    a = assess_period(store, cat, "2026-11", NOW, service_ids=[VAULT, LEDGER])
    vault = a.measures[(VAULT, "unhq")]
    assert (vault.budget_seconds, vault.consumed_seconds, vault.budget_left_ratio) == (0, 0, None)
    assert vault.budget_note == NO_BUDGET and vault.burn_rate == 0
    text = as_text(a, cat)
    assert f"remaining n/a ({NO_BUDGET}), burn rate 0.00" in text
    assert f"remaining n/a ({NO_BUDGET}), burn rate inf" in text  # the ledger: 2 bad minutes
    doc = {s["service"]: s["vantages"][0]["error_budget"] for s in as_json(a, cat)["services"]}
    assert doc[VAULT] == {"budget_seconds": 0, "consumed_seconds": 0, "remaining_seconds": 0,
                          "remaining_ratio": None, "overspent": False, "note": NO_BUDGET, "burn_rate": 0.0}
    assert doc[LEDGER]["consumed_seconds"] == 120 and doc[LEDGER]["overspent"] is True
    assert doc[LEDGER]["remaining_ratio"] is None and doc[LEDGER]["burn_rate"] is None

    report = build_report(store, cat, "2026-11", NOW)
    by_id = {s.id: s for sec in report.offices for s in sec.services}
    v = by_id[VAULT].vantages[0]
    assert (v.budget_minutes, v.consumed_minutes, v.remaining_percent, v.budget_note) == (0, 0, None, NO_BUDGET)
    assert f"(n/a ({NO_BUDGET}))" in render(report, "md")
    assert f"n/a ({NO_BUDGET})" in render(report, "html")
    rows = list(csv.DictReader(io.StringIO(render(report, "csv", table="sla"))))
    vault_row = next(r for r in rows if r["service"] == VAULT)
    assert (vault_row["remaining_percent"], vault_row["budget_note"], vault_row["consumed_minutes"]) == (
        "", NO_BUDGET, "0")
    ledger = next(r for r in rows if r["service"] == LEDGER and r["objective"] == "unplanned_outages")
    assert (ledger["allowed_bad_minutes"], ledger["objective_bad_minutes"], ledger["objective_met"]) == (
        "0", "2", "false")


# ------------------------------------------------------------------ the API and the pages


def _runtime(store, cat) -> Runtime:
    """The runtime as the evaluator fills it: snapshots of the real measures."""
    rt = Runtime(catalogue=cat, started_timestamp_seconds=NOW.timestamp() - 60, ready=True)
    rt.vantages = tuple(sorted(cat.offices))
    a = assess_period(store, cat, "current", NOW)
    for (sid, vantage), m in a.measures.items():
        open_objectives = [n for n, o in m.objectives.items() if o.met is False]
        rt.sla[(vantage, sid)] = snapshot_of(m, cat.services[sid].office, open_objectives)
    return rt


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(estate):
    store, cat = estate
    server = WebServer(build_app(_runtime(store, cat), lambda accept: (b"", "text/plain"), store=store,
                                 clock=NOW.timestamp), "127.0.0.1", 0)
    host, port = await server.start()
    async with aiohttp.ClientSession(f"http://{host}:{port}", timeout=aiohttp.ClientTimeout(total=30)) as s:
        yield s
    await server.close()


async def _get(s: aiohttp.ClientSession, url: str):
    async with s.get(url) as r:
        assert r.status == 200, (url, await r.text())
        return await r.json() if r.content_type == "application/json" else await r.text()


@pytest.mark.asyncio(loop_scope="module")
async def test_api_and_pages_name_their_units(site):
    seen = {"ratio": 0, "percent": 0}
    urls = ["/api/v1/services", "/api/v1/sla?period=2026-11", "/api/v1/sla", "/api/v1/breaches",
            "/api/v1/indicators"]
    for sid in (EDGE, VAULT, LEDGER, MAIL):
        urls += [f"/api/v1/services/{sid}", f"/api/v1/services/{sid}/sla", f"/api/v1/services/{sid}/sla?period=2026-11"]
    for url in urls:
        _check_json(await _get(site, url), url, seen)
    assert seen["ratio"] > 20 and seen["percent"] > 4

    breaches = (await _get(site, "/api/v1/breaches"))["breaches"]
    edge = next(b for b in breaches if b["service"] == EDGE)
    assert (edge["measure_ratio"], edge["target_ratio"]) == (1998 / 1999, 0.9995)
    outages = next(b for b in breaches if b["service"] == LEDGER and b["objective"] == "unplanned_outages")
    assert (outages["bad_minutes"], outages["allowed_bad_minutes"], outages["measure_ratio"]) == (2, 0, None)
    sla = await _get(site, f"/api/v1/services/{VAULT}/sla")
    budget = sla["level"]["vantages"][0]["error_budget"]
    assert (budget["remaining_ratio"], budget["note"], budget["consumed_seconds"]) == (None, NO_BUDGET, 0)
    (vantage,) = (await _get(site, f"/api/v1/services/{VAULT}"))["vantages"]
    assert vantage["sla"]["error_budget_remaining_ratio"] is None
    assert vantage["sla"]["error_budget_note"] == NO_BUDGET

    for url in ["/", "/indicators", *(f"/services/{sid}" for sid in (EDGE, VAULT, LEDGER, MAIL))]:
        _check_text(await _get(site, url), url)
    edge_page = await _get(site, f"/services/{EDGE}")
    # the availability row (current period) and the breach row: below the target, never 99.950 %
    assert edge_page.count(">99.949 %</td>") == 2 and edge_page.count(">99.95 %</td>") == 2
    assert ">99.950 %</td>\n            <td class=\"num\">90 %" in edge_page  # latency, met
    assert f"n/a ({NO_BUDGET})" in await _get(site, f"/services/{VAULT}")


def test_indicator_percentages_round_toward_their_target_too():
    from exporters.reports.text import value
    from slamon.web.pages import indicator_percent

    assert value(94.96, "percent", 95.0, False) == "94.9 %"  # nearest would say 95.0 %, the target
    assert value(66.66666666666667, "percent", 85.0, False) == "66.7 %"  # far from it: nearest
    assert value(95.0, "percent", 95.0, True) == "95.0 %" and value(12.0, "count") == "12"
    assert indicator_percent(94.96, 95.0) == "94.9 %" and indicator_percent(None, 95.0) == "\u2013"


def test_csv_numbers_are_plain_and_exact():
    from exporters.reports.tables import _cell

    assert _cell(99.94997498749375) == "99.94997498749375"  # never 6 significant figures
    assert _cell(1e-05) == "0.00001" and _cell(2.0) == "2" and _cell(float("inf")) == ""
