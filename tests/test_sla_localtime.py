"""offset_runs against the tz database, sampled every 30 minutes, in the offices' zones."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from slamon.core.sla.localtime import MINUTES_PER_DAY, offset_runs

ZONES = ["America/New_York", "Europe/Zurich", "Europe/Vienna", "Africa/Nairobi", "Australia/Lord_Howe"]


@pytest.mark.parametrize("timezone", ZONES)
def test_offset_runs_match_the_tz_database(timezone):
    zone = ZoneInfo(timezone)
    day, changes = dt.date(2024, 1, 1), 0
    while day < dt.date(2028, 1, 1):
        runs = offset_runs(timezone, day)
        assert runs[0][0] == 0 and runs[-1][1] == MINUTES_PER_DAY
        assert all(a[1] == b[0] for a, b in pairwise(runs))
        changes += len(runs) - 1
        base = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        for first, end, offset in runs:
            for minute in (*range(first, end, 30), end - 1):
                at = base + dt.timedelta(minutes=minute)
                assert at.astimezone(zone).utcoffset() == dt.timedelta(minutes=offset), (day, minute)
        day += dt.timedelta(days=1)
    # two changes a year where the zone keeps DST, none in Nairobi
    assert changes == (0 if timezone == "Africa/Nairobi" else 8)
