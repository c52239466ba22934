"""The store's query API, the same test body against SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from slamon.core.sla.rollup import DayRollup
from slamon.store import PeriodRecordExists, PeriodRecordRow, Store, StoreError, StoreUnavailable
from tests import store_support
from tests.store_support import example_service, result, utc

# fixtures
db_url, pg_url, sqlite_url = store_support.db_url, store_support.pg_url, store_support.sqlite_url

T0 = utc(2026, 11, 2, 23, 58).timestamp()


def thresholds(service_id: str):
    return (0.5, None)


def sample_results():
    # 6 minutes across midnight UTC, two vantages, one failure, one slow
    out = []
    for i in range(12):
        out.append(result(T0 + i * 30, success=(i != 3), duration=0.9 if i == 7 else 0.1))
    out.append(result(T0 + 15, vantage="unhq"))
    return out


def fingerprint(store: Store) -> dict:
    """Everything a report reads, as plain values (to compare backends)."""
    rollups = store.rollups("unog-email", start_day=dt.date(2026, 11, 1), end_day=dt.date(2026, 11, 30))
    raw = store.results(T0 - 60, T0 + 3600, service_id="unog-email", limit=100)
    return {
        "rollups": [(r.vantage, r.day, r.observed, r.good, r.fast, r.total_counts, r.good_counts) for r in rollups],
        "raw": [(r.vantage, r.started_at, r.success, r.outcome.reason, r.outcome.phases) for r in raw],
    }


def test_results_and_rollups_round_trip(db_url):
    store = Store.open(db_url)
    try:
        results = sample_results()
        assert store.write_results(results[:5], thresholds) == 5
        assert store.write_results(results[5:], thresholds) == 8  # second batch merges rollups
        rollups = store.rollups("unog-email", vantage="unog")
        assert [r.day for r in rollups] == [dt.date(2026, 11, 2), dt.date(2026, 11, 3)]
        d2, d3 = rollups
        assert d2.observed == 0b11 << 1438 and d2.good == 1 << 1438 and d2.fast == d2.good
        assert d3.observed == 0b1111 and d3.good == 0b1111 and d3.fast == 0b1101
        assert sum(d2.total_counts) + sum(d3.total_counts) == 12
        assert [r.vantage for r in store.rollups("unog-email")] == ["unhq", "unog", "unog"]
        assert store.rollups("unog-email", start_day=dt.date(2026, 11, 3)) == [d3]
        (bits_only,) = store.rollups_between(dt.date(2026, 11, 3), None, vantage="unog", with_counts=False)
        assert bits_only.good == d3.good and bits_only.total_counts == bytes(1440)
        assert len(list(store.rollups_between(None, None))) == 3
        raw = store.results(T0, T0 + 60, limit=10)
        assert [r.started_at for r in raw] == [T0, T0 + 15, T0 + 30]
        assert raw[0] == results[0]  # phases, reason, status survive the trip
        assert store.results(T0, T0 + 3600, limit=2, vantage="unog")[1].started_at == T0 + 30
        assert len(store.results(utc(2026, 11, 2), utc(2026, 11, 4), limit=1000)) == 13
    finally:
        store.close()


def test_sqlite_and_postgresql_give_identical_answers(sqlite_url, pg_url):
    prints = []
    for url in (sqlite_url, pg_url):
        store = Store.open(url)
        try:
            store.write_results(sample_results()[:7], thresholds)
            store.write_results(sample_results()[7:], thresholds)
            prints.append(fingerprint(store))
        finally:
            store.close()
    assert prints[0]["rollups"] and prints[0] == prints[1]


def test_period_records_are_written_once(db_url):
    store = Store.open(db_url)
    try:
        rec = PeriodRecordRow(
            service_id="unog-email",
            vantage="unog",
            period="2026-10",
            objective="availability",
            period_start=utc(2026, 9, 30, 22),
            period_end=utc(2026, 10, 31, 23),
            measure=99.95,
            target=99.9,
            met=True,
            eligible_seconds=2_000_000.0,
            observed_seconds=1_990_000.0,
            good_seconds=1_989_005.0,
            recorded_at=utc(2026, 11, 1, 0, 5),
        )
        store.write_period_record(rec)
        again = rec.model_copy(update={"measure": 100.0})
        with pytest.raises(PeriodRecordExists):
            store.write_period_record(again)
        (kept,) = store.period_records(service_id="unog-email")
        assert kept.measure == 99.95 and kept.period_start == utc(2026, 9, 30, 22)
        # the database itself refuses a rewrite or a delete
        for sql in ("UPDATE period_record SET measure = 100", "DELETE FROM period_record"):
            with pytest.raises(DBAPIError, match="written once"), store.engine.begin() as conn:
                conn.execute(text(sql))
        assert store.period_records(period="2026-10")[0].measure == 99.95
    finally:
        store.close()


def test_revisions_reproduce_the_catalogue_at_a_past_date(db_url):
    store = Store.open(db_url)
    try:
        v1 = example_service()
        other = example_service(id="unog-wiki", name="Wiki")
        first = store.record_catalogue([v1, other], at=utc(2026, 1, 1))
        assert first.added == ("unog-email", "unog-wiki")
        assert store.record_catalogue([v1, other], at=utc(2026, 2, 1)).added == ()  # unchanged: no revision
        v2 = example_service(lifecycle="deprecated")
        changes = store.record_catalogue([v2], at=utc(2026, 3, 1))
        assert changes.changed == ("unog-email",) and changes.removed == ("unog-wiki",)
        assert len(store.revisions("unog-email")) == 2

        assert store.services_at(utc(2025, 12, 31)) == []
        at_feb = store.services_at(utc(2026, 2, 15))
        assert at_feb == [v1, other]  # read back equal to the validated models, durations included
        assert [s.lifecycle.value for s in store.services_at(utc(2026, 3, 1))] == ["deprecated"]
        assert store.known_service_ids() == {"unog-email", "unog-wiki"}
    finally:
        store.close()


def test_exclusions_and_breaches(db_url):
    store = Store.open(db_url)
    try:
        ex = store.add_exclusion(
            "unog-email", utc(2026, 5, 9, 20), utc(2026, 5, 10, 2), "vendor outage", "CIO", utc(2026, 5, 11)
        )
        store.add_exclusion("unog-email", utc(2026, 6, 1), utc(2026, 6, 2), "x", "y", utc(2026, 6, 3), vantage="unhq")
        with pytest.raises(ValueError, match="end after"):
            store.add_exclusion("unog-email", utc(2026, 6, 2), utc(2026, 6, 1), "x", "y", utc(2026, 6, 3))
        may = store.exclusions("unog-email", start=utc(2026, 5, 1), end=utc(2026, 6, 1))
        assert [e.id for e in may] == [ex.id] and may[0].starts_at == utc(2026, 5, 9, 20)
        assert len(store.exclusions(vantage="unog")) == 1 and len(store.exclusions(vantage="unhq")) == 2
        assert store.delete_exclusion(ex.id) and not store.delete_exclusion(ex.id)

        b = store.open_breach("unog-email", "unog", "availability", "2026-11", utc(2026, 11, 5), 99.1, 99.9)
        same = store.open_breach("unog-email", "unog", "availability", "2026-11", utc(2026, 11, 6), 98.0, 99.9)
        assert same.id == b.id and same.measure == 99.1
        assert [x.id for x in store.breaches(open_only=True)] == [b.id]
        done = store.resolve_breach("unog-email", "unog", "availability", "2026-11", utc(2026, 11, 30), 99.95)
        assert done is not None and done.resolved_at == utc(2026, 11, 30) and done.measure == 99.95
        assert store.breaches(open_only=True) == [] and len(store.breaches("unog-email")) == 1
        assert store.resolve_breach("unog-email", "unog", "availability", "2026-11", utc(2026, 12, 1)) is None
        assert store.breaches(since=utc(2026, 12, 1)) == []
    finally:
        store.close()


def test_retention_purge_deletes_old_raw_results_in_chunks(db_url):
    store = Store.open(db_url)
    try:
        old = [result(T0 - 40 * 86400 + i) for i in range(25)]
        new = [result(T0 + i) for i in range(5)]
        store.write_results(old + new, thresholds)
        cutoff = T0 - 35 * 86400
        assert store.purge_results(cutoff, chunk_rows=10) == 10
        assert store.purge_results(cutoff, chunk_rows=10) == 10
        assert store.purge_results(cutoff, chunk_rows=10) == 5
        assert store.purge_results(cutoff, chunk_rows=10) == 0
        assert store.count_results() == 5
        # rollups are kept for good
        old_day = dt.datetime.fromtimestamp(T0 - 40 * 86400, dt.UTC).date()
        (r,) = store.rollups("unog-email", start_day=old_day, end_day=old_day)
        assert isinstance(r, DayRollup) and r.observed
    finally:
        store.close()


def test_open_errors_are_clear(tmp_path):
    with pytest.raises(StoreError, match="unsupported database"):
        Store.open("mysql://x@localhost/db")
    with pytest.raises(StoreError, match="SQLite file"):
        Store.open("sqlite://")
    with pytest.raises(StoreUnavailable, match=r"cannot open the store at postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/db"):
        Store.open("postgresql+psycopg://u:secret@127.0.0.1:1/db", connect_timeout_seconds=1)
    store = Store.open(f"sqlite:///{tmp_path}/deep/er/slamon.db")  # the directory is created
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    store.close()
