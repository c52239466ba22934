"""The availability measures (docs/sla.md, "Outages and restoration"), worked out by hand.

Geneva, November 2026 (CET, UTC+1 all month: the period is 2026-10-31 23:00 to
2026-11-30 23:00 UTC, 30 x 1,440 = 43,200 minutes), 24x7, weekly maintenance on
Sundays 02:00-04:00 local (01:00-03:00 UTC; Sundays 1, 8, 15, 22, 29: 5 x 120 = 600
minutes). Eligible: 43,200 - 600 = 42,600 minutes.

Bad stretches (UTC) and what each is:
- 3 Nov 10:00, 30 min: an outage of the service itself (a dependency bad at 09:00-09:05,
  when the service was fine, is not downtime of anything here);
- 8 Nov 03:00, 20 min: begins in the minute after the Sunday maintenance ended:
  a maintenance overrun (a dependency bad 03:00-03:05 does not change that: overrun
  comes first);
- 10 Nov 23:50 to 11 Nov 00:15, 25 min: one outage across UTC midnight; the dependency
  was bad 11 Nov 00:00-00:10: 10 minutes put down to the dependency, 15 to the service;
- 20 Nov 12:00-12:04 bad, 12:05 unobserved, 12:06-12:09 bad: two outages (5 and 4
  minutes), because an unobserved minute ends a run;
- 25 Nov: no data at all: 1,440 unobserved minutes.

Unobserved 1,441; observed 42,600 - 1,441 = 41,159; bad 30 + 20 + 25 + 5 + 4 = 84;
good 41,075. Outages 5, longest 30. MTRS 84 / 5 = 16.8 min; MTBF 41,075 / 5 = 8,215 min;
MTBSI 41,159 / 5 = 8,231.8 min. By cause: maintenance overrun 20, dependency 10,
service 84 - 20 - 10 = 54, unobserved 1,441.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from slamon.core.model import RecurringMaintenance
from slamon.core.sla.calendar import OfficeCalendar
from slamon.core.sla.context import ServiceContext, TargetSegment
from slamon.core.sla.maintenance import MaintenanceSchedule
from slamon.core.sla.masks import MaskCache
from slamon.core.sla.measure import combine_measures, dependency_bad_minutes, measure_service
from slamon.core.sla.periods import parse_period
from tests.sla_helpers import rollups, sla, utc

TZ = "Europe/Zurich"
WEEKLY = {"name": "weekly patching", "every": "week", "days": ["sun"], "start": "02:00", "duration": "2h"}


def _context() -> ServiceContext:
    maintenance = MaintenanceSchedule.from_models([RecurringMaintenance.model_validate(WEEKLY)], TZ)
    return ServiceContext("svc", TZ, {"24x7": OfficeCalendar.always_on(TZ)}, maintenance, ())


def _data(period):
    data = rollups(
        period.utc_days(),
        bad=[
            (utc(2026, 11, 3, 10, 0), 30),
            (utc(2026, 11, 8, 3, 0), 20),
            (utc(2026, 11, 10, 23, 50), 25),
            (utc(2026, 11, 20, 12, 0), 10),
        ],
        missing={dt.date(2026, 11, 25)},
    )
    day = dt.date(2026, 11, 20)
    gap = 1 << (12 * 60 + 5)  # 12:05 unobserved
    r = data[day]
    data[day] = dataclasses.replace(r, observed=r.observed & ~gap, good=r.good & ~gap, fast=r.fast & ~gap)
    return data


def _dependency():
    dep = rollups(
        [dt.date(2026, 11, 3), dt.date(2026, 11, 8), dt.date(2026, 11, 11)],
        bad=[(utc(2026, 11, 3, 9, 0), 5), (utc(2026, 11, 8, 3, 0), 5), (utc(2026, 11, 11, 0, 0), 10)],
        service="dep",
    )
    return dependency_bad_minutes([dep])


def test_outages_mtrs_mtbf_mtbsi_and_downtime_by_cause():
    period = parse_period("2026-11", TZ)
    m = measure_service(_context(), "v", period, [TargetSegment(None, sla(99.9))], _data(period),
                        period.end + dt.timedelta(hours=1), MaskCache(), dependency_bad=_dependency())
    assert (m.window_minutes, m.maintenance_minutes, m.eligible_minutes) == (43_200, 600, 42_600)
    assert (m.unobserved_minutes, m.observed_minutes, m.bad_minutes, m.good_minutes) == (1_441, 41_159, 84, 41_075)
    assert m.outage_runs == 5 and m.longest_outage_minutes == 30
    assert m.mtrs_minutes == pytest.approx(16.8)
    assert m.mtbf_minutes == pytest.approx(8_215)
    assert m.mtbsi_minutes == pytest.approx(8_231.8)
    assert m.downtime_by_cause == {"service": 54, "dependency": 10, "maintenance_overrun": 20, "unobserved": 1_441}
    doc = m.to_dict()["outages"]
    assert doc == {
        "count": 5, "downtime_seconds": 84 * 60, "mtrs_seconds": pytest.approx(16.8 * 60),
        "mtbf_seconds": pytest.approx(8_215 * 60), "mtbsi_seconds": pytest.approx(8_231.8 * 60),
        "longest_seconds": 30 * 60,
        "by_cause_seconds": {"service": 54 * 60, "dependency": 600, "maintenance_overrun": 1_200,
                             "unobserved": 1_441 * 60},
    }


def test_without_dependency_data_nothing_is_put_down_to_a_dependency():
    period = parse_period("2026-11", TZ)
    m = measure_service(_context(), "v", period, [TargetSegment(None, sla(99.9))], _data(period),
                        period.end + dt.timedelta(hours=1), MaskCache())
    assert m.downtime_by_cause == {"service": 64, "dependency": 0, "maintenance_overrun": 20, "unobserved": 1_441}


def test_no_outage_has_no_mean_times():
    period = parse_period("2026-11", TZ)
    m = measure_service(_context(), "v", period, [TargetSegment(None, sla(99.9))], rollups(period.utc_days()),
                        period.end + dt.timedelta(hours=1), MaskCache())
    assert (m.outage_runs, m.longest_outage_minutes, m.mtrs_minutes, m.mtbf_minutes, m.mtbsi_minutes) == (
        0, 0, None, None, None)
    assert m.to_dict()["outages"]["mtrs_seconds"] is None


def test_a_quarter_from_its_months_keeps_the_counts():
    # the three months combined: the same outages (none crosses a month boundary)
    quarter = parse_period("2026-Q4", TZ)
    pieces = []
    for label in ("2026-10", "2026-11", "2026-12"):
        p = parse_period(label, TZ)
        data = _data(p) if label == "2026-11" else rollups(p.utc_days())
        pieces.append(measure_service(_context(), "v", p, [TargetSegment(None, sla(99.9))], data,
                                      quarter.end + dt.timedelta(hours=1), MaskCache(), dependency_bad=_dependency()))
    q = combine_measures(pieces, quarter, quarter.end + dt.timedelta(hours=1))
    assert (q.outage_runs, q.longest_outage_minutes, q.bad_minutes) == (5, 30, 84)
    assert q.downtime_by_cause["maintenance_overrun"] == 20 and q.downtime_by_cause["dependency"] == 10
