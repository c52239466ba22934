"""The engine's fast path for complete days (every minute observed, good, fast and
with steps ok) against the minute-by-minute oracle: complete days mixed with partial
ones, outages running over midnight into and out of them, days that are complete
only for some of the bitmaps, with and without latency and steps objectives."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slamon.core.model import Budgeting, Period, StepsObjective
from slamon.core.sla.context import TargetSegment
from slamon.core.sla.masks import MaskCache
from slamon.core.sla.measure import measure_service
from slamon.core.sla.periods import PeriodWindow
from slamon.core.sla.rollup import ALL_MINUTES
from tests.sla_oracle import oracle, random_rollups
from tests.test_sla_oracle import _check_counts, _context, _days, _latency, _sla, scenarios

EDGE = (1 << 1439) | 1  # bad at 23:59 and at 00:00: a run over midnight


def _mix(rng: random.Random, rollups: dict) -> dict:
    out = {}
    for day, r in rollups.items():
        kind = rng.choice((0, 0, 1, 2, 3, 3, 4, 5))
        if kind == 0:  # complete for every bitmap
            r = replace(r, observed=ALL_MINUTES, good=ALL_MINUTES, fast=ALL_MINUTES, steps_ok=ALL_MINUTES)
        elif kind == 1:  # observed and good everywhere, but not fast or steps ok
            r = replace(r, observed=ALL_MINUTES, good=ALL_MINUTES, fast=r.fast & r.observed, steps_ok=ALL_MINUTES)
        elif kind == 2:  # everything but one bitmap complete
            r = replace(r, observed=ALL_MINUTES, good=ALL_MINUTES, fast=ALL_MINUTES, steps_ok=r.steps_ok & r.observed)
        elif kind == 3:  # observed everywhere, bad at both ends of the day
            r = replace(r, observed=ALL_MINUTES, good=ALL_MINUTES & ~EDGE, fast=ALL_MINUTES, steps_ok=ALL_MINUTES)
        out[day] = r  # else: as drawn (gaps, partial days, or missing)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.booleans(), st.booleans(), st.integers(1, 5 * 1440))
def test_complete_days_match_the_oracle(sc, timed_latency, timed_steps, length):
    sc = sc | {"end": sc["start"] + dt.timedelta(minutes=length)}
    ctx = _context(sc)
    rng = random.Random(sc["seed"])
    rollups = _mix(rng, random_rollups(rng, _days(sc["start"], sc["end"])))
    period = PeriodWindow(Period.month, "test", sc["start"], sc["end"], sc["tz"])
    sla = _sla(
        sc["availability"],
        Budgeting.timeslices,
        latency=_latency(95.0) if timed_latency else None,
        steps=StepsObjective.model_validate({"max_duration": "10s", "percent": 98.0}) if timed_steps else None,
        unplanned_outages=0,
    )
    now = sc["end"] + dt.timedelta(days=1)
    m = measure_service(ctx, "unog", period, [TargetSegment(None, sla)], rollups, now, MaskCache())
    t = oracle(sc["start"], sc["end"], sc["tz"], sc["calendar"], sc["maintenance"], sc["exclusions"], rollups)
    _check_counts(m, replace(t, fast=t.fast if timed_latency else 0, steps_ok=t.steps_ok if timed_steps else 0))


def test_an_outage_does_not_continue_over_a_complete_day():
    """Bad at 23:59, a complete day, bad at 00:00: two runs, not one."""
    sc = {"tz": "Europe/Zurich", "calendar": None, "maintenance": [], "exclusions": []}
    days = [dt.date(2026, 3, 28) + dt.timedelta(days=k) for k in range(4)]
    rng = random.Random(7)
    base = random_rollups(rng, days)
    edge = replace(base[days[0]], observed=ALL_MINUTES, good=ALL_MINUTES & ~EDGE, fast=ALL_MINUTES, steps_ok=ALL_MINUTES)
    rollups = {
        days[0]: edge,
        days[1]: replace(edge, day=days[1], good=ALL_MINUTES),
        days[2]: replace(edge, day=days[2]),
        days[3]: replace(edge, day=days[3]),  # continues the run of days[2] at midnight
    }
    start = dt.datetime(2026, 3, 28, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=4)
    period = PeriodWindow(Period.month, "test", start, end, sc["tz"])
    sla = _sla(99.0, Budgeting.timeslices, unplanned_outages=0)
    m = measure_service(_context(sc), "unog", period, [TargetSegment(None, sla)], rollups, end, MaskCache())
    t = oracle(start, end, sc["tz"], None, [], [], rollups)
    _check_counts(m, t, timed=False)
    # 00:00 and 23:59 of the first day; 00:00 and 23:59 (on into the fourth) of the
    # third; 23:59 of the fourth
    assert m.outage_runs == 5
