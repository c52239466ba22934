"""The per-day completeness series the engine skips complete days with
(``slamon.core.sla.series``): built from rollups in any order and with gaps, read
over windows that start or end outside it, and built by the store's read side
(``Store.day_series_between``) from partial rollups merged on write, against the
same measures from plain day mappings and the minute-by-minute oracle."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slamon.core.model import Budgeting, Period, StepsObjective
from slamon.core.sla.bulk import index_rollups, index_series
from slamon.core.sla.context import TargetSegment
from slamon.core.sla.masks import MaskCache
from slamon.core.sla.measure import measure_service
from slamon.core.sla.periods import PeriodWindow
from slamon.core.sla.rollup import ALL_MINUTES, DayRollup
from slamon.core.sla.series import COMPLETE, FAST, STEPS, DaySeries, completeness
from slamon.store import Store
from tests import store_support
from tests.sla_oracle import oracle, random_rollups
from tests.test_sla_complete_days import _mix
from tests.test_sla_oracle import _check_counts, _context, _days, _latency, _sla, scenarios

db_url, pg_url, sqlite_url = store_support.db_url, store_support.pg_url, store_support.sqlite_url
_EPOCH = dt.date(1970, 1, 1)


def _n(day: dt.date) -> int:
    return (day - _EPOCH).days


def test_completeness_flags():
    day = dt.date(2026, 3, 29)
    full = DayRollup("v", "s", day, ALL_MINUTES, ALL_MINUTES, ALL_MINUTES, ALL_MINUTES)
    assert completeness(full) == COMPLETE | FAST | STEPS
    assert completeness(replace(full, fast=ALL_MINUTES >> 1)) == COMPLETE | STEPS
    assert completeness(replace(full, steps_ok=0)) == COMPLETE | FAST
    assert completeness(replace(full, good=ALL_MINUTES >> 1)) == 0
    assert completeness(replace(full, observed=ALL_MINUTES >> 1, good=ALL_MINUTES >> 1)) == 0


def test_series_with_gaps_out_of_order_and_windows_outside_it():
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=k) for k in range(10)]
    full = {d: DayRollup("v", "s", d, ALL_MINUTES, ALL_MINUTES, ALL_MINUTES, ALL_MINUTES) for d in days}
    full[days[4]] = replace(full[days[4]], good=1)
    del full[days[2]]
    shuffled = dict(reversed(list(full.items())))
    s = DaySeries.from_rollups(shuffled)
    assert s.first == _n(days[0]) and s.flags == bytes([7, 7, 0, 7, 0, 7, 7, 7, 7, 7])
    assert DaySeries.from_rollups(s) is s
    assert dict(s) == shuffled and len(s) == 9 and days[2] not in s and s.get(days[2]) is None
    assert s.window(s.first - 2, 4) == bytes([0, 0, 7, 7])
    assert s.window(s.first + 8, 5) == bytes([7, 7, 0, 0, 0])
    assert s.window(s.first - 3, 15) == bytes(3) + s.flags + bytes(2)
    assert s.window(s.first + 20, 3) == bytes(3) and s.window(s.first - 9, 3) == bytes(3)
    empty = DaySeries.from_rollups({})
    assert len(empty) == 0 and empty.window(100, 4) == bytes(4)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.booleans(), st.booleans(), st.integers(1, 6 * 1440), st.integers(-3, 3), st.integers(0, 3))
def test_series_narrower_or_shuffled_matches_the_oracle(sc, timed_latency, timed_steps, length, shift, trim):
    """Rollups shuffled, the series starting before or after the period, days dropped
    at either end: the same counts as the oracle."""
    sc = sc | {"end": sc["start"] + dt.timedelta(minutes=length)}
    rng = random.Random(sc["seed"])
    first = sc["start"].astimezone(dt.UTC).date() + dt.timedelta(days=shift)
    days = _days(sc["start"], sc["end"])
    span = [first + dt.timedelta(days=k) for k in range(len(days) + 3)]
    drawn = _mix(rng, random_rollups(rng, span))
    kept = list(drawn.items())[trim:]
    rng.shuffle(kept)
    rollups = dict(kept)
    period = PeriodWindow(Period.month, "test", sc["start"], sc["end"], sc["tz"])
    sla = _sla(
        sc["availability"],
        Budgeting.timeslices,
        latency=_latency(95.0) if timed_latency else None,
        steps=StepsObjective.model_validate({"max_duration": "10s", "percent": 98.0}) if timed_steps else None,
        unplanned_outages=0,
    )
    now = sc["end"] + dt.timedelta(days=1)
    series = DaySeries.from_rollups(rollups)
    m = measure_service(_context(sc), "unog", period, [TargetSegment(None, sla)], series, now, MaskCache())
    t = oracle(sc["start"], sc["end"], sc["tz"], sc["calendar"], sc["maintenance"], sc["exclusions"], rollups)
    _check_counts(m, replace(t, fast=t.fast if timed_latency else 0, steps_ok=t.steps_ok if timed_steps else 0))


def test_store_day_series_from_merged_partial_rollups(db_url):
    """Two partial rollups of one day that together make it complete, one that stays
    incomplete, a gap: the store's series says so, and measures equal those from the
    plain mapping."""
    rng = random.Random(3)
    days = [dt.date(2026, 3, 27) + dt.timedelta(days=k) for k in range(5)]
    half = ALL_MINUTES >> 720
    rows = []
    for sid in ("a", "b"):
        for d in days:
            if d == days[3]:
                continue  # nothing observed that day
            lo = DayRollup("unog", sid, d, half, half, half, half)
            hi_bits = ALL_MINUTES & ~half
            good = hi_bits if d != days[1] else hi_bits & ~(1 << 1439)
            rows += [lo, DayRollup("unog", sid, d, hi_bits, good, hi_bits, hi_bits)]
    rows += list(random_rollups(rng, [days[4] + dt.timedelta(days=1)], service="a", vantage="unog").values())
    store = Store.open(db_url)
    try:
        store.merge_rollups(rows[: len(rows) // 2])
        store.merge_rollups(rows[len(rows) // 2 :])
        series = store.day_series_between(days[0], days[-1] + dt.timedelta(days=1), with_counts=False)
        assert set(series) == {("a", "unog"), ("b", "unog")}
        b = series[("b", "unog")]
        assert b.first == _n(days[0]) and b.flags == bytes([7, 0, 7, 0, 7])
        plain = index_rollups(store.rollups_between(days[0], days[-1] + dt.timedelta(days=1), with_counts=False))
        assert {k: dict(v) for k, v in series.items()} == plain
        assert series.keys() == index_series(rows).keys()
    finally:
        store.close()
    sc = {"tz": "Europe/Zurich", "calendar": None, "maintenance": [], "exclusions": []}
    start = dt.datetime(2026, 3, 27, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=6)
    period = PeriodWindow(Period.month, "test", start, end, sc["tz"])
    sla = _sla(99.0, Budgeting.timeslices, unplanned_outages=0)
    for key in series:
        got = measure_service(_context(sc), "unog", period, [TargetSegment(None, sla)], series[key], end, MaskCache())
        want = measure_service(_context(sc), "unog", period, [TargetSegment(None, sla)], plain[key], end, MaskCache())
        assert got == want
        t = oracle(start, end, sc["tz"], None, [], [], plain[key])
        _check_counts(got, t, timed=False)
