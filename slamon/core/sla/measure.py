"""SLA measures of one service at one vantage over one period, from day rollups.

Definitions (docs/sla.md says the same in plain words):

- Minutes count only when complete: the window is ``[period start, min(period end,
  now floored to the minute))``.
- eligible = in the window, in service hours, not maintenance, not excluded;
  observed = eligible with at least one result; unobserved = eligible - observed (reported,
  never counted as up or down); good = observed minutes where every result succeeded;
  bad = observed - good.
- availability, ``timeslices``: good / observed minutes. ``occurrences``: good results /
  all results in eligible minutes (from the rollups' per-minute counts, which are read
  only for parts under occurrences: ``results_*`` are 0 elsewhere).
- latency: fast / observed minutes, against ``latency.percent``; steps: steps_ok /
  observed minutes, against ``steps.percent`` (counted only in parts with that objective).
- unplanned outages: the number of bad eligible minutes (slices), as the catalogue
  field ``unplanned_outages`` counts them; ``0`` means any bad minute breaches. Runs of
  consecutive bad minutes are reported beside it (``outage_runs``) for people.
- outages (docs/sla.md, "Outages and restoration"): an outage is a maximal run of
  bad eligible minutes (any other minute ends it); MTRS = bad / outages, MTBF = good /
  outages, MTBSI = observed / outages; downtime by cause: a run that begins in the
  minute after maintenance is an overrun, then a bad minute in which a dependency was
  bad (``dependency_bad``) is the dependency's, the rest the service's.
- error budget = (1 - target) x observed eligible time; consumed = bad time (for
  occurrences: the bad share of results times observed time); burn rate = consumed /
  budget, i.e. the consumed share of the period's budget over the elapsed share, both
  measured in observed eligible time (1 = on course to use exactly the whole budget).

Target changes: ``targets`` is a list of ``TargetSegment(effective_from, sla)``. Each
segment applies from local midnight of its date (office timezone) until the next; the
earliest applies to everything before it too. Each part of the period is measured
against the target then in force (history is not rewritten). The period verdict for a
ratio objective sums the parts' allowances: met when the bad time (or results) of all
parts together is within the sum of each part's allowance ``(1 - target_i) x total_i``
(equivalently, the measure is at least the observed-time-weighted target). For
``unplanned_outages`` each part must stay within its own limit. Parts without an
objective do not count toward it.

A verdict (``met``) is ``None`` when nothing was observed: unobserved is never guessed.

Why one module above 500 lines: it is one thing, the definitions above; every measure
that can reach a report is computed here, so they are read and checked together.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Any

from slamon.core.catalogue import EffectiveSLA
from slamon.core.model import Budgeting
from slamon.core.numbers import percent_to_ratio
from slamon.core.sla.context import ServiceContext, TargetSegment
from slamon.core.sla.masks import MaskCache, Scope
from slamon.core.sla.periods import (
    EPOCH,
    PeriodWindow,
    epoch_minute,
    epoch_minute_floor,
    local_midnight,
)
from slamon.core.sla.rollup import ALL_MINUTES, MINUTES_PER_DAY, DayRollup
from slamon.core.sla.series import MARKS, DaySeries, need

AVAILABILITY = "availability"
LATENCY = "latency"
STEPS = "steps"
UNPLANNED_OUTAGES = "unplanned_outages"
OBJECTIVES = (AVAILABILITY, LATENCY, STEPS, UNPLANNED_OUTAGES)
LAST_BIT = 1439
NO_BUDGET_FULL_TARGET = "no budget: target 100 %"
NO_BUDGET_UNOBSERVED = "no budget: nothing observed"


@dataclass(frozen=True, slots=True)
class PartMeasure:
    """One part of the period under one set of targets (all counts in minutes)."""

    start: dt.datetime
    end: dt.datetime
    sla: EffectiveSLA
    window: int = 0
    eligible: int = 0
    observed: int = 0
    good: int = 0
    fast: int = 0  # counted only under a latency objective
    steps_ok: int = 0  # counted only under a steps objective
    outside_hours: int = 0
    maintenance: int = 0
    excluded: int = 0
    outage_runs: int = 0
    results_total: int = 0
    results_good: int = 0
    overrun: int = 0  # bad minutes in outages that began as a maintenance window ended
    dependency: int = 0  # other bad minutes in which a dependency was bad from the same vantage
    longest_outage: int = 0  # minutes (not additive: the longest of the parts)

    @property
    def bad(self) -> int:
        return self.observed - self.good

    @property
    def unobserved(self) -> int:
        return self.eligible - self.observed


@dataclass(frozen=True, slots=True)
class ObjectiveResult:
    objective: str  # availability | latency | steps | unplanned_outages
    target: float  # percent in force at the end of the window; for outages the allowed count
    actual: float | None  # ratio 0..1; for outages the count of bad slices; None: nothing observed
    met: bool | None
    unit: str  # what total/bad/allowed_bad count: minutes | results | slices
    total: float
    bad: float
    allowed_bad: float

    @property
    def target_ratio(self) -> float | None:
        """The target as a ratio 0..1 (None for ``unplanned_outages``: a count)."""
        return None if self.unit == "slices" else percent_to_ratio(self.target)

    @property
    def actual_ratio(self) -> float | None:
        """The measure as a ratio 0..1 (None for ``unplanned_outages`` or nothing observed)."""
        return None if self.unit == "slices" else self.actual


@dataclass(frozen=True)
class Measures:
    service_id: str
    vantage: str
    period: PeriodWindow
    as_of: dt.datetime
    closed: bool
    elapsed_ratio: float  # window minutes / period minutes
    window_minutes: int
    eligible_minutes: int
    observed_minutes: int
    good_minutes: int
    fast_minutes: int  # in parts with a latency objective (0 without one)
    steps_ok_minutes: int  # in parts with a steps objective (0 without one)
    outside_hours_minutes: int
    maintenance_minutes: int
    excluded_minutes: int
    outage_runs: int
    results_total: int
    results_good: int
    budget_seconds: float
    consumed_seconds: float
    objectives: dict[str, ObjectiveResult] = field(default_factory=dict)
    parts: tuple[PartMeasure, ...] = ()
    overrun_minutes: int = 0  # downtime by cause: see ``downtime_by_cause``
    dependency_minutes: int = 0
    longest_outage_minutes: int = 0

    # ---- availability measures (docs/sla.md, "Outages and restoration"): an outage is
    # a maximal run of consecutive bad eligible minutes (``outage_runs`` counts them)

    @property
    def downtime_minutes(self) -> int:
        return self.bad_minutes

    @property
    def mtrs_minutes(self) -> float | None:
        """Mean time to restore service: downtime / outages (None: no outage)."""
        return self.bad_minutes / self.outage_runs if self.outage_runs else None

    @property
    def mtbf_minutes(self) -> float | None:
        """Mean time between failures: good (up) observed time / outages."""
        return self.good_minutes / self.outage_runs if self.outage_runs else None

    @property
    def mtbsi_minutes(self) -> float | None:
        """Mean time between service incidents: observed time / outages (MTBF + MTRS)."""
        return self.observed_minutes / self.outage_runs if self.outage_runs else None

    @property
    def downtime_by_cause(self) -> dict[str, int]:
        """Bad minutes by cause (each in one cause: overrun first, then dependency),
        and beside them the unobserved minutes (neither up nor down)."""
        return {
            "service": self.bad_minutes - self.overrun_minutes - self.dependency_minutes,
            "dependency": self.dependency_minutes,
            "maintenance_overrun": self.overrun_minutes,
            "unobserved": self.unobserved_minutes,
        }

    def outages_dict(self) -> dict[str, Any]:
        """The availability measures as plain data, in seconds (None: no outage)."""
        return pool_outages([self]).to_dict()

    @property
    def unobserved_minutes(self) -> int:
        return self.eligible_minutes - self.observed_minutes

    @property
    def bad_minutes(self) -> int:
        return self.observed_minutes - self.good_minutes

    def seconds(self, what: str) -> int:
        """``seconds("eligible")`` etc.: a minute count as seconds."""
        return 60 * getattr(self, f"{what}_minutes")

    @property
    def availability(self) -> float | None:
        obj = self.objectives.get(AVAILABILITY)
        return obj.actual if obj else None

    @property
    def remaining_seconds(self) -> float:
        return self.budget_seconds - self.consumed_seconds

    @property
    def burn_rate(self) -> float:
        """Consumed / budget; ``inf`` when something was consumed of a zero budget."""
        if self.consumed_seconds == 0:
            return 0.0
        if self.budget_seconds == 0:
            return math.inf
        return self.consumed_seconds / self.budget_seconds

    @property
    def remaining_ratio(self) -> float:
        """Share of the budget left: 1 untouched, 0 used up, below 0 overspent."""
        return 1.0 - self.burn_rate

    @property
    def budget_left_ratio(self) -> float | None:
        """What outputs show as the budget remaining: the share left in [0, 1] (0 once
        overspent; ``remaining_seconds`` then says by how much), or None when there is
        no budget at all (a 100 % target, or nothing observed): see ``budget_note``.
        ``remaining_ratio`` (the gauge) keeps the unclamped value."""
        if self.budget_seconds <= 0:
            return None
        return min(1.0, max(0.0, self.remaining_ratio))

    @property
    def budget_note(self) -> str | None:
        """Why there is no budget to speak of, in the words every output uses."""
        if self.budget_seconds > 0:
            return None
        if self.observed_minutes == 0:
            return NO_BUDGET_UNOBSERVED
        return NO_BUDGET_FULL_TARGET

    @property
    def met(self) -> bool | None:
        return combine_verdicts(o.met for o in self.objectives.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (``inf`` written as null)."""

        def num(x: float) -> float | None:
            return None if math.isinf(x) else x

        return {
            "service": self.service_id,
            "vantage": self.vantage,
            "period": self.period.label,
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
            "as_of": self.as_of.isoformat(),
            "closed": self.closed,
            "elapsed_ratio": self.elapsed_ratio,
            "seconds": {
                k: self.seconds(k)
                for k in (
                    "window",
                    "eligible",
                    "observed",
                    "unobserved",
                    "good",
                    "bad",
                    "outside_hours",
                    "maintenance",
                    "excluded",
                )
            },
            "results": {"total": self.results_total, "good": self.results_good},
            "outage_runs": self.outage_runs,
            "outages": self.outages_dict(),
            "error_budget": {
                "budget_seconds": self.budget_seconds,
                "consumed_seconds": self.consumed_seconds,
                "remaining_seconds": self.remaining_seconds,
                "remaining_ratio": self.budget_left_ratio,
                "overspent": self.consumed_seconds > self.budget_seconds,
                "note": self.budget_note,
                "burn_rate": num(self.burn_rate),
            },
            "objectives": {
                name: {
                    "target_ratio": o.target_ratio,
                    "actual_ratio": o.actual_ratio,
                    "met": o.met,
                    "unit": o.unit,
                    "total": o.total,
                    "bad": o.bad,
                    "allowed_bad": o.allowed_bad,
                }
                for name, o in self.objectives.items()
            },
            "met": self.met,
            "parts": [part_dict(p) for p in self.parts],
        }


