"""Schema migrations: an upgrade from the first revision keeps the data, and the
migrations build exactly the schema the table models describe."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import create_engine, insert, text
from sqlalchemy.exc import DBAPIError

from slamon.store import Store, migrate
from slamon.store.codec import canonical_service
from slamon.store.tables import METADATA
from tests import store_support
from tests.store_support import example_service, result, utc

# fixtures
db_url, pg_url, sqlite_url = store_support.db_url, store_support.pg_url, store_support.sqlite_url

FIRST = "0001"


def test_upgrade_from_the_first_revision_keeps_the_data(db_url, tmp_path):
    if db_url.startswith("sqlite"):
        (tmp_path / "store").mkdir(exist_ok=True)
    engine = create_engine(db_url)
    try:
        migrate.upgrade(engine, FIRST)
        assert migrate.current_revision(engine) == FIRST
        t = METADATA.tables
        body, digest = canonical_service(example_service())
        day = dt.date(2026, 1, 5)
        with engine.begin() as conn:  # rows as the first schema takes them
            conn.execute(insert(t["probe_result"]), [
                {"vantage": "unog", "service_id": "unog-email", "probe_id": "webmail", "kind": "http",
                 "started_at": 1.0e9, "success": True, "reason": None, "duration_seconds": 0.2,
                 "status_code": 200, "phases": "0.001,,,,"},
            ])
            # day rollups in the codec before v1 (revision 0005 rewrites them): 180-byte
            # big-endian bitmaps; counts empty, 1,440 bytes, or a big-endian first minute
            # and a span; good counts "=" when equal to the total
            full = ((1 << 1440) - 1).to_bytes(180, "big")
            conn.execute(insert(t["day_rollup"]), [
                {"vantage": "unog", "service_id": "unog-email", "day": day, "observed": (5).to_bytes(180, "big"),
                 "good": (4).to_bytes(180, "big"), "fast": bytes(180), "steps_ok": bytes(180),
                 "total_counts": b"", "good_counts": b"="},
                {"vantage": "unog", "service_id": "unog-email", "day": day + dt.timedelta(days=1), "observed": full,
                 "good": full, "fast": full, "steps_ok": full,
                 "total_counts": (300).to_bytes(2, "big") + b"\x02\x00\x01", "good_counts": b"="},
                {"vantage": "unog", "service_id": "unog-email", "day": day + dt.timedelta(days=2), "observed": full,
                 "good": (1 << 7).to_bytes(180, "big"), "fast": full, "steps_ok": full,
                 "total_counts": b"\x01" * 1440, "good_counts": (7).to_bytes(2, "big") + b"\x01"},
            ])
            conn.execute(insert(t["service_revision"]), [
                {"service_id": "unog-email", "office": "unog", "content_hash": digest, "body": body,
                 "valid_from": utc(2026, 1, 1), "valid_to": None},
            ])
            conn.execute(insert(t["period_record"]), [
                {"service_id": "unog-email", "vantage": "unog", "period": "2025-12", "objective": "availability",
                 "period_start": utc(2025, 11, 30, 23), "period_end": utc(2025, 12, 31, 23),
                 "measure": 99.9, "target": 99.5, "met": True, "eligible_seconds": 10.0,
                 "observed_seconds": 10.0, "good_seconds": 9.99, "excluded_seconds": 0.0,
                 "maintenance_seconds": 0.0, "recorded_at": utc(2026, 1, 1)},
            ])
    finally:
        engine.dispose()

    store = Store.open(db_url)  # upgrades to head
    try:
        assert migrate.current_revision(store.engine) == migrate.head_revision() != FIRST
        (raw,) = store.results(0, 2e9)
        assert raw.outcome.phases == {"resolve": 0.001} and raw.outcome.status_code == 200
        roll, full_day, dense = store.rollups("unog-email")
        assert (roll.day, roll.observed, roll.good, roll.total_counts) == (day, 5, 4, bytes(1440))
        everything = (1 << 1440) - 1
        assert (full_day.observed, full_day.good, full_day.fast, full_day.steps_ok) == (everything,) * 4
        assert full_day.total_counts == full_day.good_counts == bytes(300) + b"\x02\x00\x01" + bytes(1137)
        assert dense.good == 1 << 7 and dense.total_counts == b"\x01" * 1440
        assert dense.good_counts == bytes(7) + b"\x01" + bytes(1432)
        # rewritten in codec v1: a version byte first, little-endian
        with store.engine.connect() as conn:
            blobs = conn.execute(text("SELECT observed, good, total_counts, good_counts FROM day_rollup ORDER BY day")).all()
        assert [bytes(b) for b in blobs[0]] == [b"\x01\x05", b"\x01\x04", b"\x01", b"\x12"]
        assert [bytes(b) for b in blobs[1]] == [b"\x11", b"\x11", b"\x01\x2c\x01\x02\x00\x01", b"\x12"]
        assert store.services_at(utc(2026, 2, 1)) == [example_service()]
        (rec,) = store.period_records()
        assert rec.measure == 99.9 and rec.period_start == utc(2025, 11, 30, 23)
        # what the later revision adds is in force on the old rows
        with pytest.raises(DBAPIError, match="written once"), store.engine.begin() as conn:
            conn.execute(text("UPDATE period_record SET measure = 100"))
        store.write_results([result(2e9)], None)
    finally:
        store.close()


def test_migrations_match_the_table_models(db_url):
    store = Store.open(db_url)
    try:
        assert migrate.schema_differences(store.engine) == []
    finally:
        store.close()


def test_opening_again_is_a_no_op(sqlite_url):
    Store.open(sqlite_url).close()
    store = Store.open(sqlite_url)
    assert migrate.current_revision(store.engine) == migrate.head_revision()
    store.close()


def test_processes_opening_a_new_store_together_create_it_once(db_url):
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: Store.open(db_url), range(4)))
    try:
        assert all(migrate.current_revision(s.engine) == migrate.head_revision() for s in stores)
    finally:
        for s in stores:
            s.close()


def test_the_newest_script_is_alembic_head():
    """``Store.open`` skips alembic when the schema is at the newest script (read from the
    file names, without importing alembic): that must be alembic's own head."""
    assert migrate.newest_script() == migrate.head_revision() == "0006"
