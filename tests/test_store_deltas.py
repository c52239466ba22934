"""Rollup deltas: write batches append what they add to a day; the answers never
depend on whether (or when) the deltas were merged into the day rollups."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import create_engine, insert

from slamon.core.sla.rollup import DayRollup, RollupBuilder
from slamon.store import Store, migrate
from slamon.store.tables import METADATA
from tests import store_support
from tests.store_support import result, utc

# fixtures
db_url, pg_url, sqlite_url = store_support.db_url, store_support.pg_url, store_support.sqlite_url

T0 = utc(2026, 11, 2, 23, 50).timestamp()  # batches cross midnight UTC
SERVICES = ("unog-email", "unog-web", "unhq-erp")


def thresholds(service_id: str):
    return (0.5, 2.0) if service_id != "unhq-erp" else (None, None)


def random_results(seed: int, n: int) -> list:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = "journey" if i % 5 == 0 else "http"
        out.append(
            result(
                T0 + i * 7 + rng.random(),
                success=rng.random() > 0.1,
                duration=rng.choice((0.1, 0.2, 0.9)),
                service=rng.choice(SERVICES),
                vantage=rng.choice(("unog", "unhq")),
                kind=kind,
                steps=(rng.choice((0.5, 3.0)),) if kind == "journey" else (),
            )
        )
    return out


def reference(results) -> list[tuple]:
    """What one builder folding every result gives, as the store orders rollups."""
    b = RollupBuilder()
    for r in results:
        b.add(r, *thresholds(r.service_id))
    return sorted((shape(r) for r in b.rollups()), key=lambda t: (t[1], t[0], t[2]))


def shape(r: DayRollup) -> tuple:
    return (r.vantage, r.service_id, r.day, r.observed, r.good, r.fast, r.steps_ok, r.total_counts, r.good_counts)


def answers(store: Store) -> dict:
    first, last = dt.date(2026, 11, 2), dt.date(2026, 11, 3)
    return {
        "all": [shape(r) for r in store.rollups_between(None, None)],
        "bits": [shape(r) for r in store.rollups_between(first, last, with_counts=False)],
        "one": [shape(r) for r in store.rollups("unog-web", vantage="unhq")],
        "day": [shape(r) for r in store.rollups_between(last, last, service_ids=["unog-email", "unhq-erp"])],
    }


def test_reads_add_pending_deltas_and_merging_changes_no_answer(db_url):
    results = random_results(1, 600)
    store = Store.open(db_url)
    try:
        store.merge_after_deltas = 10**9  # nothing merged by the writes themselves
        store.merge_rollups([DayRollup("unog", "unog-email", dt.date(2026, 11, 2), observed=1, good=1, fast=1, steps_ok=1,
                                       total_counts=b"\x01" + bytes(1439), good_counts=b"\x01" + bytes(1439))])  # fmt: skip
        for i in range(0, len(results), 37):
            store.write_results(results[i : i + 37], thresholds)
        pending = answers(store)
        assert store.merge_pending_rollups() > 0
        assert store.merge_pending_rollups() == 0
        merged = answers(store)
    finally:
        store.close()
    assert pending == merged
    expected = reference(results)
    # the rollup given before the writes is merged into its day too
    first = next(i for i, r in enumerate(expected) if r[:3] == ("unog", "unog-email", dt.date(2026, 11, 2)))
    v, s, d, observed, good, fast, steps_ok, total, good_n = expected[first]
    expected[first] = (v, s, d, observed | 1, good | 1, fast | 1, steps_ok | 1,
                       bytes([total[0] + 1]) + total[1:], bytes([good_n[0] + 1]) + good_n[1:])  # fmt: skip
    assert merged["all"] == expected
    assert merged["bits"] == [(*r[:7], bytes(1440), bytes(1440)) for r in expected]
    assert merged["one"] == [r for r in expected if r[:2] == ("unhq", "unog-web")]
    assert merged["day"] == [r for r in expected if r[1] in ("unog-email", "unhq-erp") and r[2] == dt.date(2026, 11, 3)]


def test_a_write_merges_once_enough_deltas_are_pending(db_url):
    store = Store.open(db_url)
    try:
        store.merge_after_deltas = 4
        for i in range(3):
            store.write_results([result(T0 + 60 * i)], thresholds)
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM rollup_delta").scalar_one() == 3
        store.write_results([result(T0 + 180)], thresholds)  # the fourth: merged with its batch
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM rollup_delta").scalar_one() == 0
            assert conn.exec_driver_sql("SELECT count(*) FROM day_rollup").scalar_one() == 1
        (r,) = store.rollups("unog-email")
        assert r.observed == 0b1111 << (23 * 60 + 50) and sum(r.total_counts) == 4
    finally:
        store.close()


def test_counts_saturate_across_deltas(db_url):
    store = Store.open(db_url)
    try:
        store.merge_after_deltas = 10**9
        for _ in range(3):
            store.write_results([result(T0 + i / 1000) for i in range(100)], thresholds)
        (pending,) = store.rollups("unog-email")
        store.merge_pending_rollups()
        (merged,) = store.rollups("unog-email")
    finally:
        store.close()
    minute = 23 * 60 + 50
    assert pending == merged
    assert merged.total_counts[minute] == merged.good_counts[minute] == 255


def test_upgrade_from_0002_keeps_the_rollups_and_writes_deltas(db_url, tmp_path):
    if db_url.startswith("sqlite"):
        (tmp_path / "store").mkdir(exist_ok=True)
    engine = create_engine(db_url)
    day = dt.date(2026, 11, 2)
    old = DayRollup("unog", "unog-email", day, observed=1, good=1, fast=1, steps_ok=1,
                    total_counts=b"\x02" + bytes(1439), good_counts=b"\x02" + bytes(1439))  # fmt: skip
    try:
        migrate.upgrade(engine, "0002")
        with engine.begin() as conn:
            # as the codec before v1 wrote it (revision 0005 rewrites it): big-endian
            # 180-byte bitmaps, a big-endian first minute and the span, "=" for equal counts
            one = (1).to_bytes(180, "big")
            conn.execute(insert(METADATA.tables["day_rollup"]), [
                {"vantage": "unog", "service_id": "unog-email", "day": day, "observed": one, "good": one,
                 "fast": one, "steps_ok": one, "total_counts": b"\x00\x00\x02", "good_counts": b"="},
            ])
    finally:
        engine.dispose()
    store = Store.open(db_url)
    try:
        assert migrate.current_revision(store.engine) == migrate.head_revision()
        assert store.rollups("unog-email") == [old]
        store.write_results([result(T0)], thresholds)
        (r,) = store.rollups("unog-email")
        minute = 23 * 60 + 50
        assert r.observed == 1 | 1 << minute and r.total_counts[0] == 2 and r.total_counts[minute] == 1
        store.merge_pending_rollups()
        assert store.rollups("unog-email") == [r]
    finally:
        store.close()


def test_count_arrays_are_stored_compactly_and_read_back_whole():
    from slamon.store.codec import (
        decode_counts,
        decode_good_counts,
        encode_counts,
        encode_good_counts,
    )

    def day(**minutes: int) -> bytes:
        out = bytearray(1440)
        for m, v in minutes.items():
            out[int(m[1:])] = v
        return bytes(out)

    cases = [bytes(1440), day(m0=1), day(m1439=255), day(m5=2, m7=1), day(m0=1, m1439=1), day(m1=1, m1438=3),
             day(m2=1, m1439=1), bytes([1]) * 1440, bytes(range(256)) * 5 + bytes(160)]  # fmt: skip
    for counts in cases:
        stored = encode_counts(counts)
        assert decode_counts(stored) == counts
        assert len(stored) <= 1443 and stored[0] == 1  # codec v1: the version byte first
        assert decode_good_counts(encode_good_counts(counts, counts), counts) == counts
        assert decode_good_counts(encode_good_counts(bytes(1440), counts), counts) == bytes(1440)
    assert encode_counts(bytes(1440)) == b"\x01"
    assert encode_counts(day(m5=2, m7=1)) == b"\x01\x05\x00\x02\x00\x01"  # first minute little-endian, span
    assert encode_counts(day(m300=4)) == b"\x01\x2c\x01\x04"
    assert encode_counts(bytes([1]) * 1440) == b"\x01\x00\x00" + bytes([1]) * 1440  # a dense day
    assert encode_good_counts(day(m3=2), day(m3=2)) == b"\x12"