def part_dict(p: PartMeasure) -> dict[str, Any]:
    """A part as plain data: its span, the targets in force and its minute counts."""
    return {
        "start": p.start.isoformat(),
        "end": p.end.isoformat(),
        "targets": {
            "availability_percent": p.sla.availability,
            "latency_percent": p.sla.latency.percent if p.sla.latency else None,
            "latency_threshold_seconds": p.sla.latency.threshold if p.sla.latency else None,
            "steps_percent": p.sla.steps.percent if p.sla.steps else None,
            "unplanned_outages": p.sla.unplanned_outages,
            "schedule": p.sla.schedule,
            "budgeting": str(p.sla.budgeting),
        },
        "minutes": {k: getattr(p, k) for k in _ADDITIVE if k not in ("outage_runs", "results_total", "results_good")}
        | {"longest_outage": p.longest_outage},
        "outage_runs": p.outage_runs,
        "results": {"total": p.results_total, "good": p.results_good},
    }


def combine_verdicts(verdicts: Any) -> bool | None:
    """False if any is False; else None if any is None (or there are none); else True."""
    seen = False
    unknown = False
    for v in verdicts:
        seen = True
        if v is False:
            return False
        if v is None:
            unknown = True
    if not seen or unknown:
        return None
    return True


@lru_cache(maxsize=4096)
def runs_of(mask: int) -> tuple[tuple[int, int], ...]:
    """Runs of set bits as ``(first, end)``. Eligible masks repeat across services and
    days, so this is memoised (pure)."""
    out = []
    pos = 0
    while mask:
        low = (mask & -mask).bit_length() - 1
        mask >>= low
        pos += low
        length = (~mask & (mask + 1)).bit_length() - 1
        out.append((pos, pos + length))
        mask >>= length
        pos += length
    return tuple(out)


