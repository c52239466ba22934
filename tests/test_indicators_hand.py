"""(a)(ii) per SLA period against figures worked out by hand (tests/hand_estate.py):
the engine, ``slamon sla``, ``slamon report`` (JSON and CSV) and ``/api/v1`` must all
give exactly the hand numbers; the minute-by-minute oracle is a second reference.
Also: past periods as they were (store, git history, or said to be reconstructed),
and the user's mistakes."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess

import aiohttp
import pytest
import pytest_asyncio

from slamon.assess import assess_indicators, assess_sla_periods
from slamon.cli import main
from slamon.core.model import IndicatorId
from slamon.core.sla.exclusions import Exclusion
from slamon.loader import load_catalogue
from slamon.runtime import Runtime
from slamon.store import Store
from slamon.web import WebServer, build_app
from tests import hand_estate as hand
from tests.sla_oracle import oracle
from tests.store_support import utc
from tests.test_web_api import validate


def _load(root):
    report = load_catalogue(root, today=hand.NOW.date())
    assert report.catalogue is not None, [str(d) for d in report.errors]
    return report.catalogue


@pytest.fixture(scope="module")
def estate(tmp_path_factory):
    base = tmp_path_factory.mktemp("hand")
    root = hand.write_catalogue(base / "catalogue")
    catalogue = _load(root)
    url = f"sqlite:///{base}/slamon.db"
    store = Store.open(url)
    hand.fill(store, catalogue)
    yield root, url, store, catalogue
    store.close()


def _measure(results, label, vantage="unog"):
    r = next(r for r in results if r.window.label == label)
    return r, next(m for m in r.measures if m.vantage == vantage)


def test_each_sla_period_matches_the_hand_count(estate):
    _, _, store, cat = estate
    got = assess_sla_periods(store, cat, "2026-2027", hand.NOW, offices=["unog"])
    observed = {sid: [(r.window.label, r.met) for r in rs if any(m.observed_minutes for m in r.measures)]
                for sid, rs in got.items()}
    assert observed == hand.PERIODS
    assert len(got["unog-mail"]) == 24 and len(got["unog-finance"]) == 8  # every SLA period of the biennium
    assert {r.met for r in got["unog-mail"] if r.window.label not in dict(hand.PERIODS["unog-mail"])} == {None}
    mail = got["unog-mail"]
    march, unhq = _measure(mail, "2026-03", "unhq")
    assert march.window.start == utc(2026, 2, 28, 23) and march.window.end == utc(2026, 3, 31, 22)
    assert (unhq.window_minutes, unhq.observed_minutes, unhq.bad_minutes) == (44580, 1000, 1)
    assert unhq.objectives["availability"].met is True  # 99.9 % exactly
    _, april = _measure(mail, "2026-04")
    assert (april.observed_minutes, april.bad_minutes) == (30, 0)
    october, unog = _measure(mail, "2026-10")
    assert (unog.window_minutes, unog.observed_minutes, unog.bad_minutes) == (44700, 2000, 3)
    assert unog.objectives["availability"].actual == 1997 / 2000 and unog.met is False
    assert next(m for m in october.measures if m.vantage == "unhq").met is True

    _, fin = _measure(got["unog-finance"], "2026-Q3")
    assert (fin.window_minutes, fin.maintenance_minutes, fin.eligible_minutes) == (132480, 1560, 130920)
    assert (fin.observed_minutes, fin.bad_minutes, fin.outage_runs) == (1000, 2, 1)
    assert (fin.objectives["unplanned_outages"].actual, fin.objectives["unplanned_outages"].met) == (2.0, True)
    _, q4 = _measure(got["unog-finance"], "2026-Q4")
    assert (q4.observed_minutes, q4.bad_minutes, q4.outage_runs) == (1000, 2, 2)

    _, portal = _measure(got["unog-portal"], "2026-05")
    assert (portal.observed_minutes, portal.good_minutes, portal.eligible_minutes) == (240, 239, 11990)
    assert (portal.excluded_minutes, portal.outside_hours_minutes, portal.maintenance_minutes) == (10, 32640, 0)

    _, erp = _measure(got["unog-erp"], "2026-06")
    assert [p.sla.availability for p in erp.parts] == [99.9, 99.95]
    assert erp.parts[1].start == utc(2026, 6, 15, 22)  # local midnight of the effective date
    assert [(p.observed, p.bad) for p in erp.parts] == [(2000, 2), (1000, 0)]
    avail = erp.objectives["availability"]
    assert (avail.allowed_bad, avail.actual, avail.met) == (pytest.approx(2.5), 2998 / 3000, True)


def test_the_minute_by_minute_oracle_agrees(estate):
    _, _, store, cat = estate
    got = assess_sla_periods(store, cat, "2026-2027", hand.NOW, offices=["unog"])
    office = cat.offices["unog"]
    cases = [
        ("unog-portal", "2026-05", office.calendars["business-hours"], [], [Exclusion(*hand.EXCLUSION, "x", "y")]),
        ("unog-finance", "2026-Q3", None, list(cat.services["unog-finance"].maintenance), []),
        ("unog-mail", "2026-10", None, [], []),
    ]
    for sid, label, calendar, maintenance, exclusions in cases:
        rollups = {r.day: r for r in store.rollups(sid) if r.vantage == "unog"}
        _, m = _measure(got[sid], label)
        t = oracle(m.period.start, m.period.end, office.timezone, calendar, maintenance, exclusions, rollups)
        assert (t.window, t.eligible, t.observed, t.good, t.maintenance, t.excluded, t.outside_hours, t.outage_runs) == (
            m.window_minutes, m.eligible_minutes, m.observed_minutes, m.good_minutes, m.maintenance_minutes,
            m.excluded_minutes, m.outside_hours_minutes, m.outage_runs), (sid, label)


def test_indicators_per_sla_period_and_the_whole_period_method(estate, tmp_path):
    _, _, store, cat = estate
    values = {(v.indicator, v.office): v for v in assess_indicators(store, "2026-2027", hand.NOW, catalogue=cat)}
    meeting = values[(IndicatorId.services_meeting_levels, "unog")]
    assert (meeting.value, meeting.periods_met, meeting.periods_in_scope) == (
        hand.MEETING_PERCENT, hand.MET_PERIODS, hand.IN_SCOPE_PERIODS)
    assert meeting.method == "per-sla-period" and meeting.counted == hand.MET_EVERY_PERIOD
    (mail,) = [p for p in meeting.service_periods if p.service == "unog-mail"]
    assert (len(mail.met), mail.in_scope, [label for label, _ in mail.breached]) == (3, 4, ["2026-10"])
    assert mail.breached[0][1] == ["availability from unog"]
    assert values[(IndicatorId.services_meeting_levels, "all")].value == hand.MEETING_PERCENT
    assert values[(IndicatorId.automated_services, "unog")].value == hand.AUTOMATED
    assert values[(IndicatorId.iso_aligned_services, "unog")].value == hand.ISO

    whole = _load(hand.write_catalogue(tmp_path / "whole", method="whole-period"))
    values = assess_indicators(store, "2026-2027", hand.NOW, catalogue=whole, offices=["unog"])
    meeting = next(v for v in values if v.indicator == IndicatorId.services_meeting_levels)
    assert (meeting.value, meeting.method, meeting.counted) == (
        hand.WHOLE_PERIOD_PERCENT, "whole-period", ["unog-erp", "unog-mail", "unog-portal"])


def _cli(estate, capsys, *args):
    root, url, _, _ = estate
    status = main([*args, "--catalogue", str(root), "--db", url, "--at", hand.AT])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_slamon_sla_gives_the_hand_figures(estate, capsys):
    status, out, _ = _cli(estate, capsys, "sla", "unog-erp", "--period", "2026-06", "--format", "json")
    assert status == 0
    (svc,) = json.loads(out)["services"]
    (v,) = svc["vantages"]
    avail = v["objectives"]["availability"]
    assert (avail["actual_ratio"], avail["met"], avail["allowed_bad"], avail["bad"]) == (2998 / 3000, True, 2.5, 2.0)
    assert [p["targets"]["availability_percent"] for p in v["parts"]] == [99.9, 99.95]

    status, out, _ = _cli(estate, capsys, "sla", "--office", "unog", "--period", "2026-2027", "--format", "json")
    assert status == 0
    doc = json.loads(out)
    periods = {s["service"]: [(p["period"], p["met"]) for p in s["sla_periods"]
                              if any(v["observed_minutes"] for v in p["vantages"])] for s in doc["services"]}
    assert periods == hand.PERIODS
    finance = next(s for s in doc["services"] if s["service"] == "unog-finance")
    assert finance["met"] is False  # the whole biennium: 4 bad minutes > 2
    q3 = next(p for p in finance["sla_periods"] if p["period"] == "2026-Q3")["vantages"][0]
    assert (q3["observed_minutes"], q3["bad_minutes"], q3["objectives"]["unplanned_outages"]["met"]) == (1000, 2, True)

    status, out, _ = _cli(estate, capsys, "sla", "unog-mail", "--period", "2026-2027")
    assert status == 0 and "SLA periods met: 3 of 4; not met: 2026-10" in out


def test_slamon_report_json_and_csv_give_the_hand_figures(estate, capsys):
    status, out, err = _cli(estate, capsys, "report", "--period", "2026-2027", "--format", "json")
    assert status == 0, err
    doc = json.loads(out)
    assert (doc["closed"], doc["final"], doc["has_measurements"], doc["counts_from"]) == (True, True, True, "revisions")
    assert doc["previous_on_record"] is False  # no record of 2024-2025: no previous value, no trend
    unog = next(o for o in doc["offices"] if o["office"] == "unog")
    rows = {r["indicator"]: r for r in unog["indicators"]}
    meeting = rows["services-meeting-levels"]
    assert (meeting["actual"], meeting["service_periods_met"], meeting["service_periods_in_scope"]) == (87.5, 7, 8)
    assert (meeting["service_periods_met_ratio"], meeting["method"], meeting["target_met"]) == (0.875, "per-sla-period", True)
    assert [s["id"] for s in meeting["counted"]] == hand.MET_EVERY_PERIOD
    assert (meeting["previous"], meeting["trend"]) == (None, "none")
    mail = next(p for p in meeting["service_periods"] if p["id"] == "unog-mail")
    assert (mail["periods_met"], mail["periods_in_scope"], mail["breached"]) == (3, 4, ["2026-10"])
    assert rows["automated-services"]["actual"] == hand.AUTOMATED and rows["iso-aligned-services"]["actual"] == hand.ISO
    services = {s["id"]: s for s in unog["services"]}
    assert (services["unog-mail"]["met"], services["unog-finance"]["met"]) == (False, True)  # per SLA period
    assert (services["unog-mail"]["sla_periods_met"], services["unog-mail"]["sla_periods_in_scope"]) == (3, 4)
    assert [(p["period"], p["met"], p["failing"]) for p in services["unog-mail"]["sla_periods"]] == [
        ("2026-03", True, []), ("2026-04", True, []), ("2026-10", False, ["availability from unog"]),
        ("2027-05", True, [])]
    (fin,) = services["unog-finance"]["vantages"]
    outages = next(o for o in fin["objectives"] if o["objective"] == "unplanned_outages")
    assert (outages["bad_minutes"], outages["met"], fin["met"]) == (4, True, True)  # 4 in all, 2 per SLA period
    total = next(r for r in doc["total"]["indicators"] if r["indicator"] == "services-meeting-levels")
    assert total["actual"] == 87.5 and total["service_periods_in_scope"] == 8

    status, out, _ = _cli(estate, capsys, "report", "--period", "2026-2027", "--format", "csv")
    row = next(r for r in csv.DictReader(io.StringIO(out))
               if r["office"] == "unog" and r["indicator"] == "services-meeting-levels")
    assert (row["actual"], row["service_periods_met"], row["service_periods_in_scope"]) == ("87.5", "7", "8")
    assert (row["service_periods_met_ratio"], row["method"], row["counted"], row["in_scope"]) == (
        "0.875", "per-sla-period", "3", "4")
    assert row["counted_services"] == " ".join(hand.MET_EVERY_PERIOD) and row["previous"] == ""

    status, out, _ = _cli(estate, capsys, "report", "--period", "2026-2027", "--format", "csv", "--table", "services")
    rows = {r["service"]: r for r in csv.DictReader(io.StringIO(out))
            if r["office"] == "unog" and r["indicator"] == "services-meeting-levels"}
    assert (rows["unog-mail"]["periods_met"], rows["unog-mail"]["periods_in_scope"]) == ("3", "4")
    assert (rows["unog-mail"]["breached_periods"], rows["unog-mail"]["counted"]) == ("2026-10", "false")
    assert (rows["unog-finance"]["periods_met"], rows["unog-finance"]["periods_in_scope"]) == ("2", "2")

    status, out, _ = _cli(estate, capsys, "report", "--period", "2026-2027", "--format", "csv", "--table", "sla")
    sla = [r for r in csv.DictReader(io.StringIO(out)) if r["service"] == "unog-mail"]
    assert {(r["service_met"], r["sla_periods_met"], r["sla_periods_in_scope"], r["breached_periods"]) for r in sla} == {
        ("false", "3", "4", "2026-10")}

    status, out, _ = _cli(estate, capsys, "report", "--period", "2026-2027", "--format", "md")
    assert "**87.5 %** (7 of 8 service-periods)" in out and "| Mail (`unog-mail`) | 3 of 4 | 2026-10 |" in out
    assert "(closed: final figures)" in out and "no trend" in out
    assert "Met its level in 3 of 4 of its SLA periods with data; not in 2026-10 (availability from unog)." in out


@pytest_asyncio.fixture(loop_scope="module")
async def api(estate):
    _, _, store, cat = estate
    runtime = Runtime(catalogue=cat, started_timestamp_seconds=hand.NOW.timestamp() - 60, ready=True)
    server = WebServer(build_app(runtime, lambda accept: (b"", "text/plain"), store=store, clock=hand.NOW.timestamp),
                       "127.0.0.1", 0)
    host, port = await server.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            yield session, f"http://{host}:{port}"
    finally:
        await server.close()


@pytest.mark.asyncio(loop_scope="module")
async def test_the_api_gives_the_hand_figures(api):
    session, base = api
    async with session.get(f"{base}/api/v1/indicators?period=2026-2027&office=unog") as r:
        assert r.status == 200
        body = await r.json()
        validate("get", "/api/v1/indicators", r.status, r.content_type, body)  # as the OpenAPI document says
    meeting = next(i for i in body["indicators"] if i["indicator"] == "services-meeting-levels")
    assert (meeting["value"], meeting["service_periods_met"], meeting["service_periods_in_scope"]) == (87.5, 7, 8)
    assert (meeting["service_periods_met_ratio"], meeting["counted"]) == (0.875, hand.MET_EVERY_PERIOD)
    mail = next(p for p in meeting["service_periods"] if p["service"] == "unog-mail")
    assert (mail["periods_met"], mail["periods_in_scope"], mail["breached_periods"]) == (3, 4, ["2026-10"])
    async with session.get(f"{base}/api/v1/services/unog-erp/sla?period=2026-06") as r:
        assert r.status == 200
        level = (await r.json())["level"]
    avail = level["vantages"][0]["objectives"]["availability"]
    assert (level["met"], avail["actual_ratio"], avail["allowed_bad"]) == (True, 2998 / 3000, 2.5)
    async with session.get(f"{base}/api/v1/services/unog-mail/sla?period=2026-2027") as r:
        assert r.status == 200
        body = await r.json()
        validate("get", "/api/v1/services/{id}/sla", r.status, r.content_type, body)
    observed = [(p["period"], p["met"], p["failing"]) for p in body["sla_periods"] if p["observed_minutes"]]
    assert observed == [("2026-03", True, []), ("2026-04", True, []), ("2026-10", False, ["availability from unog"]),
                        ("2027-05", True, [])]
    assert len(body["sla_periods"]) == 24


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--period", "2027-13"], 2, "did you mean '2027-12'?"),
        (["--period", "2027-2028"], 2, "did you mean '2026-2027'?"),
        (["--period", "2026q3"], 2, "did you mean '2026-Q3'?"),
        (["--period", "2026-2027", "--office", "unogg"], 1, "unknown office 'unogg' (did you mean 'unog'?)"),
    ],
)
def test_a_period_or_office_that_does_not_exist(estate, capsys, args, status, message):
    got, out, err = _cli(estate, capsys, "report", *args)
    assert got == status and out == ""
    assert err.startswith("slamon report: ") and message in err and "Traceback" not in err


def test_a_period_with_no_data_says_so(estate, capsys):
    status, out, err = _cli(estate, capsys, "report", "--period", "2024", "--format", "json")
    assert status == 0 and "holds no measurement for 2024" in err
    doc = json.loads(out)
    assert (doc["has_measurements"], doc["final"], doc["counts_from"]) == (False, False, "catalogue")
    status, out, _ = _cli(estate, capsys, "report", "--period", "2024", "--format", "md")
    assert status == 0
    assert "The store holds no measurement for 2024" in out
    assert "Counts for 2024 are reconstructed from the current catalogue and are not a record of that period" in out
    assert "**4** †" in out  # beside each affected number
    assert "closed, not final: no measurement on record and its catalogue is not on record" in out
    status, out, _ = _cli(estate, capsys, "report", "--period", "2024", "--format", "html")
    assert status == 0 and 'id="reconstructed"' in out and 'id="no-data"' in out
    assert out.count('<a href="#reconstructed"') >= 3 * 3  # each office's and the total's counts, and the lists


def _git(root, *args, when="2013-06-01T12:00:00Z"):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    subprocess.run(["git", "-C", str(root), *args], check=True, env=env, capture_output=True, timeout=30)


def test_past_counts_come_from_the_catalogues_git_history(tmp_path, capsys):
    """No revision in the store: the catalogue's git history says what was catalogued."""
    root = hand.write_catalogue(tmp_path / "repo" / "catalogue")
    url = f"sqlite:///{tmp_path}/empty.db"
    store = Store.open(url)  # no catalogue revision; February 2015: 1 bad minute of 1,000 from unog
    store.write_results(
        hand._run("unog-mail", "unog", utc(2015, 2, 10, 8), 1000, bad={7}) + hand._run("unog-mail", "unhq", utc(2015, 2, 10, 8), 1000),
        lambda sid: (1.0, None),
    )
    store.close()
    os.remove(root / "services" / "unog" / "unog-erp.yaml")
    os.remove(root / "services" / "unog" / "unog-portal.yaml")
    _git(tmp_path / "repo", "init", "-q")
    _git(tmp_path / "repo", "add", "-A")
    _git(tmp_path / "repo", "commit", "-qm", "two services")
    hand.write_catalogue(root)  # all four, committed in 2015, and mail tightened (no effective date)
    mail_file = root / "services" / "unog" / "unog-mail.yaml"
    mail_file.write_text(mail_file.read_text().replace("automation:", "sla:\n  availability: 99.95\nautomation:"))
    _git(tmp_path / "repo", "add", "-A")
    _git(tmp_path / "repo", "commit", "-qm", "four services", when="2015-03-01T12:00:00Z")

    def report(period):
        assert main(["report", "--period", period, "--format", "json", "--catalogue", str(root),
                     "--db", url, "--at", hand.AT]) == 0
        return json.loads(capsys.readouterr().out)

    def automated(doc):
        return next(r for r in doc["total"]["indicators"] if r["indicator"] == "automated-services")

    old = report("2012-2013")
    assert old["counts_from"] == "git" and len(old["counts_commit"]) == 40
    assert automated(old)["actual"] == 2 and automated(old)["counts_from"] == "git"
    assert old["previous_on_record"] is False and automated(old)["trend"] == "none"  # nothing before 2013
    new = report("2014-2015")
    assert (automated(new)["actual"], automated(new)["previous"], automated(new)["trend"]) == (4, 2, "up")
    assert new["final"] is True  # closed, measured, and its catalogue on record (in git)
    # the tightening was committed on 2015-03-01: February keeps 99.9 %, so 999 / 1,000 meets it
    feb = report("2015-02")
    mail = next(x for x in feb["offices"][1]["services"] if x["id"] == "unog-mail")
    availability = next(o for o in mail["vantages"][1]["objectives"] if o["objective"] == "availability")
    assert (mail["vantages"][1]["vantage"], availability["target_percent"], availability["met"], mail["met"]) == (
        "unog", 99.9, True, True)
    march = report("2015-03")  # from the commit on: 99.95 %
    assert next(x for x in march["offices"][1]["services"] if x["id"] == "unog-mail")["vantages"][0][
        "objectives"][0]["target_percent"] == 99.95


def test_the_method_belongs_to_a_ii_only(tmp_path):
    root = hand.write_catalogue(tmp_path / "catalogue")
    text = (root / "indicators.yaml").read_text().replace(
        "title: Automated services, unit: count}", "title: Automated services, unit: count, method: whole-period}")
    (root / "indicators.yaml").write_text(text)
    report = load_catalogue(root, today=hand.NOW.date())
    assert report.catalogue is None
    (error,) = report.errors
    assert (error.code, error.file.endswith("indicators.yaml"), error.line) == ("E114", True, 4)
    assert "method applies to services-meeting-levels only" in str(error)
