"""Periods: labels, boundaries at local midnight in the office timezone, closing."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slamon.core.model import Period
from slamon.core.sla.periods import (
    PeriodError,
    parse_period,
    period_containing,
    previous_period,
)

UTC = dt.UTC


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_month_in_new_york_spans_the_november_dst_change():
    p = parse_period("2026-11", "America/New_York")
    assert p.kind == Period.month and p.label == "2026-11"
    assert p.start == utc(2026, 11, 1, 4)  # midnight EDT
    assert p.end == utc(2026, 12, 1, 5)  # midnight EST
    assert p.seconds == 30 * 86400 + 3600  # the repeated hour is part of the month


def test_quarter_year_and_biennium_boundaries():
    q = parse_period("2026-Q3", "Europe/Zurich")
    assert (q.start, q.end) == (utc(2026, 6, 30, 22), utc(2026, 9, 30, 22))
    y = parse_period("2026", "Africa/Nairobi")
    assert (y.start, y.end) == (utc(2025, 12, 31, 21), utc(2026, 12, 31, 21))
    b = parse_period("2026-2027", "Europe/Vienna")
    assert (b.kind, b.start, b.end) == (Period.biennium, utc(2025, 12, 31, 23), utc(2027, 12, 31, 23))
    assert len(b.utc_days()) == 730 + 1  # touches 2025-12-31 UTC as well


@pytest.mark.parametrize("label", ["2027-2028", "2026-2028", "2026-13", "2026-Q5", "26", "last month", ""])
def test_bad_labels_are_refused_with_a_reason(label):
    with pytest.raises(PeriodError):
        parse_period(label, "Europe/Zurich")


def test_rolling_30_days_ends_at_now_floored_and_never_closes():
    now = utc(2026, 11, 29, 3, 10, 41)
    p = parse_period("rolling-30d", "Europe/Zurich", now=now)
    assert p.end == utc(2026, 11, 29, 3, 10)
    assert p.start == p.end - dt.timedelta(days=30)
    assert not p.closed(now + dt.timedelta(days=365))
    with pytest.raises(PeriodError):
        parse_period("rolling-30d", "Europe/Zurich")


def test_closed_when_end_is_not_after_now():
    p = parse_period("2026-10", "Europe/Zurich")
    assert not p.closed(p.end - dt.timedelta(seconds=1))
    assert p.closed(p.end)


def test_period_containing_an_instant_uses_the_local_date():
    # 03:30 UTC on 1 November is still 31 October in New York
    at = utc(2026, 11, 1, 3, 30)
    assert period_containing(Period.month, at, "America/New_York").label == "2026-10"
    assert period_containing(Period.month, at, "Europe/Zurich").label == "2026-11"
    assert period_containing(Period.quarter, at, "America/New_York").label == "2026-Q4"
    assert period_containing(Period.biennium, utc(2027, 6, 1), "Europe/Vienna").label == "2026-2027"
    assert period_containing(Period.year, at, "Africa/Nairobi").label == "2026"


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(list(Period)),
    st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2060, 1, 1)),
    st.sampled_from(["America/New_York", "Europe/Zurich", "Europe/Vienna", "Africa/Nairobi"]),
)
def test_every_instant_lies_in_its_period_and_periods_tile(kind, naive, tz):
    at = naive.replace(tzinfo=UTC)
    p = period_containing(kind, at, tz)
    if kind == Period.rolling_30d:
        assert p.end <= at < p.end + dt.timedelta(minutes=1)
        return
    assert p.contains(at)
    before = previous_period(p)
    assert before.end == p.start and before.kind == kind
    assert parse_period(p.label, tz) == p


def test_sla_periods_within_a_report_period():
    from slamon.core.sla.periods import parse_period, sla_periods_within

    tz = "Europe/Zurich"
    now = dt.datetime(2027, 3, 15, tzinfo=dt.UTC)
    biennium = parse_period("2026-2027", tz)
    months = sla_periods_within(Period.month, biennium, tz, now)
    assert [p.label for p in months][:2] == ["2026-01", "2026-02"] and months[-1].label == "2027-03"  # begun by now
    assert len(months) == 15 and months[-1].closed(now) is False
    # a quarterly SLA over a month: the whole quarter, judged on its own result
    (q,) = sla_periods_within(Period.quarter, parse_period("2026-05", tz), tz, now)
    assert (q.label, q.start, q.end) == ("2026-Q2", dt.datetime(2026, 3, 31, 22, tzinfo=dt.UTC),
                                         dt.datetime(2026, 6, 30, 22, tzinfo=dt.UTC))
    # rolling 30 days: consecutive 30 x 24 h periods from the start, the last one cut at the end
    rolling = sla_periods_within(Period.rolling_30d, parse_period("2026", tz), tz, now)
    assert len(rolling) == 13 and rolling[0].label == "2026-01-01/2026-01-30"
    assert all(b.start == a.end for a, b in itertools.pairwise(rolling))
    assert rolling[-1].end == parse_period("2026", tz).end and rolling[-1].label == "2026-12-27/2026-12-31"
    assert sla_periods_within(Period.month, parse_period("2028", tz), tz, now) == []  # not begun


def test_a_mistyped_period_gets_a_did_you_mean():
    from slamon.core.sla.periods import suggest_period

    cases = {"2013-13": "2013-12", "2013-2014": "2012-2013", "2012-13": "2012-2013", "2013q2": "2013-Q2",
             "Q3 2013": "2013-Q3", "2013/05": "2013-05", "rolling30d": "rolling-30d", "someday": None}
    assert {k: suggest_period(k) for k in cases} == cases
