"""The breach state machine: opened, recovered, closed with the period, unknown kept."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from slamon.core.sla.breaches import apply_events, evaluate_breaches
from slamon.core.sla.calendar import OfficeCalendar
from slamon.core.sla.context import ServiceContext, TargetSegment
from slamon.core.sla.exclusions import Exclusion
from slamon.core.sla.masks import MaskCache
from slamon.core.sla.measure import AVAILABILITY, LATENCY, UNPLANNED_OUTAGES, measure_service
from slamon.core.sla.periods import parse_period
from tests.sla_helpers import rollups, sla, utc

TZ = "Europe/Vienna"
PERIOD = parse_period("2026-11", TZ)  # 2026-10-31T23:00Z .. 2026-11-30T23:00Z


def ctx(exclusions=()) -> ServiceContext:
    return ServiceContext("unov-erp", TZ, {"24x7": OfficeCalendar.always_on(TZ)}, None, tuple(exclusions))


def measure(now, bad=(), targets=None, exclusions=(), period=PERIOD):
    targets = targets or [TargetSegment(None, sla(99.0))]
    data = rollups(period.utc_days(), bad=list(bad))
    return measure_service(ctx(exclusions), "unov", period, targets, data, now, MaskCache())


def kinds(events):
    return [(e.kind, e.reason, e.breach.objective) for e in events]


def test_opened_below_target_then_resolved_on_recovery():
    # 2 days in, 60 bad minutes of 2,880: 97.9 % < 99 %
    now = utc(2026, 11, 2, 23)
    m = measure(now, bad=[(utc(2026, 11, 1, 10), 60)])
    events = evaluate_breaches([m], [], now)
    assert kinds(events) == [("opened", "below_target", AVAILABILITY)]
    opened = events[0].breach
    assert opened.period == "2026-11" and opened.opened_at == now
    assert opened.target == 99.0 and opened.measure < 0.99
    open_now = apply_events([], events)
    # re-evaluating an unchanged breach emits nothing
    assert evaluate_breaches([m], open_now, now) == []
    # ten days in the same 60 minutes are 0.4 %: recovered
    later = utc(2026, 11, 10, 23)
    m2 = measure(later, bad=[(utc(2026, 11, 1, 10), 60)])
    events = evaluate_breaches([m2], open_now, later)
    assert kinds(events) == [("resolved", "recovered", AVAILABILITY)]
    assert events[0].breach.resolved_at == later and events[0].breach.resolution == "recovered"
    assert apply_events(open_now, events) == []


def test_resolved_when_the_period_closes_and_a_late_breach_is_recorded_closed():
    bad = [(utc(2026, 11, 20), 1000)]  # 1000 of 43,200 minutes: 97.7 %
    during = utc(2026, 11, 25)
    open_now = apply_events([], evaluate_breaches([measure(during, bad)], [], during))
    assert len(open_now) == 1
    after = utc(2026, 12, 1)
    events = evaluate_breaches([measure(after, bad)], open_now, after)
    assert kinds(events) == [("resolved", "period_closed", AVAILABILITY)]
    # not measured any more, but its period is over: the calendar closes it
    assert kinds(evaluate_breaches([], open_now, after)) == [("resolved", "period_closed", AVAILABILITY)]
    assert evaluate_breaches([], open_now, during) == []
    # first seen after the close: opened and resolved together, so the record exists
    events = evaluate_breaches([measure(after, bad)], [], after)
    assert kinds(events) == [
        ("opened", "below_target", AVAILABILITY),
        ("resolved", "period_closed", AVAILABILITY),
    ]


def test_unknown_changes_nothing():
    now = utc(2026, 11, 5)
    m = measure(now, bad=[(utc(2026, 11, 1), 600)])
    open_now = apply_events([], evaluate_breaches([m], [], now))
    blind = measure_service(ctx(), "unov", PERIOD, [TargetSegment(None, sla(99.0))], {}, now, MaskCache())
    assert blind.objectives[AVAILABILITY].met is None
    assert evaluate_breaches([blind], open_now, now) == []
    assert evaluate_breaches([blind], [], now) == []


def test_unplanned_outage_breach_and_its_exclusion():
    now = utc(2026, 11, 5)
    targets = [TargetSegment(None, sla(99.0, unplanned_outages=0))]
    m = measure(now, bad=[(utc(2026, 11, 3, 9), 2)], targets=targets)
    events = evaluate_breaches([m], [], now)
    assert kinds(events) == [("opened", "unplanned_outage", UNPLANNED_OUTAGES)]
    # the two minutes are later excluded with an approval: the breach resolves
    ex = Exclusion(utc(2026, 11, 3, 9), utc(2026, 11, 3, 9, 2), "power cut at the data centre", "CIO")
    m2 = measure(now, bad=[(utc(2026, 11, 3, 9), 2)], targets=targets, exclusions=[ex])
    events2 = evaluate_breaches([m2], apply_events([], events), now)
    assert kinds(events2) == [("resolved", "recovered", UNPLANNED_OUTAGES)]


def test_objective_removed_by_a_target_change_resolves_its_breach():
    now = utc(2026, 11, 5)
    with_latency = [TargetSegment(None, sla(99.0, latency=("1s", 99.0)))]
    from slamon.core.sla.rollup import DayRollup

    data = rollups(PERIOD.utc_days())
    slow_day = dt.date(2026, 11, 2)
    r = data[slow_day]
    data[slow_day] = DayRollup(r.vantage, r.service_id, r.day, r.observed, r.good, 0, r.steps_ok, r.total_counts, r.good_counts)
    m = measure_service(ctx(), "unov", PERIOD, with_latency, data, now, MaskCache())
    events = evaluate_breaches([m], [], now)
    assert kinds(events) == [("opened", "below_target", LATENCY)]
    m2 = measure_service(ctx(), "unov", PERIOD, [TargetSegment(None, sla(99.0))], data, now, MaskCache())
    assert kinds(evaluate_breaches([m2], apply_events([], events), now)) == [
        ("resolved", "objective_removed", LATENCY)
    ]


def test_rolling_breaches_resolve_only_on_recovery():
    now = utc(2026, 11, 20)
    period = parse_period("rolling-30d", TZ, now=now)
    m = measure(now, bad=[(utc(2026, 11, 10), 2000)], period=period)
    open_now = apply_events([], evaluate_breaches([m], [], now))
    assert open_now and open_now[0].period == "rolling-30d" and open_now[0].period_end is None
    assert evaluate_breaches([], open_now, utc(2030, 1, 1)) == []


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 1500), min_size=1, max_size=6))
def test_state_follows_the_verdict_through_any_sequence(bad_counts):
    """Whatever happens day by day, after each evaluation a breach is open exactly when
    the current measure is below target, and the events alternate per breach."""
    open_now = []
    history = []
    for day, bad in enumerate(bad_counts):
        now = utc(2026, 11, 2 + day, 12)
        m = measure(now, bad=[(utc(2026, 11, 1, 0), bad)])
        events = evaluate_breaches([m], open_now, now)
        history.extend(events)
        open_now = apply_events(open_now, events)
        assert bool(open_now) == (m.objectives[AVAILABILITY].met is False)
    seq = [e.kind for e in history]
    assert all(a != b for a, b in itertools.pairwise(seq))
