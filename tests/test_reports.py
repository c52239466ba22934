"""The report model and its four renderings, over a real SQLite store filled through
the Store API (tests/reports_estate.py), against numbers worked out by hand."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser

import pytest

from exporters.reports import SCHEMA, build_report, render
from exporters.reports.model import Report, Trend
from exporters.reports.tables import INDICATOR_COLUMNS, SERVICE_COLUMNS, SLA_COLUMNS
from slamon.core.sla.periods import PeriodError
from slamon.store import Store
from tests import reports_estate as estate
from tests import store_support

pg_url = store_support.pg_url  # a fresh PostgreSQL schema (skips when none is configured)


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('reports')}/slamon.db"
    store = Store.open(url)
    cat = estate.catalogue()
    estate.fill(store, cat)
    yield store, cat
    store.close()


@pytest.fixture(scope="module")
def report(filled):
    store, cat = filled
    return build_report(store, cat, "2012-2013", estate.NOW)


def _rows(report):
    return {(row.indicator, sec.office): row for sec in report.sections() for row in sec.indicators}


def test_indicators_match_the_hand_count(report):
    rows = _rows(report)
    for key, (baseline, target, actual, previous, met) in estate.EXPECTED.items():
        row = rows[key]
        assert row.baseline == baseline, key
        assert row.target == target, key
        assert row.actual == pytest.approx(actual) if actual is not None else row.actual is None, key
        assert row.previous == pytest.approx(previous) if previous is not None else row.previous is None, key
        assert row.target_met is met, key
    assert report.period == "2012-2013" and report.period_kind == "biennium"
    assert report.previous_period == "2010-2011" and report.biennium == "2012-2013"
    assert report.closed is True
    assert [s.office for s in report.offices] == ["unhq", "unog", "unon", "unov"]
    assert report.total is not None and report.total.office == "all"


def test_trend_and_the_services_behind_each_number(report):
    rows = _rows(report)
    auto = rows[("automated-services", "unog")]
    assert (auto.trend, auto.change, auto.improved) == (Trend.up, 1.0, True)
    meeting = rows[("services-meeting-levels", "unhq")]
    assert (meeting.trend, meeting.change, meeting.improved) == (Trend.down, -50.0, False)
    assert rows[("services-meeting-levels", "all")].trend == Trend.flat
    assert rows[("services-meeting-levels", "unov")].trend == Trend.none

    assert [s.id for s in meeting.counted] == ["unhq-erp"]
    assert [s.id for s in meeting.in_scope] == ["unhq-erp", "unhq-mail"]
    (mail,) = meeting.not_counted
    assert mail.name == estate.BOLD_NAME
    assert mail.reasons[0] == "met its SLA in 0 of 1 SLA periods; not in 2013-05 (availability from unhq)"
    assert mail.reasons[1].startswith("not observed in 2012-01, 2012-02")  # its other 23 months
    unog = rows[("services-meeting-levels", "unog")]
    assert dict((n.id, n.reasons) for n in unog.not_counted) == {
        "unog-files": ["not monitored in the period"],
        "unog-wiki": ["lifecycle is pipeline, not production"],
    }
    iso = rows[("iso-aligned-services", "unog")]
    portal = next(n for n in iso.not_counted if n.id == "unog-portal")
    assert portal.reasons[0].startswith("clause 8.3.3 last reviewed 2012-01-01")


def test_sla_tables_with_breaches_and_exclusions_of_the_period(report):
    unhq = report.offices[0]
    services = {s.id: s for s in unhq.services}
    mail = services["unhq-mail"]
    assert mail.met is False and mail.tier == "bronze"
    (v,) = mail.vantages
    assert (v.vantage, v.observed_minutes, v.good_minutes, v.excluded_minutes) == ("unhq", 98, 93, 2)
    (availability,) = v.objectives
    assert availability.target_percent == 99.0
    assert availability.actual_percent == pytest.approx(100 * 93 / 98)
    assert v.budget_minutes == pytest.approx(0.98)
    assert v.remaining_minutes == pytest.approx(0.98 - 5)
    (breach,) = mail.breaches
    assert (breach.period, breach.measure_percent, breach.target_percent, breach.unit) == (
        "2013-05", pytest.approx(93.0), 99.0, "percent")
    assert breach.resolved_at is not None
    (exclusion,) = mail.exclusions
    assert (exclusion.reason, exclusion.approver) == (estate.EXCLUSION_REASON, "Chief, ICT operations")
    assert services["unhq-erp"].met is True
    # the 2011 breach (left open) and exclusion of unog-portal belong to the previous biennium
    portal = next(s for s in report.offices[1].services if s.id == "unog-portal")
    assert portal.breaches == [] and portal.exclusions == [] and portal.met is True


def test_an_office_report_has_no_total(filled):
    store, cat = filled
    r = build_report(store, cat, "2013-05", estate.NOW, offices=["unhq"])
    assert [s.office for s in r.offices] == ["unhq"] and r.total is None
    assert r.previous_period == "2013-04" and r.period_kind == "month"
    mail = next(s for s in r.offices[0].services if s.id == "unhq-mail")
    assert len(mail.breaches) == 1 and mail.vantages[0].observed_minutes == 98
    rolling = build_report(store, cat, "rolling-30d", estate.NOW, offices=["unog"])
    assert (rolling.period, rolling.previous_period, rolling.closed) == ("rolling-30d", "previous-30d", False)
    assert "Indicators of achievement, the 30 days to 2014-02-01 00:00 UTC" in render(rolling, "md")
    with pytest.raises(PeriodError):
        build_report(store, cat, "2013-13", estate.NOW)


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_escaped_self_contained_and_parses(report):
    html = render(report, "html")
    parser = _Collect()
    parser.feed(html)
    parser.close()
    assert "<b>bold" not in html  # the service name's <b> stays text
    assert "Mail &lt;b&gt;bold&lt;/b&gt; &amp; co" in html
    text = "".join(parser.text)
    assert estate.BOLD_NAME in text and estate.EXCLUSION_REASON in text
    assert "script" not in parser.tags and "link" not in parser.tags
    assert all(link.startswith("#") for link in parser.links)  # no external asset
    assert "Indicators of achievement, biennium 2012-2013" in text
    assert "Total, all offices" in text and "2010-2011" in text


def test_markdown_has_the_baseline_target_actual_table(report):
    md = render(report, "md")
    assert "| Office | Baseline | Target | Actual | 2010-2011 | Change | Target met |" in md
    assert ("| New York (unhq) | 90.0 % | 95.0 % | **50.0 %** (1 of 2 service-periods) | 100.0 % "
            "| \u25bc \u221250.0 pts | not met |") in md
    assert ("| **Total, all offices** | 70.0 % | 85.0 % | **66.7 %** (2 of 3 service-periods) | 66.7 % "
            "| \u25b6 0 | not met |") in md
    assert "| Mail &lt;b&gt;bold&lt;/b&gt; &amp; co (`unhq-mail`) | 0 of 1 | 2013-05 |" in md
    assert "Mail &lt;b&gt;bold&lt;/b&gt; &amp; co" in md and "<b>" not in md
    assert "| Availability | unhq | 2013-05 |" in md  # the breach


def test_csv_tables_parse_with_the_documented_headers(report):
    indicators = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert list(indicators[0]) == INDICATOR_COLUMNS
    assert len(indicators) == 3 * 5
    unog = next(r for r in indicators if r["office"] == "unog" and r["indicator"] == "automated-services")
    assert (unog["baseline"], unog["target"], unog["actual"], unog["previous"], unog["change"]) == ("1", "3", "2", "1", "1")
    assert (unog["target_met"], unog["trend"], unog["counted_services"]) == ("false", "up", "unog-files unog-portal")
    total = next(r for r in indicators if r["office"] == "all" and r["indicator"] == "services-meeting-levels")
    assert float(total["actual"]) == pytest.approx(200 / 3, abs=1e-3) and total["in_scope"] == "3"

    services = list(csv.DictReader(io.StringIO(render(report, "csv", table="services"))))
    assert list(services[0]) == SERVICE_COLUMNS
    mail = next(r for r in services if r["service"] == "unhq-mail" and r["indicator"] == "services-meeting-levels"
                and r["office"] == "unhq")
    assert (mail["counted"], mail["in_scope"], mail["service_name"]) == ("false", "true", estate.BOLD_NAME)

    sla = list(csv.DictReader(io.StringIO(render(report, "csv", table="sla"))))
    assert list(sla[0]) == SLA_COLUMNS
    row = next(r for r in sla if r["service"] == "unhq-mail")
    assert (row["objective"], row["observed_minutes"], row["excluded_minutes"], row["breaches"]) == (
        "availability", "98", "2", "1")


def test_json_round_trips_with_stable_keys(report):
    text = render(report, "json")
    doc = json.loads(text)
    assert doc == report.to_dict()
    assert Report.from_dict(doc) == report
    assert json.dumps(doc, indent=2, ensure_ascii=False) + "\n" == text
    assert doc["schema"] == SCHEMA
    assert list(doc) == ["schema", "period", "period_kind", "start", "end", "closed", "previous_period",
                         "biennium", "generated_at", "offices", "total", "counts_from", "previous_counts_from",
                         "final", "has_measurements", "counts_commit", "previous_counts_commit",
                         "previous_on_record", "sealed_note"]
    assert (doc["counts_from"], doc["previous_counts_from"]) == ("revisions", "revisions")
    assert doc["generated_at"] == "2014-02-01T00:00:00Z"
    first = doc["offices"][0]["indicators"][0]
    assert {"baseline", "target", "actual", "previous", "trend", "target_met", "counted", "not_counted"} <= set(first)


@pytest.mark.integration
def test_postgresql_gives_the_same_report(report, pg_url):
    store = Store.open(pg_url)
    try:
        cat = estate.catalogue()
        estate.fill(store, cat)
        on_pg = build_report(store, cat, "2012-2013", estate.NOW)
    finally:
        store.close()
    assert on_pg.to_dict() == report.to_dict()
