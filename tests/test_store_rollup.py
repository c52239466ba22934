"""RollupBuilder: results folded by UTC day and minute; split batches merge to one batch."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from slamon.core.sla.rollup import (
    BITMAP_BYTES,
    MINUTES_PER_DAY,
    DayRollup,
    RollupBuilder,
    bitmap_from_bytes,
    bitmap_to_bytes,
)
from tests.store_support import result, utc

DAY0 = utc(2026, 3, 28).timestamp()  # a weekend of a DST change in Europe: UTC days stay 1440 min


def fold(results, latency=0.5, step=2.0) -> dict[tuple, DayRollup]:
    b = RollupBuilder()
    for r in results:
        b.add(r, latency, step)
    return {(r.vantage, r.service_id, r.day): r for r in b.rollups()}


def test_minutes_and_days_are_utc():
    rs = [
        result(DAY0 + 0.5),  # minute 0 of day 0
        result(DAY0 + 59.9, success=False),  # minute 0, failed
        result(DAY0 + 86400 - 1, duration=0.9),  # minute 1439, slow
        result(DAY0 + 86400 + 60, kind="journey", steps=(0.5, 3.0)),  # day 1 minute 1, step slow
    ]
    got = fold(rs)
    d0 = got[("unog", "unog-email", dt.date(2026, 3, 28))]
    d1 = got[("unog", "unog-email", dt.date(2026, 3, 29))]
    assert d0.observed == 1 | 1 << 1439
    assert d0.good == 1 << 1439  # minute 0 had a failure
    assert d0.fast == 0  # minute 0: the failure is not fast; minute 1439: 0.9 s > 0.5 s
    assert d0.steps_ok == d0.observed
    assert d0.total_counts[0] == 2 and d0.good_counts[0] == 1
    assert d1.observed == 1 << 1 and d1.good == 1 << 1 and d1.steps_ok == 0


def test_no_threshold_means_every_result_is_fast_and_steps_ok():
    b = RollupBuilder()
    b.add(result(DAY0, success=False, duration=9.0, kind="journey", steps=(9.0,)))
    (r,) = b.rollups()
    assert r.fast == r.observed == 1 and r.good == 0 and r.steps_ok == 1


def test_counts_saturate_at_255():
    (r,) = fold([result(DAY0 + i * 0.1) for i in range(300)]).values()
    assert r.total_counts[0] == 255 and r.good_counts[0] == 255 and r.observed == 1


def test_bitmap_bytes_are_180_big_endian():
    assert bitmap_to_bytes(1) == bytes(BITMAP_BYTES - 1) + b"\x01"
    assert bitmap_from_bytes(bitmap_to_bytes((1 << 1440) - 1)) == (1 << 1440) - 1
    assert bitmap_to_bytes(1 << 1439)[0] == 0x80


results_strategy = st.lists(
    st.builds(
        result,
        started_at=st.floats(min_value=DAY0 - 3600, max_value=DAY0 + 2 * 86400, allow_nan=False),
        success=st.booleans(),
        duration=st.sampled_from([0.1, 0.5, 0.6, 3.0]),
        vantage=st.sampled_from(["unog", "unhq"]),
        kind=st.sampled_from(["http", "journey"]),
        steps=st.lists(st.sampled_from([0.5, 2.0, 2.5]), max_size=2).map(tuple),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(results=results_strategy, cuts=st.lists(st.integers(0, 60), max_size=4))
def test_merge_of_split_batches_equals_one_batch(results, cuts):
    whole = fold(results)
    bounds = sorted({0, len(results), *(min(c, len(results)) for c in cuts)})
    merged: dict[tuple, DayRollup] = {}
    for lo, hi in itertools.pairwise(bounds):
        for key, part in fold(results[lo:hi]).items():
            merged[key] = merged[key].merge(part) if key in merged else part
    assert merged == whole


@settings(max_examples=40, deadline=None)
@given(results=results_strategy)
def test_rollups_agree_with_a_minute_by_minute_oracle(results):
    got = fold(results)
    for key, r in got.items():
        assert r.good & ~r.observed == 0 and r.fast & ~r.observed == 0
        for minute in range(1440):
            start = dt.datetime.combine(key[2], dt.time(), dt.UTC).timestamp() + minute * 60
            inside = [x for x in results if x.vantage == key[0] and start <= x.started_at < start + 60]
            bit = 1 << minute
            assert bool(r.observed & bit) == bool(inside)
            if inside:
                assert bool(r.good & bit) == all(x.success for x in inside)
                assert bool(r.fast & bit) == all(x.success and x.outcome.duration_seconds <= 0.5 for x in inside)
                ok_steps = all(s.duration_seconds <= 2.0 for x in inside for s in x.outcome.steps)
                assert bool(r.steps_ok & bit) == ok_steps
                assert r.total_counts[minute] == len(inside)


@settings(max_examples=100, deadline=None)
@given(
    a=st.lists(st.integers(0, 255), min_size=1, max_size=24),
    b=st.lists(st.integers(0, 255), min_size=1, max_size=24),
    small=st.booleans(),
)
def test_count_merge_saturates_exactly(a, b, small):
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    if small:  # the fast path (no byte at or above 128)
        a, b = [x // 2 for x in a], [x // 2 for x in b]
    pad = bytes(MINUTES_PER_DAY - n)
    day = dt.date(2026, 1, 1)
    x = DayRollup("unog", "s", day, total_counts=bytes(a) + pad, good_counts=bytes(b) + pad)
    y = DayRollup("unog", "s", day, total_counts=bytes(b) + pad, good_counts=bytes(a) + pad)
    m = x.merge(y)
    assert list(m.total_counts[:n]) == [min(255, p + q) for p, q in zip(a, b, strict=True)]
    assert m.good_counts == m.total_counts and m.total_counts[n:] == pad
