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

import asyncio
import csv
import dataclasses
import datetime as dt
import io

import aiohttp
import pytest

from exporters.reports import build_report, render
from slamon.assess import assess_period
from slamon.cli.sla import as_json, as_text
from slamon.core.model import RecurringMaintenance
from slamon.core.sla.calendar import OfficeCalendar
from slamon.core.sla.context import ServiceContext, TargetSegment
from slamon.core.sla.maintenance import MaintenanceSchedule
from slamon.core.sla.masks import MaskCache
from slamon.core.sla.measure import combine_measures, dependency_bad_minutes, measure_service
from slamon.core.sla.periods import parse_period
from slamon.runtime import Runtime
from slamon.store import Store
from slamon.store.writer import catalogue_thresholds
from slamon.web import WebServer, build_app
from tests.exporters_estate import catalogue as estate_catalogue
from tests.exporters_estate import service
from tests.sla_helpers import rollups, sla, utc
from tests.store_support import result

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


# ------------------------------------------------------------------ through every output
#
# New York, November 2026 (EST, UTC-5 from 1 Nov 06:00 UTC; the period starts 1 Nov
# 04:00 UTC), as of 20 Nov 12:00 UTC: a window of 19 days 8 hours = 27,840 minutes.
# unhq-app depends on unhq-idp and has a one-off maintenance 10 Nov 10:00-11:00 local
# (15:00-16:00 UTC: 60 minutes). Both probed from unhq 14:00-17:00 UTC on 10 Nov.
# - app bad 14:30-14:39 (10 min) while idp was bad 14:35-14:44: dependency 5, service 5;
# - app bad 16:00-16:07 (8 min), the minute after the maintenance: overrun 8.
# app: eligible 27,780, observed 180 - 60 = 120, bad 18, good 102, unobserved 27,660;
#      outages 2, longest 10, MTRS 9, MTBF 51, MTBSI 60 minutes.
# idp: eligible 27,840, observed 180, bad 10 (its own), unobserved 27,660; 1 outage.
# Office unhq: outages 3, downtime 28, MTRS 28/3, MTBF (102 + 170)/3, MTBSI 300/3 = 100,
#      longest 10, service 15, dependency 5, overrun 8, unobserved 55,320.

APP, IDP = "unhq-app", "unhq-idp"
AS_OF = utc(2026, 11, 20, 12, 0)


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    cat = estate_catalogue([
        service(APP, extra={"depends_on": [IDP], "maintenance": [
            {"name": "upgrade", "from": "2026-11-10T10:00", "to": "2026-11-10T11:00"}]}),
        service(IDP),
    ])
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('outages')}/slamon.db")
    store.record_catalogue(list(cat.services.values()), utc(2026, 1, 1))
    start = utc(2026, 11, 10, 14, 0)

    def minutes(sid, bad):
        return [result((start + dt.timedelta(minutes=i, seconds=7)).timestamp(), success=i not in bad,
                       service=sid, vantage="unhq", probe="web") for i in range(180)]

    store.write_results(minutes(APP, set(range(30, 40)) | set(range(120, 128))) + minutes(IDP, set(range(35, 45))),
                        catalogue_thresholds(lambda: cat))
    yield store, cat
    store.close()


