"""History for the demo store: past days synthesised as rollups, with catalogue
revisions, breaches and an exclusion, so reports have past bienniums to show.

Fidelity: the last ``full_days`` days are complete (every minute of every day,
one result a minute); before that, back to ``start``, one day in every
``coarse_every_days`` is kept (the other days are unobserved, and reports say so).
That keeps six years of ~100 services to tens of thousands of rows, written in
seconds: each day is a handful of big-integer operations, never a result per row.

Everything is drawn from a random generator seeded with ``(seed, service, vantage,
day)``, so the same seed gives the same store, and follows each service's profile:
healthy services have a rare short incident; flaky ones scattered bad minutes;
slow ones a few percent of minutes over the latency threshold; outage-prone ones a
long incident every few days; every service is down in its planned maintenance
(which the SLA excludes); the ERP journey now and then has a step over 10 s.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from slamon.core.catalogue import Catalogue
from slamon.core.model import Fulfilment, Service
from slamon.core.sla.bulk import MeasureJob, measure_many
from slamon.core.sla.context import current_targets, service_context
from slamon.core.sla.exclusions import Exclusion
from slamon.core.sla.maintenance import MaintenanceSchedule
from slamon.core.sla.masks import MaskCache
from slamon.core.sla.periods import month
from slamon.core.sla.rollup import ALL_MINUTES, MINUTES_PER_DAY, DayRollup
from slamon.demo.profiles import ERP_SERVICE, Profile
from slamon.store import Store

log = logging.getLogger("slamon.demo")

DEFAULT_START = dt.date(2022, 1, 1)  # three bienniums: 2022-2023, 2024-2025, 2026-2027
FULL_DAYS = 90
COARSE_EVERY_DAYS = 14
BREACH_MONTHS = 12
_BITS_TO_BYTES = bytes.maketrans(b"01", b"\x00\x01")
_WRITE_CHUNK = 2000


@dataclass(frozen=True)
class BackfillSummary:
    rollups: int
    days: int
    services: int
    revisions: int
    breaches: int
    exclusions: int


def _run(start: int, length: int) -> int:
    start = max(0, min(start, MINUTES_PER_DAY))
    end = max(start, min(start + length, MINUTES_PER_DAY))
    return ((1 << (end - start)) - 1) << start


def _counts(mask: int) -> bytes:
    """One result in each minute of ``mask``, as the 1,440 per-minute counts."""
    return format(mask, f"0{MINUTES_PER_DAY}b")[::-1].encode().translate(_BITS_TO_BYTES)


def backfill_days(today: dt.date, start: dt.date = DEFAULT_START, full_days: int = FULL_DAYS,
                  coarse_every_days: int = COARSE_EVERY_DAYS) -> list[dt.date]:
    """The UTC days the history holds: sampled before the last ``full_days``, then all."""
    first_full = today - dt.timedelta(days=full_days)
    days = []
    day = start
    while day < today:
        if day >= first_full or (day - start).days % coarse_every_days == 0:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def vantages_of(service: Service) -> list[str]:
    found: list[str] = []
    for probe in service.probes:
        if probe.enabled:
            for v in probe.from_ or [service.office]:
                if v not in found:
                    found.append(v)
    return found


class _Synth:
    def __init__(self, catalogue: Catalogue, profiles: dict[str, Profile], seed: int) -> None:
        self.catalogue = catalogue
        self.profiles = profiles
        self.seed = seed
        self.maintenance = {
            s.id: MaintenanceSchedule.from_models(list(s.maintenance), catalogue.offices[s.office].timezone)
            for s in catalogue.services.values()
            if s.maintenance
        }
        self.forced: dict[tuple[str, dt.date], int] = {}  # extra bad minutes (the excluded incident)

    def day(self, service: Service, vantage: str, day: dt.date) -> DayRollup:
        rng = random.Random(f"{self.seed}:{service.id}:{vantage}:{day.isoformat()}")
        profile = self.profiles.get(service.id, Profile.healthy)
        bad = 0
        slow = 0
        steps_bad = 0
        # each biennium smoother than the one before, so (a)(ii) rises (docs/demo.md)
        if rng.random() < incident_chance(day):
            bad |= _run(rng.randrange(MINUTES_PER_DAY), rng.randint(1, 5))
        if profile is Profile.flaky:
            for _ in range(rng.randint(0, 4)):
                bad |= 1 << rng.randrange(MINUTES_PER_DAY)
        elif profile is Profile.outage and rng.random() < 0.12:
            bad |= _run(rng.randrange(MINUTES_PER_DAY), rng.randint(20, 120))
        if profile is Profile.slow:
            ratio = rng.uniform(0.01, 0.09)
            for _ in range(int(MINUTES_PER_DAY * ratio)):
                slow |= 1 << rng.randrange(MINUTES_PER_DAY)
        if service.id == ERP_SERVICE and rng.random() < 0.2:
            for _ in range(rng.randint(1, 3)):
                steps_bad |= 1 << rng.randrange(MINUTES_PER_DAY)
        schedule = self.maintenance.get(service.id)
        if schedule is not None:
            bad |= schedule.utc_day_mask(day)
        bad |= self.forced.get((service.id, day), 0)
        observed = ALL_MINUTES
        good = observed & ~bad
        return DayRollup(
            vantage,
            service.id,
            day,
            observed=observed,
            good=good,
            fast=good & ~slow,
            steps_ok=observed & ~steps_bad,
            total_counts=_counts(observed),
            good_counts=_counts(good),
        )


def incident_chance(day: dt.date) -> float:
    """The chance of a short incident on a day: 8 % a day in 2022-2023, 5 % in
    2024-2025, 3 % from 2026 (the estate gets better, biennium by biennium)."""
    if day.year < 2024:
        return 0.08
    if day.year < 2026:
        return 0.05
    return 0.03


def _biennium_start(year: int) -> int:
    """First year of the biennium holding ``year`` (bienniums start in even years)."""
    return year - year % 2


def _years_back(day: dt.date | None, years: int) -> dt.date | None:
    if day is None:
        return None
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _as_it_was(service: Service, years: int, draw: float, share_behind: float) -> Service:
    """The service as recorded ``years`` earlier: reviews that much older, and (for a
    seeded share of services) automation and practices not yet in place. ``draw`` is the
    service's own seeded number in [0, 1): a service behind in a biennium is behind in
    every earlier one too, so the counts never fall from one biennium to the next."""
    practices = [p.model_copy(update={"reviewed": _years_back(p.reviewed, years)}) for p in service.practices]
    automation = service.automation
    if draw < share_behind:
        if automation.fulfilment == Fulfilment.automated:
            automation = automation.model_copy(update={"fulfilment": Fulfilment.partial})
        practices = practices[1:]
    return service.model_copy(update={"practices": practices, "automation": automation})


def backfill(
    store: Store,
    catalogue: Catalogue,
    profiles: dict[str, Profile],
    *,
    today: dt.date,
    seed: int = 1,
    start: dt.date = DEFAULT_START,
    full_days: int = FULL_DAYS,
    coarse_every_days: int = COARSE_EVERY_DAYS,
    breach_months: int = BREACH_MONTHS,
    progress: Callable[[int], None] | None = None,
) -> BackfillSummary:
    """Write the demo history for ``catalogue`` into ``store`` (an empty store);
    ``progress(1)`` after each service written."""
    services = sorted(
        (s for s in catalogue.services.values() if vantages_of(s)), key=lambda s: (s.office, s.id)
    )

    # catalogue revisions: as they stood at the start of each biennium, then as now
    draws = {sid: random.Random(f"{seed}:{sid}:behind").random() for sid in sorted(catalogue.services)}
    current = _biennium_start(today.year)
    points = sorted({start} | {dt.date(y, 1, 1) for y in range(start.year + 1, today.year + 1) if y % 2 == 0})
    for point in points:
        gap = (current - _biennium_start(point.year)) // 2  # bienniums back
        at = dt.datetime(point.year, point.month, point.day, tzinfo=dt.UTC)
        if gap <= 0:
            store.record_catalogue(catalogue, at)
        else:
            share = min(0.6, 0.2 * gap)
            years = 2 * gap - 1  # reviews fall in the last year of that biennium
            store.record_catalogue(
                [_as_it_was(s, years, draws[s.id], share) for s in catalogue.services.values()], at
            )
    revisions = len(points)

    synth = _Synth(catalogue, profiles, seed)

    # one exclusion: an incident of an outage-prone service, agreed in advance
    exclusions: dict[str, list[Exclusion]] = {}
    outage_services = [s for s in services if profiles.get(s.id) is Profile.outage]
    if outage_services and full_days > 40:
        svc = outage_services[0]
        day = today - dt.timedelta(days=40)
        begin = dt.datetime(day.year, day.month, day.day, 13, 0, tzinfo=dt.UTC)
        end = begin + dt.timedelta(minutes=90)
        synth.forced[(svc.id, day)] = _run(13 * 60, 90)
        reason = "Data-centre power maintenance by the building operator, announced too late for the change calendar"
        approver = f"{svc.owner.group} service manager"
        store.add_exclusion(svc.id, begin, end, reason, approver, created_at=end + dt.timedelta(hours=2))
        exclusions[svc.id] = [Exclusion(begin, end, reason, approver)]

    days = backfill_days(today, start, full_days, coarse_every_days)
    count = 0
    chunk: list[DayRollup] = []
    recent: dict[tuple[str, str], dict[dt.date, DayRollup]] = {}
    first_breach_day = today - dt.timedelta(days=31 * (breach_months + 1))
    for service in services:
        for vantage in vantages_of(service):
            kept = recent.setdefault((service.id, vantage), {})
            for day in days:
                rollup = synth.day(service, vantage, day)
                chunk.append(rollup)
                if day >= first_breach_day:
                    kept[day] = rollup
                if len(chunk) >= _WRITE_CHUNK:
                    store.merge_rollups(chunk)
                    count += len(chunk)
                    chunk = []
        if progress is not None:
            progress(1)
    if chunk:
        store.merge_rollups(chunk)
        count += len(chunk)

    breaches = _record_breaches(store, catalogue, services, recent, exclusions, today, breach_months)
    log.info(
        "demo_backfilled rollups=%d days=%d services=%d breaches=%d", count, len(days), len(services), breaches
    )
    return BackfillSummary(count, len(days), len(services), revisions, breaches, len(exclusions))


def _months_back(today: dt.date, count: int) -> list[tuple[int, int]]:
    y, m = today.year, today.month
    out = []
    for _ in range(count + 1):
        out.append((y, m))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return list(reversed(out))


def _record_breaches(
    store: Store,
    catalogue: Catalogue,
    services: list[Service],
    rollups: dict[tuple[str, str], dict[dt.date, DayRollup]],
    exclusions: dict[str, list[Exclusion]],
    today: dt.date,
    months: int,
) -> int:
    """Measure each of the last ``months`` months (and this one so far) with the SLA
    engine, and record a breach for every objective missed (resolved when the month
    closed; still open for the current month)."""
    now = dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC)
    cache = MaskCache()
    jobs = []
    for service in services:
        if service.lifecycle != "production" or service.tier not in catalogue.tiers:
            continue
        office = catalogue.offices[service.office]
        context = service_context(service, office, exclusions.get(service.id, ()))
        targets = current_targets(service, catalogue.tiers[service.tier])
        for y, m in _months_back(today, months):
            window = month(y, m, office.timezone)
            for vantage in vantages_of(service):
                jobs.append(MeasureJob(context, vantage, window, targets, rollups.get((service.id, vantage), {})))
    count = 0
    for measures in measure_many(jobs, now, cache):
        for name, result in measures.objectives.items():
            if result.met is not False or result.actual is None:
                continue
            window = measures.period
            opened = min(now, window.start + (window.end - window.start) * 0.6)
            store.open_breach(
                measures.service_id, measures.vantage, name, window.label, opened, result.actual, result.target
            )
            if window.closed(now):
                store.resolve_breach(measures.service_id, measures.vantage, name, window.label, window.end)
            count += 1
    return count
