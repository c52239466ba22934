"""Two daemons probing the same service from the same vantage in the same minutes (two
holders of one shard, e.g. across a network partition): the SLA counts each minute once,
and the store says in how many minutes two daemons probed at the same time. Real store, both backends; the
numbers are counted by hand."""

from __future__ import annotations

import pytest

from slamon.assess import assess_period
from slamon.store import Store
from slamon.store.writer import catalogue_thresholds
from tests import store_support
from tests.exporters_estate import catalogue as estate_catalogue
from tests.exporters_estate import service
from tests.store_support import result, utc

db_url, pg_url, sqlite_url = store_support.db_url, store_support.pg_url, store_support.sqlite_url

NOW = utc(2026, 11, 2, 12, 0)
HOUR = utc(2026, 11, 2, 10, 0)


def minutes(count: int, second: int, bad=()) -> list:
    return [
        result((HOUR.timestamp() + 60 * i + second), success=i not in bad, service="unog-a", probe="web")
        for i in range(count)
    ]


@pytest.fixture
def stores(db_url):
    one, two = Store.open(db_url), Store.open(db_url)
    one.identity, two.identity = "host-a/101", "host-b/202"
    yield one, two
    one.close()
    two.close()


def test_a_minute_probed_by_two_daemons_counts_once(stores):
    one, two = stores
    cat = estate_catalogue([service("unog-a")])
    thresholds = catalogue_thresholds(lambda: cat)
    one.write_results(minutes(60, 5, bad=range(10, 15)), thresholds)  # the rightful holder
    single = assess_period(one, cat, "2026-11", NOW, service_ids=["unog-a"]).measures[("unog-a", "unog")]
    assert (single.observed_minutes, single.good_minutes) == (60, 55)

    # the old holder kept probing minutes 0..29 as well (30 s later in each minute)
    two.write_results(minutes(30, 35, bad={20}), thresholds)
    both = assess_period(one, cat, "2026-11", NOW, service_ids=["unog-a"]).measures[("unog-a", "unog")]
    # by hand: 60 distinct minutes observed, not 90; a minute is good only if every
    # result in it succeeded: 10..14 (bad at the first daemon) and 20 (bad at the second)
    assert both.observed_minutes == 60
    assert both.good_minutes == 60 - 5 - 1
    assert both.objectives["availability"].actual == pytest.approx(54 / 60)
    assert both.unobserved_minutes == single.unobserved_minutes  # nothing observed twice over

    start, end = HOUR.timestamp(), HOUR.timestamp() + 3600
    assert one.duplicate_minutes(start, end) == 30
    assert one.duplicate_minutes(start + 30 * 60, end) == 0  # the second half: one daemon only
    assert one.duplicate_minutes(start, end, counted_from=start + 29 * 60) == 1  # as the daemon checks
    assert one.duplicate_minutes(start, start + 60) == 0  # one result each: no span to overlap
    with one.engine.connect() as conn:  # every raw row says who probed it
        written = conn.exec_driver_sql("SELECT daemon, count(*) FROM probe_result GROUP BY daemon").fetchall()
    assert sorted(written) == [("host-a/101", 60), ("host-b/202", 30)]


def test_a_handover_inside_a_minute_is_no_duplicate(stores):
    """The old holder's last result and the new holder's first share a minute: that is a
    takeover, not two daemons probing at once; the minute still counts once."""
    one, two = stores
    one.write_results(minutes(10, 5))  # minutes 0..9 at :05
    two.write_results([r for r in minutes(20, 35) if r.started_at > HOUR.timestamp() + 9 * 60])  # 9..19 at :35
    assert one.duplicate_minutes(HOUR.timestamp(), HOUR.timestamp() + 3600) == 0
    cat = estate_catalogue([service("unog-a")])
    m = assess_period(one, cat, "2026-11", NOW, service_ids=["unog-a"]).measures[("unog-a", "unog")]
    assert (m.observed_minutes, m.good_minutes) == (20, 20)


def test_one_daemon_writing_twice_in_a_minute_is_no_duplicate(stores):
    one, _ = stores
    one.write_results(minutes(10, 5) + minutes(10, 40))  # e.g. a 30 s interval
    assert one.duplicate_minutes(HOUR.timestamp(), HOUR.timestamp() + 3600) == 0


def test_results_without_identity_are_never_duplicates(stores):
    one, two = stores
    one.identity = two.identity = None  # tools and rows written before the column existed
    one.write_results(minutes(5, 5))
    two.write_results(minutes(5, 35))
    assert one.duplicate_minutes(HOUR.timestamp(), HOUR.timestamp() + 3600) == 0
    assert one.results(HOUR, NOW)[0].service_id == "unog-a"
