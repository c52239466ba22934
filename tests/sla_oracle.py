"""A plain minute-by-minute oracle of the SLA definitions, for the engine's tests.

It walks every minute of a window, reads the office's wall clock at that minute and
asks the questions of docs/sla.md one by one (in hours? holiday? in maintenance?
excluded? observed? good?). It shares nothing with the engine except the catalogue
models it reads: no bitmaps, no offset runs, no caches.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import math
import random
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from slamon.core.model import Calendar, OneOffMaintenance, RecurringMaintenance
from slamon.core.sla.exclusions import Exclusion
from slamon.core.sla.rollup import DayRollup

UTC = dt.UTC
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def hm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 60 + int(m)


def in_hours(calendar: Calendar | None, wall: dt.datetime) -> bool:
    if calendar is None:  # 24x7
        return True
    if any(h.date == wall.date() for h in calendar.holidays):
        return False
    minute = wall.hour * 60 + wall.minute
    for window in calendar.hours:
        if WEEKDAYS[wall.weekday()] in [d.value for d in window.days]:
            if hm(window.start) <= minute < hm(window.end):
                return True
    return False


def _occurs(item: RecurringMaintenance, date: dt.date) -> bool:
    if item.every == "day":
        return True
    if item.every == "week":
        return WEEKDAYS[date.weekday()] in [d.value for d in item.days or []]
    last = _calendar.monthrange(date.year, date.month)[1]
    return date.day == min(item.day_of_month or 0, last)


def in_maintenance(items, wall: dt.datetime, at: dt.datetime) -> bool:
    for item in items:
        if isinstance(item, RecurringMaintenance):
            back = math.ceil(item.duration / 86400) + 1
            for k in range(back + 1):
                date = wall.date() - dt.timedelta(days=k)
                if not _occurs(item, date):
                    continue
                h, m = item.start.split(":")
                start = dt.datetime(date.year, date.month, date.day) + dt.timedelta(
                    hours=int(h), minutes=int(m)
                )
                if start <= wall < start + dt.timedelta(seconds=item.duration):
                    return True
        else:
            assert isinstance(item, OneOffMaintenance)
            if item.from_.tzinfo is None:
                if item.from_ <= wall < item.to:
                    return True
            elif item.from_ <= at < item.to:
                return True
    return False


@dataclass
class Tally:
    window: int = 0
    eligible: int = 0
    observed: int = 0
    good: int = 0
    fast: int = 0
    steps_ok: int = 0
    outside_hours: int = 0
    maintenance: int = 0
    excluded: int = 0
    outage_runs: int = 0
    results_total: int = 0
    results_good: int = 0
    longest_outage: int = 0
    overrun: int = 0  # bad minutes of outages that began the minute after maintenance
    dependency: int = 0  # other bad minutes in which a dependency was bad
    eligible_at: set[dt.datetime] = field(default_factory=set)

    @property
    def bad(self) -> int:
        return self.observed - self.good


def bit(mask: int, minute: int) -> bool:
    return bool(mask >> minute & 1)


def oracle(
    start: dt.datetime,
    end: dt.datetime,
    timezone: str,
    calendar: Calendar | None,
    maintenance: list,
    exclusions: list[Exclusion],
    rollups: dict[dt.date, DayRollup],
    dependency_bad: dict[dt.date, int] | None = None,
) -> Tally:
    zone = ZoneInfo(timezone)
    t = Tally()
    at = start.astimezone(UTC)
    previous_bad = False
    run = 0
    over = False
    while at < end:
        wall = at.astimezone(zone).replace(tzinfo=None)
        t.window += 1
        bad_now = False
        if not in_hours(calendar, wall):
            t.outside_hours += 1
        elif in_maintenance(maintenance, wall, at):
            t.maintenance += 1
        elif any(ex.start <= at < ex.end for ex in exclusions):
            t.excluded += 1
        else:
            t.eligible += 1
            t.eligible_at.add(at)
            r = rollups.get(at.date())
            i = at.hour * 60 + at.minute
            if r is not None:
                t.results_total += r.total_counts[i]
                t.results_good += r.good_counts[i]
                if bit(r.observed, i):
                    t.observed += 1
                    t.fast += bit(r.fast, i)
                    t.steps_ok += bit(r.steps_ok, i)
                    if bit(r.good, i):
                        t.good += 1
                    else:
                        bad_now = True
                        if not previous_bad:
                            t.outage_runs += 1
                            run = 0
                            before = at - dt.timedelta(minutes=1)
                            over = in_maintenance(maintenance, before.astimezone(zone).replace(tzinfo=None), before)
                        run += 1
                        t.longest_outage = max(t.longest_outage, run)
                        if over:
                            t.overrun += 1
                        elif dependency_bad and bit(dependency_bad.get(at.date(), 0), i):
                            t.dependency += 1
        previous_bad = bad_now
        at += dt.timedelta(minutes=1)
    return t


def random_bits(rng: random.Random, runs: int, max_len: int) -> int:
    out = 0
    for _ in range(runs):
        a = rng.randrange(1440)
        n = rng.randrange(1, max_len + 1)
        out |= ((1 << n) - 1) << a
    return out & ((1 << 1440) - 1)


def random_rollups(rng: random.Random, days: list[dt.date], service: str = "s", vantage: str = "v"):
    """Rollups with gaps (missing days, unobserved stretches) and consistent counts:
    a good minute has every result good; a bad one at least one failure."""
    out: dict[dt.date, DayRollup] = {}
    for day in days:
        if rng.random() < 0.15:
            continue  # a day with no data at all
        observed = ((1 << 1440) - 1) & ~random_bits(rng, rng.randrange(0, 4), 300)
        bad = random_bits(rng, rng.randrange(0, 6), 40) & observed
        good = observed & ~bad
        fast = observed & ~random_bits(rng, rng.randrange(0, 4), 60)
        steps = observed & ~random_bits(rng, rng.randrange(0, 3), 30)
        total = bytearray(1440)
        goods = bytearray(1440)
        for i in range(1440):
            if observed >> i & 1:
                n = rng.randrange(1, 4)
                total[i] = n
                goods[i] = n if good >> i & 1 else rng.randrange(0, n)
        out[day] = DayRollup(vantage, service, day, observed, good, fast, steps, bytes(total), bytes(goods))
    return out