def test_the_measures_in_slamon_sla_the_report_and_the_api(filled):
    store, cat = filled
    a = assess_period(store, cat, "2026-11", AS_OF)
    app = a.measures[(APP, "unhq")]
    assert (app.eligible_minutes, app.observed_minutes, app.bad_minutes, app.unobserved_minutes) == (
        27_780, 120, 18, 27_660)
    expected = {"count": 2, "downtime_seconds": 18 * 60, "mtrs_seconds": 9 * 60, "mtbf_seconds": 51 * 60,
                "mtbsi_seconds": 60 * 60, "longest_seconds": 10 * 60,
                "by_cause_seconds": {"service": 300, "dependency": 300, "maintenance_overrun": 480,
                                     "unobserved": 27_660 * 60}}
    doc = as_json(a, cat)
    by_id = {s["service"]: s for s in doc["services"]}
    assert by_id[APP]["vantages"][0]["outages"] == expected
    office_expected = {
        "count": 3, "downtime_seconds": 28 * 60, "mtrs_seconds": pytest.approx(28 * 60 / 3),
        "mtbf_seconds": pytest.approx(272 * 60 / 3), "mtbsi_seconds": pytest.approx(100 * 60),
        "longest_seconds": 600,
        "by_cause_seconds": {"service": 900, "dependency": 300, "maintenance_overrun": 480,
                             "unobserved": 55_320 * 60},
    }
    assert doc["offices"] == {"unhq": office_expected}
    text = as_text(a, cat)
    assert "outages 2  downtime 18m  MTRS 9.0m  MTBF 51.0m  MTBSI 1h 00m  longest 10m" in text
    assert "downtime by cause: service 5m, dependency 5m, maintenance overrun 8m; unobserved 19d 05h 00m" in text
    assert text.endswith("office unhq: every service and vantage above together\n"
                         "  outages 3  downtime 28m  MTRS 9.3m  MTBF 1h 31m  MTBSI 1h 40m  longest 10m\n"
                         "  downtime by cause: service 15m, dependency 5m, maintenance overrun 8m; unobserved 38d 10h 00m\n\n")

    report = build_report(store, cat, "2026-11", AS_OF)
    unhq = report.offices[[s.office for s in report.offices].index("unhq")]
    (v,) = next(s for s in unhq.services if s.id == APP).vantages
    assert (v.outage_runs, v.mtrs_minutes, v.mtbf_minutes, v.mtbsi_minutes, v.longest_outage_minutes) == (2, 9, 51, 60, 10)
    assert (v.service_downtime_minutes, v.dependency_downtime_minutes, v.overrun_downtime_minutes) == (5, 5, 8)
    office = unhq.availability
    assert (office.outages, office.downtime_minutes, office.longest_outage_minutes) == (3, 28, 10)
    assert office.mtrs_minutes == pytest.approx(28 / 3) and office.mtbf_minutes == pytest.approx(272 / 3)
    assert office.mtbsi_minutes == pytest.approx(100)
    assert (office.service_downtime_minutes, office.dependency_downtime_minutes, office.overrun_downtime_minutes,
            office.unobserved_minutes) == (15, 5, 8, 55_320)
    md = render(report, "md")
    assert "| 3 | 28m | 9.3m | 1h 31m | 1h 40m | 10m | 15m | 5m | 8m | 38d 10h 00m |" in md
    assert "Outages 2, longest 10m; MTRS 9.0m, MTBF 51.0m, MTBSI 1h 00m." in md
    rows = list(csv.DictReader(io.StringIO(render(report, "csv", table="sla"))))
    row = next(r for r in rows if r["service"] == APP)
    assert (row["outage_runs"], row["mtrs_minutes"], row["dependency_downtime_minutes"],
            row["overrun_downtime_minutes"]) == ("2", "9", "5", "8")

    async def api(*urls: str) -> list[dict]:
        rt = Runtime(catalogue=cat, ready=True)
        server = WebServer(build_app(rt, lambda accept: (b"", "text/plain"), store=store,
                                     clock=AS_OF.timestamp), "127.0.0.1", 0)
        host, port = await server.start()
        out = []
        try:
            async with aiohttp.ClientSession() as s:
                for url in urls:
                    async with s.get(f"http://{host}:{port}{url}") as r:
                        assert r.status == 200
                        out.append(await r.json())
        finally:
            await server.close()
        return out

    one, office_doc = asyncio.run(api(f"/api/v1/services/{APP}/sla?period=2026-11",
                                      "/api/v1/sla?office=unhq&period=2026-11"))
    assert one["level"]["vantages"][0]["outages"] == expected
    assert office_doc["summary"]["outages"] == office_expected