@lru_cache(maxsize=1024)  # period bounds and "as of" repeat across services
def _minute_to_datetime(minute: int) -> dt.datetime:
    return EPOCH + dt.timedelta(minutes=minute)


def _segment_start(seg: TargetSegment, timezone: str) -> int | None:
    when = seg.effective_from
    if when is None:
        return None
    if isinstance(when, dt.datetime):
        return epoch_minute(when)
    return epoch_minute(local_midnight(when, timezone))


def _measure_part(
    scope: Scope,
    sla: EffectiveSLA,
    first: int,
    end: int,
    rollups: DaySeries,
    cache: MaskCache,
    dependency_bad: Mapping[dt.date, int] | None = None,
) -> PartMeasure:
    """Count one part.

    Most days are complete (every minute observed and good, fast and with steps ok
    where those count): such a day contributes its eligible minutes to every count and
    no outage run. The series says which days are complete, so the part starts from
    the plan's eligible minutes and visits only the other days (missing, partly
    observed or with some bad minute), taking their eligible minutes off and counting
    them bit by bit. An outage run spanning midnight continues only from the day
    before, which is then one of the visited days. Under ``occurrences`` every day is
    visited (the per-minute result counts are summed over eligible minutes).

    On days with bad minutes each outage is followed run by run for the availability
    measures: its length (the longest), whether it began in the minute after a
    maintenance window (overrun), and its minutes in which ``dependency_bad`` (UTC day
    -> minutes in which a dependency was bad from this vantage) is set."""
    plan = cache.plan(scope, first, end)
    if not rollups:  # nothing stored (e.g. a period before the service was probed): no day to visit
        return PartMeasure(
            _minute_to_datetime(first), _minute_to_datetime(end), sla, window=plan.window_minutes,
            eligible=plan.eligible_minutes, outside_hours=plan.outside_hours_minutes,
            maintenance=plan.maintenance_minutes, excluded=plan.excluded_minutes,
        )  # fmt: skip
    occurrences = sla.budgeting == Budgeting.occurrences
    want_fast = sla.latency is not None  # counted only where an objective needs them
    want_steps = sla.steps is not None
    observed_n = good_n = fast_n = steps_n = runs_n = total_r = good_r = 0
    days = plan.days
    eligible, counts = plan.eligible, plan.counts
    visit: Iterable[int]
    if occurrences:
        visit = range(len(days))
    else:
        marks = rollups.window(first // MINUTES_PER_DAY, len(days)).translate(MARKS[need(want_fast, want_steps)])
        visit = []
        i = marks.find(0)
        while i >= 0:
            visit.append(i)
            i = marks.find(0, i + 1)
        complete_n = plan.eligible_minutes - sum(map(counts.__getitem__, visit))
        observed_n = good_n = complete_n
        if want_fast:
            fast_n = complete_n
        if want_steps:
            steps_n = complete_n
    eligible, counts = plan.eligible, plan.counts
    carry = 0
    last = -2  # the last day visited with something observed (its bad bit 1439 is carry)
    lookup = rollups.days.get
    longest = overrun_n = dependency_n = 0
    open_len, open_over = 0, False  # the outage reaching the end of the last day visited
    for i in visit:
        rollup = lookup(days[i])
        elig = eligible[i]
        if rollup is None or not elig:
            continue
        # a bitmap with every minute set keeps exactly the eligible minutes
        observed = rollup.observed
        if observed == ALL_MINUTES:
            obs, obs_n = elig, counts[i]
        else:
            obs = observed & elig
            obs_n = obs.bit_count()
        if occurrences:
            totals, goods = rollup.total_counts, rollup.good_counts
            for a, b in runs_of(elig):
                total_r += sum(totals[a:b])
                good_r += sum(goods[a:b])
        if not obs_n:
            continue
        if last != i - 1:
            carry = 0
        good = rollup.good & obs
        good_day = good.bit_count()
        observed_n += obs_n
        good_n += good_day
        if want_fast:
            fast = rollup.fast
            fast_n += obs_n if fast == ALL_MINUTES else (fast & obs).bit_count()
        if want_steps:
            steps_ok = rollup.steps_ok
            steps_n += obs_n if steps_ok == ALL_MINUTES else (steps_ok & obs).bit_count()
        if good_day == obs_n:
            carry = 0
        else:
            # the minutes after the carry, then bad minute by minute, then 0: every run
            # starts once and ends once, and one more ends than starts when carried in
            bad = obs ^ good
            runs_n += ((bad ^ ((bad << 1) | carry)).bit_count() - carry) >> 1
            dep = dependency_bad.get(days[i], 0) if dependency_bad else 0
            for a, b in _runs(bad):
                if a == 0 and carry:
                    length, over = open_len + b, open_over
                else:
                    length, over = b - a, _after_maintenance(scope, cache, days[i], a)
                if over:
                    overrun_n += b - a
                elif dep:
                    dependency_n += (dep >> a & ((1 << (b - a)) - 1)).bit_count()
                if length > longest:
                    longest = length
                open_len, open_over = length, over
            carry = bad >> LAST_BIT
        last = i
    return PartMeasure(
        _minute_to_datetime(first),
        _minute_to_datetime(end),
        sla,
        window=plan.window_minutes,
        eligible=plan.eligible_minutes,
        observed=observed_n,
        good=good_n,
        fast=fast_n,
        steps_ok=steps_n,
        outside_hours=plan.outside_hours_minutes,
        maintenance=plan.maintenance_minutes,
        excluded=plan.excluded_minutes,
        outage_runs=runs_n,
        results_total=total_r,
        results_good=good_r,
        overrun=overrun_n,
        dependency=dependency_n,
        longest_outage=longest,
    )


_runs = runs_of.__wrapped__  # bad minutes rarely repeat: not through the memo of eligible masks


def _after_maintenance(scope: Scope, cache: MaskCache, day: dt.date, minute: int) -> bool:
    """Is the minute before ``minute`` of UTC ``day`` inside a maintenance window?"""
    if scope.maintenance is None:
        return False
    if minute == 0:
        day, minute = day - dt.timedelta(days=1), MINUTES_PER_DAY
    return bool(cache.day(scope, day).maintenance >> (minute - 1) & 1)


def _pct(value: float) -> Fraction:
    return Fraction(str(value)) / 100


@lru_cache(maxsize=256)
def _share(value: float) -> tuple[Fraction, int, int]:
    """The allowed bad share ``1 - value %`` exactly, with its numerator and denominator
    (a handful of distinct targets: memoised)."""
    share = 1 - _pct(value)
    return share, share.numerator, share.denominator


def _availability(parts: Sequence[PartMeasure]) -> tuple[ObjectiveResult, float, float]:
    """The availability objective, the budget and the consumed time in seconds."""
    if len(parts) == 1 and parts[0].sla.budgeting != Budgeting.occurrences:
        # one part in minutes: the same exact comparisons in integers (n / d is the
        # allowed share; int / int is correctly rounded, as float(Fraction) is)
        p = parts[0]
        _share_f, n, d = _share(p.sla.availability)
        observed, p_bad = p.observed, p.bad
        result = ObjectiveResult(
            AVAILABILITY,
            p.sla.availability,
            (observed - p_bad) / observed if observed else None,
            (p_bad * d <= n * observed) if observed else None,
            "minutes",
            float(observed),
            float(p_bad),
            n * observed / d,
        )
        return result, n * observed * 60 / d, float(p_bad * 60)
    allowed_s = consumed_s = Fraction(0)
    observed = 0
    kinds = {p.sla.budgeting for p in parts}
    total = bad = Fraction(0)
    allowed = Fraction(0)
    for p in parts:
        share = _share(p.sla.availability)[0]
        observed += p.observed
        allowed_s += share * p.observed * 60
        if p.sla.budgeting == Budgeting.occurrences:
            p_total, p_bad = p.results_total, p.results_total - p.results_good
            if p_total:
                consumed_s += Fraction(p_bad, p_total) * p.observed * 60
        else:
            p_total, p_bad = p.observed, p.bad
            consumed_s += p_bad * 60
        total += p_total
        bad += p_bad
        allowed += share * p_total
    if len(kinds) == 1:
        unit = "results" if Budgeting.occurrences in kinds else "minutes"
        actual = float(1 - bad / total) if total else None
        known = total > 0
    else:  # mixed budgeting across a target change: compare in time
        unit = "minutes"
        total, bad, allowed = Fraction(observed), consumed_s / 60, allowed_s / 60
        actual = float(1 - consumed_s / (observed * 60)) if observed else None
        known = observed > 0
    met = (consumed_s <= allowed_s) if known else None
    result = ObjectiveResult(
        AVAILABILITY,
        parts[-1].sla.availability,
        actual,
        met,
        unit,
        float(total),
        float(bad),
        float(allowed),
    )
    return result, float(allowed_s), float(consumed_s)


def _minute_ratio(
    name: str, parts: Sequence[PartMeasure], percent_of: Any, good_of: Any
) -> ObjectiveResult | None:
    mine = [p for p in parts if percent_of(p.sla) is not None]
    if not mine:
        return None
    total = sum(p.observed for p in mine)
    good = sum(good_of(p) for p in mine)
    bad = total - good
    if len(mine) == 1:  # exact in integers, as in _availability
        _share_f, n, d = _share(percent_of(mine[0].sla))
        met = bad * d <= n * total
        allowed_f = n * total / d
    else:
        allowed = sum(_share(percent_of(p.sla))[0] * p.observed for p in mine)
        met = bad <= allowed
        allowed_f = float(allowed)
    return ObjectiveResult(
        name,
        percent_of(mine[-1].sla),
        good / total if total else None,
        met if total else None,
        "minutes",
        float(total),
        float(bad),
        allowed_f,
    )


def _outages(parts: Sequence[PartMeasure]) -> ObjectiveResult | None:
    mine = [p for p in parts if p.sla.unplanned_outages is not None]
    if not mine:
        return None
    observed = sum(p.observed for p in mine)
    bad = sum(p.bad for p in mine)
    met = all(p.bad <= p.sla.unplanned_outages for p in mine) if observed else None  # type: ignore[operator]
    limit = mine[-1].sla.unplanned_outages
    assert limit is not None
    return ObjectiveResult(
        UNPLANNED_OUTAGES, float(limit), float(bad), met, "slices", float(observed), float(bad), float(limit)
    )


def measure_service(
    context: ServiceContext,
    vantage: str,
    period: PeriodWindow,
    targets: Sequence[TargetSegment],
    rollups: Mapping[dt.date, DayRollup],
    now: dt.datetime,
    cache: MaskCache,
    dependency_bad: Mapping[dt.date, int] | None = None,
) -> Measures:
    """Measures of ``context.service_id`` seen from ``vantage`` over ``period`` as of ``now``.

    ``rollups`` maps UTC days to that service's rollups at that vantage; a missing day
    was not observed at all. ``dependency_bad`` maps UTC days to the minutes in which a
    service it depends on was bad from the same vantage (``dependency_bad_minutes``);
    without it no downtime is put down to a dependency.
    """
    if not targets:
        raise ValueError(f"{context.service_id}: no targets to measure against")
    series = DaySeries.from_rollups(rollups)  # as given when already a series
    first = period.start_minute
    period_end = period.end_minute
    end = max(first, min(period_end, epoch_minute_floor(now)))
    starts = [_segment_start(s, context.timezone) for s in targets]
    order = sorted(range(len(targets)), key=lambda i: (starts[i] is not None, starts[i] or 0))
    bounds = [(starts[i], targets[i]) for i in order]
    parts: list[PartMeasure] = []
    for k, (seg_start, seg) in enumerate(bounds):
        a = first if k == 0 or seg_start is None else max(first, seg_start)
        nxt = bounds[k + 1][0] if k + 1 < len(bounds) else None
        b = end if nxt is None else min(end, nxt)
        if b <= a:
            continue
        parts.append(_measure_part(context.scope(seg.sla.schedule), seg.sla, a, b, series, cache, dependency_bad))
    if not parts:  # nothing elapsed yet: one empty part under the first target in force
        seg = bounds[0][1]
        for seg_start, candidate in bounds:
            if seg_start is None or seg_start <= first:
                seg = candidate
        parts.append(_measure_part(context.scope(seg.sla.schedule), seg.sla, first, first, series, cache))

    return assemble(context.service_id, vantage, period, parts, _minute_to_datetime(end), now)


def _latency_percent(sla: EffectiveSLA) -> float | None:
    return sla.latency.percent if sla.latency else None


def _steps_percent(sla: EffectiveSLA) -> float | None:
    return sla.steps.percent if sla.steps else None


_FAST = operator.attrgetter("fast")
_STEPS_OK = operator.attrgetter("steps_ok")


def assemble(
    service_id: str,
    vantage: str,
    period: PeriodWindow,
    parts: Sequence[PartMeasure],
    as_of: dt.datetime,
    now: dt.datetime,
) -> Measures:
    """Objectives, budget and totals from the parts (all counts are additive)."""
    availability, allowed_s, consumed_s = _availability(parts)
    objectives = {AVAILABILITY: availability}
    latency = _minute_ratio(LATENCY, parts, _latency_percent, _FAST)
    steps = _minute_ratio(STEPS, parts, _steps_percent, _STEPS_OK)
    for obj in (latency, steps, _outages(parts)):
        if obj is not None:
            objectives[obj.objective] = obj
    first = period.start_minute
    period_minutes = max(period.end_minute - first, 1)
    counts = [_ADDITIVE_OF(p) for p in parts]
    totals = counts[0] if len(counts) == 1 else tuple(map(sum, zip(*counts, strict=True)))
    return Measures(
        service_id=service_id,
        vantage=vantage,
        period=period,
        as_of=as_of,
        closed=period.closed(now),
        elapsed_ratio=min(max(epoch_minute(as_of) - first, 0) / period_minutes, 1.0),
        window_minutes=totals[0],
        eligible_minutes=totals[1],
        observed_minutes=totals[2],
        good_minutes=totals[3],
        fast_minutes=totals[4],
        steps_ok_minutes=totals[5],
        outside_hours_minutes=totals[6],
        maintenance_minutes=totals[7],
        excluded_minutes=totals[8],
        outage_runs=totals[9],
        results_total=totals[10],
        results_good=totals[11],
        budget_seconds=allowed_s,
        consumed_seconds=consumed_s,
        objectives=objectives,
        parts=tuple(parts),
        overrun_minutes=totals[12],
        dependency_minutes=totals[13],
        longest_outage_minutes=max(p.longest_outage for p in parts),
    )


_ADDITIVE = (
    "window",
    "eligible",
    "observed",
    "good",
    "fast",
    "steps_ok",
    "outside_hours",
    "maintenance",
    "excluded",
    "outage_runs",
    "results_total",
    "results_good",
    "overrun",
    "dependency",
)
_ADDITIVE_OF = operator.attrgetter(*_ADDITIVE)


def combine_measures(pieces: Sequence[Measures], period: PeriodWindow, now: dt.datetime) -> Measures:
    """Measures of ``period`` from measures of consecutive sub-periods that tile it (e.g.
    a biennium from 24 closed months): every count is additive, and adjacent parts under
    the same targets are merged so that a per-period limit (``unplanned_outages``)
    applies to the whole period. The one approximation: an outage run that crosses a
    sub-period boundary is counted once in each (``outage_runs`` is informational)."""
    if not pieces:
        raise ValueError("nothing to combine")
    ids = {(m.service_id, m.vantage) for m in pieces}
    if len(ids) != 1:
        raise ValueError(f"combine_measures needs one service at one vantage (found {sorted(ids)})")
    ordered = sorted(pieces, key=lambda m: m.period.start)
    for a, b in itertools.pairwise(ordered):
        if a.period.end != b.period.start:
            raise ValueError(f"sub-periods {a.period.label} and {b.period.label} do not meet")
    if ordered[0].period.start != period.start or ordered[-1].period.end != period.end:
        raise ValueError(f"the sub-periods do not tile {period.label}")
    parts: list[PartMeasure] = []
    for m in ordered:
        for p in m.parts:
            if parts and parts[-1].sla == p.sla and parts[-1].end == p.start:
                last = parts[-1]
                counts = {k: getattr(last, k) + getattr(p, k) for k in _ADDITIVE}
                longest = max(last.longest_outage, p.longest_outage)
                parts[-1] = PartMeasure(last.start, p.end, p.sla, **counts, longest_outage=longest)
            elif p.window or not parts:
                parts.append(p)
    service_id, vantage = ids.pop()
    return assemble(service_id, vantage, period, parts, ordered[-1].as_of, now)


@dataclass(frozen=True, slots=True)
class PooledOutages:
    """The availability measures of several services and vantages together (an
    office): the means are over all their outages, never a mean of means."""

    outages: int
    downtime_minutes: int
    mtrs_minutes: float | None
    mtbf_minutes: float | None
    mtbsi_minutes: float | None
    longest_outage_minutes: int
    service_downtime_minutes: int
    dependency_downtime_minutes: int
    overrun_downtime_minutes: int
    unobserved_minutes: int

    def to_dict(self) -> dict[str, Any]:
        """In seconds, as ``Measures.outages_dict``."""

        def sec(minutes: float | None) -> float | None:
            return None if minutes is None else 60 * minutes

        return {
            "count": self.outages,
            "downtime_seconds": 60 * self.downtime_minutes,
            "mtrs_seconds": sec(self.mtrs_minutes),
            "mtbf_seconds": sec(self.mtbf_minutes),
            "mtbsi_seconds": sec(self.mtbsi_minutes),
            "longest_seconds": 60 * self.longest_outage_minutes,
            "by_cause_seconds": {
                "service": 60 * self.service_downtime_minutes,
                "dependency": 60 * self.dependency_downtime_minutes,
                "maintenance_overrun": 60 * self.overrun_downtime_minutes,
                "unobserved": 60 * self.unobserved_minutes,
            },
        }


def pool_outages(measures: Iterable[Measures]) -> PooledOutages:
    """The outages of ``measures`` (e.g. every service and vantage of an office) together."""
    ms = list(measures)
    outages = sum(m.outage_runs for m in ms)
    bad = sum(m.bad_minutes for m in ms)

    def mean(total: int) -> float | None:
        return total / outages if outages else None

    return PooledOutages(
        outages=outages,
        downtime_minutes=bad,
        mtrs_minutes=mean(bad),
        mtbf_minutes=mean(sum(m.good_minutes for m in ms)),
        mtbsi_minutes=mean(sum(m.observed_minutes for m in ms)),
        longest_outage_minutes=max((m.longest_outage_minutes for m in ms), default=0),
        service_downtime_minutes=sum(m.downtime_by_cause["service"] for m in ms),
        dependency_downtime_minutes=sum(m.dependency_minutes for m in ms),
        overrun_downtime_minutes=sum(m.overrun_minutes for m in ms),
        unobserved_minutes=sum(m.unobserved_minutes for m in ms),
    )


def dependency_bad_minutes(
    dependencies: Iterable[Mapping[dt.date, DayRollup]],
) -> dict[dt.date, int]:
    """UTC day -> the minutes in which at least one of ``dependencies`` (each the day
    rollups of one service at one vantage) was observed bad."""
    out: dict[dt.date, int] = {}
    for days in dependencies:
        for day, r in days.items():
            bad = r.observed & ~r.good
            if bad:
                out[day] = out.get(day, 0) | bad
    return out
