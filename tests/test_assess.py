"""slamon.assess against a real store (SQLite, and PostgreSQL when configured), with
numbers worked out by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from slamon.assess import assess_indicators, assess_period
from slamon.core.model import IndicatorId
from slamon.core.sla.periods import PeriodError
from slamon.store import Store
from slamon.store.writer import catalogue_thresholds
from tests import store_support
from tests.exporters_estate import catalogue as estate_catalogue
from tests.exporters_estate import http, service
from tests.store_support import result, utc

db_url, pg_url, sqlite_url = store_support.db_url, store_support.pg_url, store_support.sqlite_url

NOW = utc(2026, 11, 2, 12, 0)
# 2026-11 in Europe/Zurich starts 2026-10-31T23:00Z; to NOW: 37 hours of minutes
WINDOW_MINUTES = 37 * 60


def _catalogue(b_sla: dict | None = None):
    services = [
        service("unog-a"),  # gold: 99.9 %, latency 1 s for 90 %
        service("unog-b", tier="bronze", sla=b_sla),  # bronze: 99.0 %
        service("unog-c", probes=[http("web", **{"from": ["unog", "unhq"]})]),  # never observed
        service("unog-d"),  # all good
        service("unhq-x"),  # another office
    ]
    return estate_catalogue(services)


def _minutes(sid: str, start: dt.datetime, count: int, bad=(), slow=()):
    out = []
    for i in range(count):
        at = (start + dt.timedelta(minutes=i, seconds=5)).timestamp()
        out.append(result(at, success=i not in bad, duration=2.0 if i in slow else 0.1, service=sid, probe="web"))
    return out


@pytest.fixture
def store(db_url):
    s = Store.open(db_url)
    yield s
    s.close()


def _fill(store: Store, catalogue) -> None:
    thresholds = catalogue_thresholds(lambda: catalogue)
    results = (
        _minutes("unog-a", utc(2026, 11, 2, 10, 0), 60, bad=range(10, 15), slow={20})
        + _minutes("unog-b", utc(2026, 11, 1, 9, 0), 60)
        + _minutes("unog-b", utc(2026, 11, 2, 9, 0), 60, bad={30})
        + _minutes("unog-d", utc(2026, 11, 2, 9, 0), 30)
    )
    store.write_results(results, thresholds)
    store.add_exclusion(
        "unog-a", utc(2026, 11, 2, 10, 10), utc(2026, 11, 2, 10, 12), "power works", "Chief ICT", NOW
    )


def test_measures_from_the_store_match_the_hand_count(store):
    cat = _catalogue()
    _fill(store, cat)
    a = assess_period(store, cat, "2026-11", NOW, offices=["unog"])
    assert set(a.levels) == {"unog-a", "unog-b", "unog-c", "unog-d"}  # unhq-x is another office

    m = a.measures[("unog-a", "unog")]
    assert m.period.start == utc(2026, 10, 31, 23, 0)
    assert m.window_minutes == WINDOW_MINUTES
    assert m.excluded_minutes == 2
    assert m.eligible_minutes == WINDOW_MINUTES - 2
    assert (m.observed_minutes, m.good_minutes, m.fast_minutes) == (58, 55, 54)
    assert m.unobserved_minutes == WINDOW_MINUTES - 2 - 58
    assert m.objectives["availability"].actual == pytest.approx(55 / 58)
    assert m.objectives["availability"].met is False
    assert m.objectives["latency"].actual == pytest.approx(54 / 58)
    assert m.budget_seconds == pytest.approx(0.001 * 58 * 60)
    assert m.consumed_seconds == pytest.approx(3 * 60)
    assert [e.reason for e in a.exclusions["unog-a"]] == ["power works"]

    d = a.levels["unog-d"]
    assert d.met is True and d.per_vantage[0].observed_minutes == 30

    c = a.levels["unog-c"]
    assert [x.vantage for x in c.per_vantage] == ["unhq", "unog"]
    assert c.met is None and not c.monitored

    verdicts = a.verdicts.of("unog-a")
    assert verdicts["unog"].verdict.value == "not_met"
    assert set(verdicts["unog"].failed_objectives) == {"availability"}


def test_target_changes_from_revisions_take_effect_from_their_date(store):
    old = _catalogue()
    new = _catalogue(b_sla={"availability": 99.5, "effective": "2026-11-02"})
    _fill(store, new)
    # without revisions the store never saw the old version: the new targets (99.5)
    # still apply only from their date; before it, the tier's own (bronze: 99.0)
    a = assess_period(store, new, "2026-11", NOW, service_ids=["unog-b"])
    mb = a.measures[("unog-b", "unog")]
    assert [p.sla.availability for p in mb.parts] == [99.0, 99.5]
    assert mb.parts[1].start == utc(2026, 11, 1, 23, 0)
    assert mb.objectives["availability"].allowed_bad == pytest.approx(0.6 + 0.3)
    store.record_catalogue(old, utc(2026, 10, 1))
    store.record_catalogue(new, utc(2026, 11, 1, 12))
    a = assess_period(store, new, "2026-11", NOW, service_ids=["unog-b"])
    mb = a.measures[("unog-b", "unog")]
    # 99.0 % until local midnight of 2026-11-02 (23:00Z on 11-01), then 99.5 %
    assert [p.sla.availability for p in mb.parts] == [99.0, 99.5]
    assert mb.parts[1].start == utc(2026, 11, 1, 23, 0)
    assert (mb.parts[0].observed, mb.parts[0].good) == (60, 60)
    assert (mb.parts[1].observed, mb.parts[1].good) == (60, 59)
    avail = mb.objectives["availability"]
    assert avail.target == 99.5
    assert avail.allowed_bad == pytest.approx(0.6 + 0.3)  # 1 bad minute > 0.9 allowed
    assert avail.met is False


def test_current_period_and_bad_labels(store):
    cat = _catalogue()
    _fill(store, cat)
    a = assess_period(store, cat, "current", NOW, service_ids=["unog-a", "unhq-x"])
    assert a.windows["unog-a"].label == "2026-11"
    assert a.windows["unhq-x"].start == utc(2026, 11, 1, 4, 0)  # New York midnight (EDT)
    q = assess_period(store, cat, "2026-Q4", NOW, service_ids=["unog-a"])
    assert q.measures[("unog-a", "unog")].observed_minutes == 58
    rolling = assess_period(store, cat, "rolling-30d", NOW, service_ids=["unog-a"])
    assert rolling.measures[("unog-a", "unog")].observed_minutes == 58
    assert rolling.measures[("unog-a", "unog")].window_minutes == 30 * 1440
    with pytest.raises(PeriodError):
        assess_period(store, cat, "2026-13", NOW)
    only_unhq = assess_period(store, cat, "2026-11", NOW, service_ids=["unog-c"], vantages=["unhq"])
    assert [m.vantage for m in only_unhq.of("unog-c")] == ["unhq"]


def test_indicators_use_the_catalogue_at_the_period_end(store):
    cat = _catalogue()
    _fill(store, cat)
    values = assess_indicators(store, "2026-2027", NOW, catalogue=cat)
    unog = {v.indicator: v for v in values if v.office == "unog"}
    meeting = unog[IndicatorId.services_meeting_levels]
    # a misses; b meets 99.0 % (1 bad minute of 120); c unmonitored (out of the denominator); d meets
    assert meeting.eligible == ["unog-a", "unog-b", "unog-d"]
    assert meeting.counted == ["unog-b", "unog-d"]
    assert meeting.value == pytest.approx(200 / 3)
    assert meeting.biennium == "2026-2027"
    # the store's revisions win: at NOW the catalogue held only unog-a and unog-d
    store.record_catalogue([cat.services["unog-a"], cat.services["unog-d"]], utc(2026, 10, 1))
    values = assess_indicators(store, "2026-2027", NOW, catalogue=cat)
    meeting = next(v for v in values if v.office == "unog" and v.indicator == IndicatorId.services_meeting_levels)
    assert meeting.eligible == ["unog-a", "unog-d"]
    assert meeting.value == pytest.approx(50.0)
    auto = next(v for v in values if v.office == "all" and v.indicator == IndicatorId.automated_services)
    assert auto.value == 2.0
