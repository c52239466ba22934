"""One quick measurement of the pure SLA engine: N services x one biennium of rollups.

    python benchmarks/sla_engine_bench.py [SERVICES]

Services are spread over the four offices, half on business hours and half 24x7, a
tenth with weekly maintenance; each has a day rollup for every UTC day, with gaps and
bad minutes on some days. The rollups are built first (as a store would hand them
over); the figures printed are for measuring only.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time

from slamon.core.catalogue import EffectiveSLA
from slamon.core.model import Budgeting, Calendar, Office, Period, RecurringMaintenance
from slamon.core.sla.bulk import MeasureJob, measure_many
from slamon.core.sla.calendar import office_calendars
from slamon.core.sla.context import ServiceContext, TargetSegment
from slamon.core.sla.maintenance import MaintenanceSchedule
from slamon.core.sla.masks import MaskCache
from slamon.core.sla.periods import parse_period
from slamon.core.sla.rollup import ALL_MINUTES, DayRollup

OFFICES = [
    ("unhq", "America/New_York"),
    ("unog", "Europe/Zurich"),
    ("unov", "Europe/Vienna"),
    ("unon", "Africa/Nairobi"),
]
BUSINESS = Calendar.model_validate(
    {
        "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00"}],
        "holidays": [{"date": "2026-12-25", "name": "x"}, {"date": "2027-01-01", "name": "y"}],
    }
)


def main(n: int) -> None:
    rng = random.Random(1)
    variants = [ALL_MINUTES & ~(((1 << rng.randrange(1, 30)) - 1) << rng.randrange(1400)) for _ in range(64)]
    offices = {}
    for oid, tz in OFFICES:
        office = Office(id=oid, name=oid, city=oid, timezone=tz, calendars={"business-hours": BUSINESS})
        period = parse_period("2026-2027", tz)
        offices[oid] = (tz, office_calendars(office), period, period.utc_days())
    weekly = MaintenanceSchedule.from_models(
        [RecurringMaintenance.model_validate({"name": "w", "every": "week", "days": ["sun"], "start": "02:00", "duration": "2h"})],
        "Europe/Zurich",
    )

    def jobs():
        for i in range(n):
            oid = OFFICES[i % 4][0]
            tz, cals, period, days = offices[oid]
            schedule = "business-hours" if i % 2 else "24x7"
            maint = weekly if i % 10 == 0 and oid == "unog" else None
            ctx = ServiceContext(f"{oid}-s{i}", tz, cals, maint)
            target = EffectiveSLA(99.5, None, None, None, schedule, Period.biennium, Budgeting.timeslices)
            data = {}
            for day in days:
                if rng.random() < 0.01:
                    continue  # a day without data
                good = variants[rng.randrange(64)] if rng.random() < 0.05 else ALL_MINUTES
                data[day] = DayRollup(oid, ctx.service_id, day, ALL_MINUTES, good, ALL_MINUTES, ALL_MINUTES)
            yield MeasureJob(ctx, oid, period, [TargetSegment(None, target)], data)

    now = dt.datetime(2028, 1, 2, tzinfo=dt.UTC)
    prepared = list(jobs())
    cache = MaskCache()
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    met = sum(1 for m in measure_many(prepared, now, cache) if m.met)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    print(f"{n} services x biennium: {wall:.2f} s wall, {cpu:.2f} s CPU, {met} met")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
