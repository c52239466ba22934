"""The SLA engine against the minute-by-minute oracle, with random calendars,
holidays, maintenance crossing midnight, observation gaps and exclusions, in every
office timezone around the March and October/November DST changes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from fractions import Fraction
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slamon.core.catalogue import EffectiveSLA
from slamon.core.model import (
    Budgeting,
    Calendar,
    OneOffMaintenance,
    Period,
    RecurringMaintenance,
    StepsObjective,
)
from slamon.core.sla.calendar import OfficeCalendar
from slamon.core.sla.context import ServiceContext, TargetSegment
from slamon.core.sla.exclusions import Exclusion
from slamon.core.sla.maintenance import MaintenanceSchedule
from slamon.core.sla.masks import MaskCache, is_eligible
from slamon.core.sla.measure import AVAILABILITY, LATENCY, STEPS, UNPLANNED_OUTAGES, measure_service
from slamon.core.sla.periods import PeriodWindow, parse_period
from tests.sla_oracle import WEEKDAYS, in_maintenance, oracle, random_bits, random_rollups

UTC = dt.UTC
ZONES = ["America/New_York", "Europe/Zurich", "Europe/Vienna", "Africa/Nairobi"]
DST_DAYS = {
    "America/New_York": [dt.date(2026, 3, 8), dt.date(2026, 11, 1), dt.date(2027, 3, 14)],
    "Europe/Zurich": [dt.date(2026, 3, 29), dt.date(2026, 10, 25), dt.date(2027, 10, 31)],
    "Europe/Vienna": [dt.date(2026, 3, 29), dt.date(2026, 10, 25), dt.date(2027, 3, 28)],
    "Africa/Nairobi": [dt.date(2026, 3, 29), dt.date(2026, 11, 1)],  # no DST: a control
}
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def calendars(draw, focus: dt.date):
    if draw(st.booleans()):
        return None  # the built-in 24x7
    hours = []
    for _ in range(draw(st.integers(1, 3))):
        days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
        start = draw(st.integers(0, 1439))
        end = draw(st.integers(start + 1, 1440))
        hours.append({"days": days, "start": hhmm(start), "end": hhmm(end)})
    holidays = draw(
        st.lists(st.integers(-2, 3).map(lambda k: focus + dt.timedelta(days=k)), max_size=2, unique=True)
    )
    return Calendar.model_validate(
        {"hours": hours, "holidays": [{"date": d, "name": "holiday"} for d in holidays]}
    )


@st.composite
def maintenances(draw, focus: dt.date):
    items = []
    for _ in range(draw(st.integers(0, 2))):
        every = draw(st.sampled_from(["day", "week", "month"]))
        item = {
            "name": "recurring",
            "every": every,
            "start": hhmm(draw(st.integers(0, 1440))),  # "24:00" is midnight at the end
            # may cross one or two midnights; odd seconds
            "duration": f"{draw(st.one_of(st.integers(30, 4 * 3600), st.integers(20 * 3600, 40 * 3600)))}s",
        }
        if every == "week":
            item["days"] = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=3, unique=True))
        if every == "month":
            item["day_of_month"] = draw(
                st.sampled_from([max(1, focus.day - 1), focus.day, min(31, focus.day + 1), 30, 31])
            )
        items.append(RecurringMaintenance.model_validate(item))
    for _ in range(draw(st.integers(0, 2))):
        base = dt.datetime(focus.year, focus.month, focus.day) + dt.timedelta(
            minutes=draw(st.integers(-1440, 2880)), seconds=draw(st.sampled_from([0, 0, 30]))
        )
        end = base + dt.timedelta(minutes=draw(st.integers(1, 900)))
        if draw(st.booleans()):  # an absolute window, written with an offset
            tz = dt.timezone(dt.timedelta(hours=draw(st.integers(-5, 3))))
            base, end = base.replace(tzinfo=tz), end.replace(tzinfo=tz)
        items.append(OneOffMaintenance.model_validate({"name": "once", "from": base, "to": end}))
    return items


@st.composite
def exclusions(draw, focus: dt.date):
    out = []
    for _ in range(draw(st.integers(0, 2))):
        start = dt.datetime(focus.year, focus.month, focus.day, tzinfo=UTC) + dt.timedelta(
            seconds=draw(st.integers(-86400, 2 * 86400))
        )
        out.append(
            Exclusion(start, start + dt.timedelta(seconds=draw(st.integers(1, 6 * 3600))), "r", "a")
        )
    return out


@st.composite
def scenarios(draw):
    tz = draw(st.sampled_from(ZONES))
    focus = draw(st.sampled_from(DST_DAYS[tz])) + dt.timedelta(days=draw(st.integers(-1, 0)))
    start = dt.datetime(focus.year, focus.month, focus.day, tzinfo=UTC) + dt.timedelta(
        minutes=draw(st.integers(-720, 1439))
    )
    end = start + dt.timedelta(minutes=draw(st.integers(1, 3 * 1440)))
    return {
        "tz": tz,
        "focus": focus,
        "start": start,
        "end": end,
        "calendar": draw(calendars(focus)),
        "maintenance": draw(maintenances(focus)),
        "exclusions": draw(exclusions(focus)),
        "seed": draw(st.integers(0, 2**32)),
        "availability": draw(st.sampled_from([90.0, 99.0, 99.5, 99.9, 100.0])),
        "budgeting": draw(st.sampled_from(list(Budgeting))),
    }


def _context(sc) -> ServiceContext:
    tz = sc["tz"]
    if sc["calendar"] is None:
        cal = OfficeCalendar.always_on(tz)
    else:
        cal = OfficeCalendar.from_model("hours", sc["calendar"], tz)
    return ServiceContext(
        "unog-x",
        tz,
        {"hours": cal},
        MaintenanceSchedule.from_models(sc["maintenance"], tz),
        tuple(sc["exclusions"]),
    )


def _sla(availability: float, budgeting: Budgeting, **kw) -> EffectiveSLA:
    base = {
        "availability": availability,
        "latency": None,
        "steps": None,
        "unplanned_outages": None,
        "schedule": "hours",
        "period": Period.month,
        "budgeting": budgeting,
    }
    base.update(kw)
    return EffectiveSLA(**base)


def _days(start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    first, last = start.date(), (end - dt.timedelta(minutes=1)).date()
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _check_counts(m, t, timed: bool = True) -> None:
    assert m.window_minutes == t.window
    assert m.eligible_minutes == t.eligible
    assert m.outside_hours_minutes == t.outside_hours
    assert m.maintenance_minutes == t.maintenance
    assert m.excluded_minutes == t.excluded
    assert m.observed_minutes == t.observed
    assert m.unobserved_minutes == t.eligible - t.observed
    assert m.good_minutes == t.good
    # fast and steps_ok minutes are counted only under latency and steps objectives
    assert m.fast_minutes == (t.fast if timed else 0)
    assert m.steps_ok_minutes == (t.steps_ok if timed else 0)
    assert m.outage_runs == t.outage_runs
    assert m.longest_outage_minutes == t.longest_outage
    assert m.overrun_minutes == t.overrun and m.dependency_minutes == t.dependency
    assert m.window_minutes == (
        m.eligible_minutes + m.outside_hours_minutes + m.maintenance_minutes + m.excluded_minutes
    )


@FAST
@given(scenarios())
def test_engine_matches_the_minute_by_minute_oracle(sc):
    ctx = _context(sc)
    rollups = random_rollups(random.Random(sc["seed"]), _days(sc["start"], sc["end"]))
    period = PeriodWindow(Period.month, "test", sc["start"], sc["end"], sc["tz"])
    sla = _sla(
        sc["availability"],
        sc["budgeting"],
        latency=_latency(95.0),
        steps=StepsObjective.model_validate({"max_duration": "10s", "percent": 98.0}),
        unplanned_outages=0,
    )
    rollups = _bad_after_maintenance(sc, rollups, random.Random(sc["seed"] + 2))
    now = sc["end"] + dt.timedelta(days=1)
    dep_rng = random.Random(sc["seed"] + 1)
    dependency = {}  # bad at random, and during some of the service's own bad minutes
    for d in _days(sc["start"], sc["end"]):
        r = rollups.get(d)
        own = (r.observed & ~r.good) if r else 0
        dependency[d] = random_bits(dep_rng, dep_rng.randrange(0, 5), 60) | (own & random_bits(dep_rng, 4, 400))
    m = measure_service(ctx, "unog", period, [TargetSegment(None, sla)], rollups, now, MaskCache(),
                        dependency_bad=dependency)
    t = oracle(sc["start"], sc["end"], sc["tz"], sc["calendar"], sc["maintenance"], sc["exclusions"], rollups,
               dependency)
    _check_counts(m, t)

    target = Fraction(str(sc["availability"])) / 100
    avail = m.objectives[AVAILABILITY]
    if sc["budgeting"] == Budgeting.occurrences:
        assert m.results_total == t.results_total and m.results_good == t.results_good
        total, good = t.results_total, t.results_good
    else:
        total, good = t.observed, t.good
    if total == 0:
        assert avail.actual is None and avail.met is None  # unobserved: never guessed
    else:
        assert avail.actual == float(Fraction(good, total))
        assert avail.met == (Fraction(good, total) >= target)
    lat, steps = m.objectives[LATENCY], m.objectives[STEPS]
    if t.observed:
        assert lat.met == (Fraction(t.fast, t.observed) >= Fraction(95, 100))
        assert steps.met == (Fraction(t.steps_ok, t.observed) >= Fraction(98, 100))
        assert steps.actual == t.steps_ok / t.observed
    else:
        assert lat.met is None and steps.met is None
    out = m.objectives[UNPLANNED_OUTAGES]
    assert out.actual == t.bad
    assert out.met == (None if t.observed == 0 else t.bad == 0)
    if sc["budgeting"] == Budgeting.timeslices and t.observed:
        assert abs(m.budget_seconds - float((1 - target) * t.observed * 60)) < 1e-6
        assert m.consumed_seconds == t.bad * 60


def _bad_after_maintenance(sc, rollups, rng: random.Random):
    """Bad stretches of 1-5 minutes beginning the minute a maintenance window ends (the
    overruns), which random bad minutes would hardly ever hit."""
    zone = ZoneInfo(sc["tz"])
    out = dict(rollups)
    at = sc["start"] - dt.timedelta(minutes=1)
    was = None
    while at < sc["end"]:
        now_in = in_maintenance(sc["maintenance"], at.astimezone(zone).replace(tzinfo=None), at)
        if was and not now_in and rng.random() < 0.8:
            for k in range(rng.randrange(1, 6)):
                t = at + dt.timedelta(minutes=k)
                r = out.get(t.date())
                if r is None:
                    continue
                b = 1 << (t.hour * 60 + t.minute)
                out[t.date()] = dataclasses.replace(r, observed=r.observed | b, good=r.good & ~b, fast=r.fast & ~b)
        was = now_in
        at += dt.timedelta(minutes=1)
    return out


def _latency(percent: float):
    from slamon.core.model import LatencyObjective

    return LatencyObjective.model_validate({"threshold": "1s", "percent": percent})


@FAST
@given(scenarios(), st.data())
def test_is_eligible_agrees_with_the_oracle(sc, data):
    ctx = _context(sc)
    scope = ctx.scope("hours")
    t = oracle(sc["start"], sc["end"], sc["tz"], sc["calendar"], sc["maintenance"], sc["exclusions"], {})
    cache = MaskCache()
    span = int((sc["end"] - sc["start"]).total_seconds())
    for _ in range(10):
        at = sc["start"] + dt.timedelta(seconds=data.draw(st.integers(0, span - 1)))
        minute = at.replace(second=0, microsecond=0)
        assert is_eligible(at, scope, cache) == (minute in t.eligible_at), at


@FAST
@given(scenarios(), st.integers(0, 3 * 1440), st.sampled_from([99.0, 99.9, 95.0]))
def test_target_change_measures_each_part_against_its_target(sc, cut_minutes, second_target):
    """Two segments: the first target applies before local midnight of the change date."""
    from zoneinfo import ZoneInfo

    ctx = _context(sc)
    rollups = random_rollups(random.Random(sc["seed"]), _days(sc["start"], sc["end"]))
    period = PeriodWindow(Period.month, "test", sc["start"], sc["end"], sc["tz"])
    change = (sc["start"] + dt.timedelta(minutes=cut_minutes)).date()
    boundary = dt.datetime(change.year, change.month, change.day, tzinfo=ZoneInfo(sc["tz"]))
    first = _sla(sc["availability"], Budgeting.timeslices)
    second = _sla(second_target, Budgeting.timeslices)
    m = measure_service(
        ctx,
        "unog",
        period,
        [TargetSegment(change, second), TargetSegment(None, first)],  # any order
        rollups,
        sc["end"] + dt.timedelta(hours=1),
        MaskCache(),
    )
    args = (sc["tz"], sc["calendar"], sc["maintenance"], sc["exclusions"], rollups)
    mid = min(max(boundary, sc["start"]), sc["end"])
    a = oracle(sc["start"], mid, *args)
    b = oracle(mid, sc["end"], *args)
    allowed = (1 - Fraction(str(sc["availability"])) / 100) * a.observed + (
        1 - Fraction(str(second_target)) / 100
    ) * b.observed
    avail = m.objectives[AVAILABILITY]
    assert m.observed_minutes == a.observed + b.observed
    if a.observed + b.observed:
        assert avail.met == (a.bad + b.bad <= allowed)
        assert abs(m.budget_seconds - float(allowed * 60)) < 1e-6
    else:
        assert avail.met is None
    assert avail.target == (second_target if b.window else sc["availability"])


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(ZONES),
    st.sampled_from(["2026-03", "2026-10", "2026-11"]),
    st.data(),
)
def test_whole_months_across_dst_match_the_oracle(tz, label, data):
    period = parse_period(label, tz)
    focus = period.start.date() + dt.timedelta(days=10)
    sc = {
        "tz": tz,
        "calendar": data.draw(calendars(focus)),
        "maintenance": data.draw(maintenances(focus)),
        "exclusions": data.draw(exclusions(focus)),
    }
    ctx = _context(sc)
    rollups = random_rollups(random.Random(data.draw(st.integers(0, 2**32))), period.utc_days())
    now = period.end + dt.timedelta(days=2)
    m = measure_service(
        ctx, "unog", period, [TargetSegment(None, _sla(99.5, Budgeting.timeslices))], rollups, now, MaskCache()
    )
    t = oracle(period.start, period.end, tz, sc["calendar"], sc["maintenance"], sc["exclusions"], rollups)
    _check_counts(m, t, timed=False)
    assert m.closed
