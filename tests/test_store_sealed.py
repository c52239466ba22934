"""Sealed period aggregates against a real store (SQLite, and PostgreSQL when configured).

The property: for random histories, measures (per SLA period, and over a longer window)
and the whole report read from sealed aggregates equal, figure for figure, those made
from the day rollups; sealing again never changes a sealed record, and the database
refuses to change one.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from exporters.reports import build_report, render
from slamon.assess import assess_period, assess_sla_periods
from slamon.core.indicators import probed_from
from slamon.core.model import STORED_CONTEXT
from slamon.core.sla.periods import parse_period
from slamon.core.sla.rollup import ALL_MINUTES, MINUTES_PER_DAY, DayRollup
from slamon.core.sla.sealed import measures_of
from slamon.sealing import backlog, seal_backlog
from slamon.store import Store
from tests import store_support
from tests.exporters_estate import catalogue as estate_catalogue
from tests.exporters_estate import http, service
from tests.store_support import utc

db_url, pg_url, sqlite_url = store_support.db_url, store_support.pg_url, store_support.sqlite_url

NOW = utc(2026, 10, 14, 9, 30)  # 2026-Q3 closed, October open
FIRST_DAY = dt.date(2026, 6, 27)
LAST_DAY = dt.date(2026, 10, 14)
# month boundaries of Europe/Zurich and America/New_York in UTC minutes of their day:
# runs that cross them test that a run over a boundary is counted once
BOUNDARIES = [utc(2026, 6, 30, 22), utc(2026, 7, 31, 22), utc(2026, 8, 31, 22), utc(2026, 9, 30, 22),
              utc(2026, 7, 1, 4), utc(2026, 8, 1, 4), utc(2026, 9, 1, 4), utc(2026, 10, 1, 4)]  # fmt: skip
_counter = itertools.count()


def _bits(rng: random.Random, spans: int, longest: int) -> int:
    out = 0
    for _ in range(spans):
        a = rng.randrange(MINUTES_PER_DAY)
        out |= ((1 << rng.randint(1, longest)) - 1) << a
    return out & ALL_MINUTES


# Geneva's month boundaries in summer (22:00 UTC) and a nightly maintenance window
# ending 30 minutes before each (23:00-23:30 local, 21:00-21:30 UTC)
NIGHTLY_END = 21 * 60 + 30
GENEVA_BOUNDARY_DAYS = {b.date() for b in BOUNDARIES if b.hour == 22}


def _history(
    rng: random.Random, sid: str, vantage: str, flaky: float, gaps: float, *, overrun: bool = False
) -> list[DayRollup]:
    """Day rollups: most days complete, some missing, some with bad, slow or unobserved minutes,
    and bad runs across midnight and across the offices' month boundaries. ``overrun``: on
    Geneva's month-end days, a run from the end of the nightly maintenance window (or a
    little later) across the month boundary (runs of the one it depends on overlap it)."""
    out = []
    boundary_days = {b.date(): b for b in BOUNDARIES if rng.random() < flaky * 3}
    day = FIRST_DAY
    while day <= LAST_DAY:
        if rng.random() >= gaps:
            observed = ALL_MINUTES if rng.random() < 0.8 else ALL_MINUTES & ~_bits(rng, 2, 300)
            bad = _bits(rng, rng.randint(1, 4), 90) if rng.random() < flaky else 0
            if rng.random() < flaky:  # a run over midnight: the end of this day (and the next's start)
                bad |= ((1 << rng.randint(1, 30)) - 1) << (MINUTES_PER_DAY - 30)
                bad |= (1 << rng.randint(1, 30)) - 1
            if day in boundary_days:
                at = boundary_days[day].hour * 60
                bad |= ((1 << rng.randint(2, 40)) - 1) << (at - 1)
            if overrun and day in GENEVA_BOUNDARY_DAYS:
                start = NIGHTLY_END + (7 if day.month == 9 else 0)  # as the window ends (September: later)
                bad |= ((1 << (MINUTES_PER_DAY - start)) - 1) << start  # to midnight UTC, over the boundary
                observed |= bad
            elif overrun and day - dt.timedelta(days=1) in GENEVA_BOUNDARY_DAYS:
                bad |= (1 << rng.randint(1, 90)) - 1  # and on past midnight UTC
                observed |= bad
            good = observed & ~bad & ALL_MINUTES
            fast = good & ~(_bits(rng, 1, 20) if rng.random() < flaky else 0)
            total = bytes(rng.choice((1, 1, 2)) if observed >> m & 1 else 0 for m in range(MINUTES_PER_DAY))
            good_n = bytes(t if good >> m & 1 else 0 for m, t in enumerate(total))
            out.append(DayRollup(vantage, sid, day, observed, good, fast, observed, total, good_n))
        day += dt.timedelta(days=1)
    return out


def _estate(rng: random.Random):
    n = next(_counter)
    services = [
        service(f"unog-p{n}-gold"),  # 99.9 %, latency, monthly
        service(f"unog-p{n}-outages", sla={"unplanned_outages": rng.choice((0, 30, 400))}),
        service(f"unhq-p{n}-occ", tier="bronze", sla={"budgeting": "occurrences"}),
        service(f"unog-p{n}-quarterly", tier="bronze", sla={"period": "quarter"}),
        service(f"unhq-p{n}-two", probes=[http("web", **{"from": ["unhq", "unog"]})]),
        service(f"unog-p{n}-maint", tier="bronze", sla={"availability": 99.5}),
    ]
    maint = services[-1].model_dump(mode="json", by_alias=True, exclude_none=True)
    maint["maintenance"] = [{"name": "patching", "every": "week", "days": ["sun"], "start": "23:30", "duration": "2h"}]
    services[-1] = type(services[-1]).model_validate(maint, context=STORED_CONTEXT)
    # outages that begin as a maintenance window ends (overrun) and cross a month
    # boundary, while the service it depends on is also down (dependency minutes)
    nightly = service(f"unog-p{n}-overrun", extra={"depends_on": [services[0].id]}).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    nightly["maintenance"] = [{"name": "nightly", "every": "day", "start": "23:00", "duration": "30m"}]
    services.append(type(services[0]).model_validate(nightly, context=STORED_CONTEXT))
    return services


@pytest.fixture
def store(db_url):
    s = Store.open(db_url)
    yield s
    s.close()


def _comparable(report_json: str) -> dict:
    """The report without the listing of sealed periods (present only once sealed)."""
    body = json.loads(report_json)

    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in ("sealed_periods", "sealed_note")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(body)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), flaky=st.sampled_from((0.0, 0.05, 0.3)), gaps=st.sampled_from((0.0, 0.1)))
def test_sealed_aggregates_equal_the_rollups_figure_for_figure(store, seed, flaky, gaps):
    rng = random.Random(seed)
    services = _estate(rng)
    ids = [s.id for s in services]
    cat = estate_catalogue(services)
    rollups = []
    for s in services:
        for v in sorted(probed_from(s)):
            tricky = s.id.endswith(("-overrun", "-gold"))
            rollups += _history(rng, s.id, v, flaky, gaps, overrun=tricky)
    store.merge_rollups(rollups)
    when = rng.choice([utc(2026, 7, 3), utc(2026, 8, 20, 5, 30), utc(2026, 9, 30, 23, 15)])
    store.add_exclusion(ids[0], when, when + dt.timedelta(hours=3), "works", "Chief ICT", NOW)

    # from the rollups alone, before anything is sealed
    year_before = assess_period(store, cat, "2026", NOW, service_ids=ids, use_sealed=False)
    months_before = {
        label: assess_period(store, cat, label, NOW, service_ids=ids, use_sealed=False)
        for label in ("2026-07", "2026-08", "2026-09", "2026-Q3")
    }
    periods_before = assess_sla_periods(store, cat, "2026", NOW, service_ids=ids, use_sealed=False)
    report_before = render(build_report(store, cat, "2026", NOW), "json")

    sealed_now = seal_backlog(store, cat, NOW, service_ids=ids)
    assert sealed_now > 0
    assert not backlog(store, cat, NOW, service_ids=ids)

    # over a longer window: sealed months (and quarters) plus October from the rollups
    year_after = assess_period(store, cat, "2026", NOW, service_ids=ids)
    assert {k[0] for k in year_after.sealed} == set(ids)
    assert year_after.measures.keys() == year_before.measures.keys()
    for key, m in year_before.measures.items():
        assert year_after.measures[key] == m, key
        assert year_after.measures[key].to_dict() == m.to_dict()
    # the availability measures made it through: an overrun over a boundary, its length
    overrun = year_before.measures[(ids[-1], "unog")]
    assert overrun.overrun_minutes > 0 and overrun.longest_outage_minutes > 0

    # per SLA period (the indicators' judgement): closed periods read as sealed
    periods_after = assess_sla_periods(store, cat, "2026", NOW, service_ids=ids)
    assert periods_after.keys() == periods_before.keys()
    for sid, results in periods_before.items():
        after = periods_after[sid]
        assert [(r.window, r.measures, r.met, r.closed) for r in after] == [
            (r.window, r.measures, r.met, r.closed) for r in results
        ], sid
        assert [r.source for r in after] == ["sealed" if r.closed else "measured" for r in results], sid

    # per period: each sealed record is the engine's measures of that period
    found = store.sealed_periods(utc(2025, 12, 1), utc(2027, 1, 1), ids, full=True)
    checked = 0
    for (sid, vantage), periods in found.items():
        for sp in periods:
            before = months_before.get(sp.period.label)
            if before is None or (sid, vantage) not in before.measures:
                continue
            expected = before.measures[(sid, vantage)]
            if expected.period != sp.period:
                continue
            assert measures_of(sp, NOW) == expected, (sid, vantage, sp.period.label)
            assert dict(sp.objectives) == expected.objectives
            assert sum(len(p.runs or ()) for p in sp.parts) == sum(p.outage_runs for p in sp.parts)
            checked += 1
    assert checked >= 3 * len(ids)

    # the whole report, figure for figure
    report_after = render(build_report(store, cat, "2026", NOW), "json")
    assert _comparable(report_after) == _comparable(report_before)

    # sealing again changes nothing
    assert seal_backlog(store, cat, NOW, service_ids=ids) == 0
    assert store.sealed_periods(utc(2025, 12, 1), utc(2027, 1, 1), ids, full=True) == found


def test_a_sealed_record_is_never_changed(store):
    cat = estate_catalogue([service("unog-once")])
    store.merge_rollups(_history(random.Random(3), "unog-once", "unog", 0.3, 0.0))
    assert seal_backlog(store, cat, NOW) > 0
    before = store.sealed_periods(utc(2025, 12, 1), utc(2027, 1, 1), full=True)
    # a later history of the sealed months (late data, a new exclusion) does not reseal them
    store.merge_rollups([DayRollup("unog", "unog-once", dt.date(2026, 7, 10), ALL_MINUTES, 0, 0, 0)])
    assert seal_backlog(store, cat, NOW) == 0
    again = [sp for periods in before.values() for sp in periods]
    assert store.seal_periods(again) == 0
    assert store.sealed_periods(utc(2025, 12, 1), utc(2027, 1, 1), full=True) == before
    july = before[("unog-once", "unog")][6]
    assert july.period == parse_period("2026-07", "Europe/Zurich")
    # bounds are inclusive of a period that starts and ends exactly on them
    exact = store.sealed_periods(july.period.start, july.period.end)
    assert [sp.period.label for sp in exact[("unog-once", "unog")]] == ["2026-07"]
    for sql in ("UPDATE sealed_period SET good_minutes = 0", "DELETE FROM sealed_period"):
        with pytest.raises(DBAPIError, match="written once"), store.engine.begin() as conn:
            conn.execute(text(sql))
    assert store.sealed_periods(utc(2025, 12, 1), utc(2027, 1, 1), full=True) == before


def test_the_open_period_is_never_sealed_and_the_grace_is_kept(store):
    cat = estate_catalogue([service("unog-open")])
    store.merge_rollups(_history(random.Random(5), "unog-open", "unog", 0.05, 0.0))
    at = utc(2026, 9, 30, 22, 30)  # September (Zurich) closed half an hour ago
    seal_backlog(store, cat, at)
    labels = [sp.period.label for sp in store.sealed_periods(utc(2025, 1, 1), utc(2028, 1, 1))[("unog-open", "unog")]]
    assert labels == [f"2026-{m:02d}" for m in range(1, 9)]  # not September yet, nor October
    seal_backlog(store, cat, at + dt.timedelta(hours=1))
    labels = [sp.period.label for sp in store.sealed_periods(utc(2025, 1, 1), utc(2028, 1, 1))[("unog-open", "unog")]]
    assert labels[-1] == "2026-09"
