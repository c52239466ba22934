"""Hand-computed SLA examples: each number below is worked out in the comments."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from slamon.core.model import Budgeting, Calendar, Office, RecurringMaintenance, Service
from slamon.core.sla.bulk import MeasureJob, index_rollups, measure_many
from slamon.core.sla.calendar import OfficeCalendar, office_calendars
from slamon.core.sla.context import ServiceContext, TargetSegment, current_targets, service_context
from slamon.core.sla.exclusions import Exclusion
from slamon.core.sla.maintenance import MaintenanceSchedule
from slamon.core.sla.masks import MaskCache, is_eligible
from slamon.core.sla.measure import AVAILABILITY, UNPLANNED_OUTAGES, measure_service
from slamon.core.sla.periods import parse_period
from slamon.core.sla.rollup import ALL_MINUTES, DayRollup
from slamon.core.sla.vantages import combine_vantages
from tests.sla_helpers import rollups, sla, utc

DATA = Path(__file__).resolve().parent / "data"
BUSINESS = Calendar.model_validate(
    {
        "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00"}],
        "holidays": [{"date": "2026-12-25", "name": "Christmas Day"}],
    }
)


def _ctx(tz: str, calendar: Calendar | None = None, maintenance=(), exclusions=()) -> ServiceContext:
    cals = {"24x7": OfficeCalendar.always_on(tz)}
    if calendar is not None:
        cals["business-hours"] = OfficeCalendar.from_model("business-hours", calendar, tz)
    models = [RecurringMaintenance.model_validate(m) if "every" in m else m for m in maintenance]
    return ServiceContext("svc", tz, cals, MaintenanceSchedule.from_models(models, tz), tuple(exclusions))


def _measure(ctx, label, targets, data, now=None, vantage="v"):
    period = parse_period(label, ctx.timezone)
    now = now or period.end + dt.timedelta(hours=1)
    return measure_service(ctx, vantage, period, targets, data, now, MaskCache())


def test_a_month_of_business_hours_with_one_holiday():
    # December 2026 in Geneva: 1 Dec is a Tuesday; weekdays 1-4 (4), 7-11, 14-18, 21-25
    # (3 x 5) and 28-31 (4) = 23, minus Christmas (Fri 25) = 22 days x 600 minutes.
    ctx = _ctx("Europe/Zurich", BUSINESS)
    period = parse_period("2026-12", "Europe/Zurich")
    data = rollups(
        period.utc_days(),
        bad=[(utc(2026, 12, 2, 8, 0), 30)],  # 09:00-09:30 CET on Wednesday 2 Dec
        missing={dt.date(2026, 12, 3)},  # no data on Thursday 3 Dec: 600 minutes unobserved
    )
    m = _measure(ctx, "2026-12", [TargetSegment(None, sla(99.5, schedule="business-hours"))], data)
    assert m.eligible_minutes == 13_200
    assert m.unobserved_minutes == 600
    assert m.observed_minutes == 12_600
    assert m.good_minutes == 12_570 and m.bad_minutes == 30
    assert m.outside_hours_minutes == m.window_minutes - 13_200
    assert m.objectives[AVAILABILITY].actual == pytest.approx(12_570 / 12_600)
    assert m.objectives[AVAILABILITY].met is True
    # budget: 0.5 % of 12,600 observed minutes = 63 min; 30 consumed
    assert m.budget_seconds == pytest.approx(63 * 60)
    assert m.consumed_seconds == 30 * 60
    assert m.remaining_seconds == pytest.approx(33 * 60)
    assert m.burn_rate == pytest.approx(30 / 63)
    assert m.remaining_ratio == pytest.approx(33 / 63)
    assert m.seconds("unobserved") == 36_000
    assert m.closed and m.met is True


def test_weekly_maintenance_in_a_plain_month_and_on_both_dst_sundays():
    weekly = [{"name": "weekly patching", "every": "week", "days": ["sun"], "start": "02:00", "duration": "2h"}]
    # November 2026, Vienna: Sundays 1, 8, 15, 22, 29 -> 5 x 120 minutes
    m = _measure(_ctx("Europe/Vienna", maintenance=weekly), "2026-11", [TargetSegment(None, sla())], {})
    assert (m.window_minutes, m.maintenance_minutes, m.eligible_minutes) == (43_200, 600, 42_600)
    # October 2026, Zurich: on Sunday 25 the clock shows 02:00-03:00 twice, so the
    # 02:00-04:00 window lasts 3 hours: 3 x 120 + 180; the month has 44,640 + 60 minutes
    m = _measure(_ctx("Europe/Zurich", maintenance=weekly), "2026-10", [TargetSegment(None, sla())], {})
    assert (m.window_minutes, m.maintenance_minutes) == (44_700, 540)
    # March 2026, Zurich: on Sunday 29 02:00-03:00 never happens: 4 x 120 + 60
    m = _measure(_ctx("Europe/Zurich", maintenance=weekly), "2026-03", [TargetSegment(None, sla())], {})
    assert (m.window_minutes, m.maintenance_minutes) == (44_580, 540)
    assert m.unobserved_minutes == m.eligible_minutes  # no data: reported, not guessed
    assert m.objectives[AVAILABILITY].met is None and m.met is None


def test_night_maintenance_on_business_hours_is_not_counted_twice():
    weekly = [{"name": "patching", "every": "week", "days": ["sun"], "start": "02:00", "duration": "2h"}]
    ctx = _ctx("Europe/Zurich", BUSINESS, maintenance=weekly)
    m = _measure(ctx, "2026-11", [TargetSegment(None, sla(schedule="business-hours"))], {})
    assert m.maintenance_minutes == 0  # already outside service hours
    assert m.eligible_minutes == 21 * 600  # November 2026: 21 weekdays, no holiday


def test_maintenance_crossing_two_midnights_and_a_one_off_window():
    # Saturday 23:00 for 40 h, Nairobi (UTC+3, no DST): Sat 31 Oct 23:00 reaches into
    # November until Mon 2 Nov 15:00 (39 h); the four Saturdays in November give 40 h each.
    long = [{"name": "long", "every": "week", "days": ["sat"], "start": "23:00", "duration": "40h"}]
    m = _measure(_ctx("Africa/Nairobi", maintenance=long), "2026-11", [TargetSegment(None, sla())], {})
    assert m.maintenance_minutes == 39 * 60 + 4 * 40 * 60
    # DESIGN.md's storage migration, local Geneva time: 20:00 to 02:00 = 6 h
    svc = Service.model_validate(yaml.safe_load((DATA / "design_example_service.yaml").read_text()))
    office = Office(id="unog", name="Geneva", city="Geneva", timezone="Europe/Zurich", calendars={})
    ctx = service_context(svc, office)
    m = _measure(ctx, "2026-05", [TargetSegment(None, sla())], {})
    # plus weekly patching on the five Sundays of May 2026 (3, 10, 17, 24, 31)
    assert m.maintenance_minutes == 360 + 5 * 120
    cache = MaskCache()
    scope = ctx.scope("24x7")
    assert not is_eligible(utc(2026, 5, 9, 18, 0, 1), scope, cache)  # 20:00:01 CEST
    assert is_eligible(utc(2026, 5, 9, 17, 59, 59), scope, cache)
    assert not is_eligible(utc(2026, 5, 10, 1, 59), scope, cache)  # Sunday patching follows
    assert is_eligible(utc(2026, 5, 10, 2, 0), scope, cache)  # 04:00 CEST: both over


def test_occurrences_and_timeslices_differ_on_the_same_data():
    # one day in Nairobi: 100 observed minutes with 2 results each; in 10 of them one
    # of the two results failed. Timeslices: 90/100. Occurrences: 190/200.
    day = dt.date(2026, 11, 10)
    observed = (1 << 100) - 1
    bad = (1 << 10) - 1
    total = bytes([2] * 100 + [0] * 1340)
    good = bytes([1] * 10 + [2] * 90 + [0] * 1340)
    data = {day: DayRollup("v", "svc", day, observed, observed & ~bad, observed, observed, total, good)}
    ctx = _ctx("Africa/Nairobi")
    ts = _measure(ctx, "2026-11", [TargetSegment(None, sla(94.0))], data)
    oc = _measure(ctx, "2026-11", [TargetSegment(None, sla(94.0, budgeting=Budgeting.occurrences))], data)
    assert ts.objectives[AVAILABILITY].actual == pytest.approx(0.90)
    assert ts.objectives[AVAILABILITY].met is False
    assert oc.objectives[AVAILABILITY].actual == pytest.approx(0.95)
    assert oc.objectives[AVAILABILITY].unit == "results"
    assert oc.objectives[AVAILABILITY].met is True
    assert (oc.results_total, oc.results_good) == (200, 190)
    # budget in time: 6 % of 100 observed minutes; consumed: 10/200 of them
    assert oc.budget_seconds == pytest.approx(360)
    assert oc.consumed_seconds == pytest.approx(300)
    assert ts.unobserved_minutes == 43_200 - 100


def test_no_unplanned_outage_service_with_one_bad_minute_breaches():
    from slamon.core.sla.breaches import evaluate_breaches

    period = parse_period("2026-11", "America/New_York")
    data = rollups(period.utc_days(), bad=[(utc(2026, 11, 12, 15, 7), 1)])
    targets = [TargetSegment(None, sla(99.9, unplanned_outages=0))]
    m = _measure(_ctx("America/New_York"), "2026-11", targets, data, now=utc(2026, 11, 20))
    assert m.objectives[AVAILABILITY].met is True  # 1 bad minute of ~27,000 is fine for 99.9 %
    out = m.objectives[UNPLANNED_OUTAGES]
    assert (out.actual, out.met) == (1.0, False)
    assert m.outage_runs == 1
    assert m.met is False
    events = evaluate_breaches([m], [], now=utc(2026, 11, 20))
    assert [(e.kind, e.reason, e.breach.objective) for e in events] == [
        ("opened", "unplanned_outage", UNPLANNED_OUTAGES)
    ]


def test_target_change_mid_period_keeps_history():
    # New York, November 2026, 24x7. 99.0 % until 15 Nov; 99.9 % from 16 Nov (local midnight).
    # Part 1: 1-15 Nov = 15 days + the repeated hour on 1 Nov = 21,660 minutes, 1 % = 216.6
    # Part 2: 16-30 Nov = 21,600 minutes, 0.1 % = 21.6. Period allowance: 238.2 minutes.
    period = parse_period("2026-11", "America/New_York")
    targets = [TargetSegment(dt.date(2026, 11, 16), sla(99.9)), TargetSegment(None, sla(99.0))]
    ctx = _ctx("America/New_York")

    def run(bad_in_second_part: int):
        data = rollups(
            period.utc_days(),
            bad=[(utc(2026, 11, 5, 12), 100), (utc(2026, 11, 20, 12), bad_in_second_part)],
        )
        return _measure(ctx, "2026-11", targets, data)

    m = run(30)
    first, second = m.parts
    assert second.start == utc(2026, 11, 16, 5)  # midnight EST
    assert (first.observed, second.observed) == (21_660, 21_600)
    assert (first.bad, second.bad) == (100, 30)
    assert first.sla.availability == 99.0 and second.sla.availability == 99.9
    assert m.budget_seconds == pytest.approx(238.2 * 60)
    assert m.consumed_seconds == 130 * 60
    # the second part alone is below its 99.9 % (30 > 21.6 minutes), but the period's
    # verdict sums each part's allowance: 130 <= 238.2
    assert m.objectives[AVAILABILITY].met is True
    assert m.objectives[AVAILABILITY].target == 99.9  # the target in force now
    assert run(139).objectives[AVAILABILITY].met is False  # 239 > 238.2
    assert run(138).objectives[AVAILABILITY].met is True  # 238 <= 238.2


def test_current_period_counts_only_complete_minutes():
    period = parse_period("2026-11", "America/New_York")
    now = utc(2026, 11, 10, 12, 34, 56)
    m = _measure(_ctx("America/New_York"), "2026-11", [TargetSegment(None, sla())], rollups(period.utc_days()), now=now)
    assert m.as_of == utc(2026, 11, 10, 12, 34)
    assert m.window_minutes == 9 * 1440 + 8 * 60 + 34  # from 04:00Z on 1 Nov
    assert m.elapsed_ratio == pytest.approx(m.window_minutes / 43_260)
    assert not m.closed


def test_service_hours_on_dst_days_follow_the_wall_clock():
    sundays = Calendar.model_validate({"hours": [{"days": ["sun"], "start": "00:00", "end": "24:00"}]})
    ctx = _ctx("America/New_York", sundays)
    targets = [TargetSegment(None, sla(schedule="business-hours"))]
    # 1 Nov 2026 has 25 hours; 8 Mar 2026 has 23
    assert _measure(ctx, "2026-11", targets, {}).eligible_minutes == 4 * 1440 + 1500
    assert _measure(ctx, "2026-03", targets, {}).eligible_minutes == 4 * 1440 + 1380
    early = Calendar.model_validate({"hours": [{"days": ["sun"], "start": "02:00", "end": "04:00"}]})
    ctx = _ctx("Europe/Zurich", early)
    m = _measure(ctx, "2026-03", targets, {})
    assert m.eligible_minutes == 4 * 120 + 60  # 29 March: 02:00-03:00 does not exist


def test_exclusions_need_reason_and_approver_and_leave_both_sides():
    with pytest.raises(ValueError):
        Exclusion(dt.datetime(2026, 11, 3), dt.datetime(2026, 11, 4), "r", "a")  # naive
    with pytest.raises(ValueError):
        Exclusion(utc(2026, 11, 3), utc(2026, 11, 4), " ", "a")
    with pytest.raises(ValueError):
        Exclusion(utc(2026, 11, 4), utc(2026, 11, 3), "r", "a")
    period = parse_period("2026-11", "Africa/Nairobi")
    data = rollups(period.utc_days(), bad=[(utc(2026, 11, 3, 10), 90)])
    # the upstream provider's outage 10:00-11:00 UTC is excluded (approved);
    # it overlaps a one-off maintenance 10:30-11:30 UTC, which takes precedence.
    once = {"name": "once", "from": "2026-11-03T10:30:00Z", "to": "2026-11-03T11:30:00Z"}
    from slamon.core.model import OneOffMaintenance

    ex = Exclusion(utc(2026, 11, 3, 10), utc(2026, 11, 3, 11), "provider outage", "ICT director")
    ctx = _ctx("Africa/Nairobi", maintenance=[OneOffMaintenance.model_validate(once)], exclusions=[ex])
    m = _measure(ctx, "2026-11", [TargetSegment(None, sla())], data)
    assert m.maintenance_minutes == 60
    assert m.excluded_minutes == 30
    assert m.bad_minutes == 0  # 10:00-11:30 was excluded or maintenance
    assert m.eligible_minutes == 43_200 - 90


def test_a_service_meets_its_level_only_from_every_vantage():
    period = parse_period("2026-11", "America/New_York")
    days = period.utc_days()
    ctx = _ctx("America/New_York")
    targets = [TargetSegment(None, sla(99.9))]
    good = _measure(ctx, "2026-11", targets, rollups(days, vantage="unhq"), vantage="unhq")
    bad = _measure(ctx, "2026-11", targets, rollups(days, bad=[(utc(2026, 11, 9), 120)]), vantage="unon")
    blind = _measure(ctx, "2026-11", targets, {}, vantage="unog")
    assert combine_vantages([good]).met is True
    level = combine_vantages([good, bad, blind])
    assert level.met is False and level.failing_vantages == ("unon",)
    assert level.worst is bad
    assert combine_vantages([good, blind]).met is None  # Geneva saw nothing: unknown
    assert combine_vantages([good, blind]).unobserved_vantages == ("unog",)
    assert level.objective_met(AVAILABILITY) is False


def test_bulk_measures_share_plans_and_agree_with_single_measures():
    offices = [("unog", "Europe/Zurich"), ("unon", "Africa/Nairobi")]
    jobs, singles = [], []
    cache = MaskCache()
    for office_id, tz in offices:
        office = Office(id=office_id, name=office_id, city=office_id, timezone=tz,
                        calendars={"business-hours": BUSINESS})
        cals = office_calendars(office)
        period = parse_period("2026-Q4", tz)
        for i in range(5):
            ctx = ServiceContext(f"{office_id}-s{i}", tz, cals)
            data = rollups(period.utc_days(), bad=[(utc(2026, 10, 5 + i, 9), 10 * i)], service=ctx.service_id)
            targets = [TargetSegment(None, sla(99.5, schedule="business-hours"))]
            jobs.append(MeasureJob(ctx, office_id, period, targets, data))
            singles.append(measure_service(ctx, office_id, period, targets, data, utc(2027, 2, 1), MaskCache()))
    out = list(measure_many(jobs, utc(2027, 2, 1), cache))
    assert [m.to_dict() for m in out] == [m.to_dict() for m in singles]
    assert len(cache._plans.data) == 2  # one plan per office, shared by its five services
    assert [m.bad_minutes for m in out[:5]] == [0, 10, 20, 30, 40]


def test_index_rollups_merges_partial_days():
    day = dt.date(2026, 11, 2)
    a = DayRollup("v", "s", day, observed=0b11, good=0b01)
    b = DayRollup("v", "s", day, observed=0b110, good=0b110)
    merged = index_rollups([a, b])[("s", "v")][day]
    assert (merged.observed, merged.good) == (0b111, 0b101)


def test_current_targets_follow_the_catalogue_revision():
    svc = Service.model_validate(yaml.safe_load((DATA / "design_example_service.yaml").read_text()))
    from slamon.core.model import Tier

    tier = Tier(id="gold", name="Gold", benchmark="ITIL", availability=99.5)
    (seg,) = current_targets(svc, tier)
    assert seg.sla.availability == 99.9 and seg.sla.schedule == "business-hours"
    assert ALL_MINUTES.bit_count() == 1440


def test_a_quarter_combined_from_its_months_equals_the_quarter_measured_directly():
    from slamon.core.sla.measure import combine_measures

    tz = "America/New_York"
    quarter = parse_period("2026-Q4", tz)
    data = rollups(quarter.utc_days(), bad=[(utc(2026, 10, 7, 12), 1), (utc(2026, 12, 7, 12), 1)])
    ctx = _ctx(tz)
    targets = [TargetSegment(None, sla(99.9, unplanned_outages=1))]
    now = utc(2027, 1, 5)
    direct = measure_service(ctx, "v", quarter, targets, data, now, MaskCache())
    months = [
        measure_service(ctx, "v", parse_period(label, tz), targets, data, now, MaskCache())
        for label in ("2026-12", "2026-10", "2026-11")  # any order
    ]
    assert all(m.objectives[UNPLANNED_OUTAGES].met for m in months)  # one bad minute each at most
    combined = combine_measures(months, quarter, now)
    assert combined.to_dict() == direct.to_dict()
    assert combined.objectives[UNPLANNED_OUTAGES].met is False  # two in the quarter, one allowed
    with pytest.raises(ValueError):
        combine_measures(months[:2], quarter, now)  # October and December do not meet


def test_catalogue_contexts_share_office_calendars():
    from slamon.core.catalogue import Catalogue
    from slamon.core.model import IndicatorsFile, PracticesFile
    from slamon.core.sla.context import catalogue_contexts

    svc = Service.model_validate(yaml.safe_load((DATA / "design_example_service.yaml").read_text()))
    other = svc.model_copy(update={"id": "unog-intranet", "maintenance": []})
    office = Office(id="unog", name="Geneva", city="Geneva", timezone="Europe/Zurich",
                    calendars={"business-hours": BUSINESS})
    from slamon.core.model import Tier

    cat = Catalogue(
        offices={"unog": office},
        tiers={"gold": Tier(id="gold", name="Gold", benchmark="ITIL", availability=99.5)},
        practices=PracticesFile.model_validate(
            {"apiVersion": "slamon/v1", "kind": "Practices", "clauses": [{"clause": "8.3.3", "title": "SLM"}]}
        ),
        indicators=IndicatorsFile.model_validate(
            {"apiVersion": "slamon/v1", "kind": "Indicators",
             "indicators": [{"id": "automated-services", "code": "(a)(i)", "title": "t", "unit": "count"}]}
        ),
        services={svc.id: svc, other.id: other},
    )
    ex = Exclusion(utc(2026, 12, 1, 9), utc(2026, 12, 1, 10), "provider", "director")
    ctxs = catalogue_contexts(cat, {"unog-intranet": [ex]})
    assert ctxs["unog-email"].calendars is ctxs["unog-intranet"].calendars
    assert ctxs["unog-intranet"].maintenance is None and ctxs["unog-intranet"].exclusions == (ex,)
    cache = MaskCache()
    email = ctxs["unog-email"].scope(cat.sla("unog-email").schedule)
    intranet = ctxs["unog-intranet"].scope(cat.sla("unog-intranet").schedule)
    assert is_eligible(utc(2026, 12, 1, 9, 30), email, cache)  # Tuesday 10:30 CET
    assert not is_eligible(utc(2026, 12, 1, 9, 30), intranet, cache)  # excluded
    assert not is_eligible(utc(2026, 12, 25, 9, 30), email, cache)  # Christmas Day
    assert not is_eligible(utc(2026, 12, 1, 17, 0), email, cache)  # 18:00 CET: closed
