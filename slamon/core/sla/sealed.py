"""Sealed period aggregates: the measures of a closed SLA period, kept for good.

When a service's SLA period (month, quarter, ...) closes, its ``Measures`` at each
vantage are sealed: every part under one set of targets with its minute counts
(``PartMeasure``), the outage runs of that part as epoch-minute spans, and the verdict
per objective. A report over closed periods reads these instead of the day rollups;
only the open period (or whatever is not sealed) is measured from rollups.

Pure: no I/O, no clock. Three things live here:

- ``part_runs`` / ``seal``: a closed period's ``Measures`` (and the day series it was
  measured from) as a ``SealedPeriod``;
- ``measures_of``: a ``SealedPeriod`` back into the very ``Measures`` the engine made;
- ``combine``: the ``Measures`` of a longer window (a biennium) from the sealed periods
  that tile its start and, optionally, the engine's measures of the rest. Figure for
  figure what ``measure_service`` gives over the whole window from the rollups:
  adjacent parts under the same targets merge (so ``unplanned_outages`` applies to the
  merged part as the engine applies it), and an outage run that crosses a period
  boundary is one outage, as the engine sees it over the whole window: counted once,
  its length the sum of its pieces (``longest_outage``), and classified by where it
  began (each part keeps the lengths of the runs touching its first and its last
  minute, the dependency minutes of the first, and whether the last began as a
  maintenance window ended).

The overrun rule across a boundary: the engine classifies an outage once, at the
minute it began (``overrun`` when the minute before was maintenance). Measured alone,
a period whose first minute continues an outage of the period before sees that outage
begin at its own start, after a bad minute, so not as an overrun, and counts its
dependency minutes. ``combine`` gives the engine's answer: when the run reaching the
end of one part began as an overrun, the continuing run's minutes of the next part
are overrun minutes and none of them are dependency minutes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

from slamon.core.catalogue import EffectiveSLA
from slamon.core.sla.context import ServiceContext
from slamon.core.sla.masks import MaskCache
from slamon.core.sla.measure import (
    _ADDITIVE,
    Measures,
    ObjectiveResult,
    PartMeasure,
    _after_maintenance,
    assemble,
    runs_of,
)
from slamon.core.sla.periods import EPOCH, PeriodWindow, epoch_minute
from slamon.core.sla.rollup import MINUTES_PER_DAY, DayRollup

COUNT_FIELDS = _ADDITIVE
"""The additive counts of a part, in the order ``SealedPart.counts`` holds them:
window, eligible, observed, good, fast, steps_ok, outside_hours, maintenance, excluded,
outage_runs, results_total, results_good, overrun, dependency."""
_RUNS_AT = COUNT_FIELDS.index("outage_runs")
_OVERRUN_AT = COUNT_FIELDS.index("overrun")
_DEPENDENCY_AT = COUNT_FIELDS.index("dependency")

Run = tuple[int, int]
"""An outage run: consecutive bad eligible minutes ``[first, end)`` as epoch minutes."""


class SealedPart(NamedTuple):
    """One part of a sealed period under one set of targets (a tuple: a report reads
    hundreds of thousands of them)."""

    start_minute: int  # epoch minutes, [start, end)
    end_minute: int
    sla: EffectiveSLA
    counts: tuple[int, ...]  # COUNT_FIELDS order
    longest: int  # the part's longest_outage (minutes; not additive)
    head_run: int  # minutes of the outage run holding the part's first minute (0: none)
    tail_run: int  # minutes of the outage run holding the part's last minute (0: none)
    head_dependency: int  # dependency-bad minutes of the head run
    tail_overrun: bool  # the tail run began in the minute after a maintenance window
    runs: tuple[Run, ...] | None = None  # None: not read (the report path does not need them)

    @property
    def outage_runs(self) -> int:
        return self.counts[_RUNS_AT]

    @property
    def run_at_start(self) -> bool:
        """The part's first minute is a bad eligible minute."""
        return self.head_run > 0

    @property
    def run_at_end(self) -> bool:
        """The part's last minute is a bad eligible minute."""
        return self.tail_run > 0

    def part(self) -> PartMeasure:
        return PartMeasure(
            _minute(self.start_minute), _minute(self.end_minute), self.sla,
            **dict(zip(COUNT_FIELDS, self.counts, strict=True)), longest_outage=self.longest,
        )  # fmt: skip


class SealedPeriod(NamedTuple):
    """The measures of one closed SLA period of one service at one vantage."""

    service_id: str
    vantage: str
    period: PeriodWindow
    sealed_at: dt.datetime
    parts: tuple[SealedPart, ...]
    met: bool | None  # the period's verdict as sealed (None: nothing observed)
    objectives: Mapping[str, ObjectiveResult] = MappingProxyType({})  # as sealed (empty: not read)


def _minute(m: int) -> dt.datetime:
    return EPOCH + dt.timedelta(minutes=m)


def _bad_bits(rollup: DayRollup | None, eligible: int) -> int:
    if rollup is None or not eligible:
        return 0
    return rollup.observed & eligible & ~rollup.good


def part_runs(
    context: ServiceContext, part: PartMeasure, rollups: Mapping[dt.date, DayRollup], cache: MaskCache
) -> tuple[Run, ...]:
    """The outage runs of one part, as the engine counts them (``outage_runs``): maximal
    spans of consecutive bad eligible minutes inside the part, across midnight too."""
    if not part.outage_runs:
        return ()
    plan = cache.plan(context.scope(part.sla.schedule), epoch_minute(part.start), epoch_minute(part.end))
    runs: list[list[int]] = []
    get = rollups.get
    for day, eligible in zip(plan.days, plan.eligible, strict=True):
        bad = _bad_bits(get(day), eligible)
        if not bad:
            continue
        base = (day - dt.date(1970, 1, 1)).days * MINUTES_PER_DAY
        for a, b in runs_of(bad):
            if runs and runs[-1][1] == base + a:
                runs[-1][1] = base + b
            else:
                runs.append([base + a, base + b])
    out = tuple((a, b) for a, b in runs)
    if len(out) != part.outage_runs:  # the engine and this walk disagree: a bug
        raise AssertionError(f"{context.service_id}: {len(out)} runs found, the engine counted {part.outage_runs}")
    return out


def edge_runs(
    context: ServiceContext, part: PartMeasure, rollups: Mapping[dt.date, DayRollup], cache: MaskCache
) -> tuple[bool, bool]:
    """Whether the part's first minute and its last minute are bad eligible minutes."""
    first, end = epoch_minute(part.start), epoch_minute(part.end)
    if not part.outage_runs or end <= first:
        return False, False
    scope = context.scope(part.sla.schedule)

    def bad(minute: int) -> bool:
        day_n, bit = divmod(minute, MINUTES_PER_DAY)
        plan = cache.plan(scope, day_n * MINUTES_PER_DAY, (day_n + 1) * MINUTES_PER_DAY)
        day = dt.date(1970, 1, 1) + dt.timedelta(days=day_n)
        return bool(_bad_bits(rollups.get(day), plan.eligible[0]) >> bit & 1)

    return bad(first), bad(end - 1)


def _dependency_minutes(run: Run, dependency_bad: Mapping[dt.date, int] | None) -> int:
    """The minutes of ``run`` in which a dependency was bad (UTC day -> bits)."""
    if not dependency_bad:
        return 0
    n = 0
    a, b = run
    while a < b:
        day_n, bit = divmod(a, MINUTES_PER_DAY)
        upto = min(b, (day_n + 1) * MINUTES_PER_DAY)
        bits = dependency_bad.get(dt.date(1970, 1, 1) + dt.timedelta(days=day_n), 0)
        if bits:
            n += (bits >> bit & ((1 << (upto - a)) - 1)).bit_count()
        a = upto
    return n


def _sealed_part(
    context: ServiceContext,
    p: PartMeasure,
    runs: tuple[Run, ...],
    cache: MaskCache,
    dependency_bad: Mapping[dt.date, int] | None,
    keep_runs: bool,
) -> SealedPart:
    """``p`` in the sealed form, its edge runs from ``runs`` (all its runs, or at least
    those touching its ends)."""
    start, end = epoch_minute(p.start), epoch_minute(p.end)
    head = runs[0] if runs and runs[0][0] == start else None
    tail = runs[-1] if runs and runs[-1][1] == end else None
    tail_overrun = False
    if tail is not None:
        day_n, bit = divmod(tail[0], MINUTES_PER_DAY)
        day = dt.date(1970, 1, 1) + dt.timedelta(days=day_n)
        tail_overrun = _after_maintenance(context.scope(p.sla.schedule), cache, day, bit)
    return SealedPart(
        start, end, p.sla, tuple(getattr(p, k) for k in COUNT_FIELDS), p.longest_outage,
        head[1] - head[0] if head else 0, tail[1] - tail[0] if tail else 0,
        _dependency_minutes(head, dependency_bad) if head else 0, tail_overrun,
        runs if keep_runs else None,
    )  # fmt: skip


def seal(
    m: Measures,
    context: ServiceContext,
    rollups: Mapping[dt.date, DayRollup],
    cache: MaskCache,
    sealed_at: dt.datetime,
    dependency_bad: Mapping[dt.date, int] | None = None,
) -> SealedPeriod:
    """A closed period's measures as a sealed record (``rollups`` and ``dependency_bad``:
    what it was measured from, as given to ``measure_service``)."""
    if not m.closed:
        raise ValueError(f"{m.service_id} {m.period.label}: only a closed period is sealed")
    parts = [
        _sealed_part(context, p, part_runs(context, p, rollups, cache), cache, dependency_bad, True) for p in m.parts
    ]
    return SealedPeriod(m.service_id, m.vantage, m.period, sealed_at, tuple(parts), m.met, dict(m.objectives))


def measures_of(sealed: SealedPeriod, now: dt.datetime) -> Measures:
    """The ``Measures`` the engine gave for this period when it was sealed."""
    return combine(sealed.service_id, sealed.vantage, sealed.period, [sealed], None, now)


def open_parts(
    m: Measures,
    context: ServiceContext,
    rollups: Mapping[dt.date, DayRollup],
    cache: MaskCache,
    dependency_bad: Mapping[dt.date, int] | None = None,
) -> list[SealedPart]:
    """The engine's parts of a window not sealed (the open period), in the sealed form
    ``combine`` takes (without their runs; ``dependency_bad`` as given to
    ``measure_service``). The runs are walked only for a part with an outage at one of
    its ends (rare): the others need none."""
    out = []
    for p in m.parts:
        at_start, at_end = edge_runs(context, p, rollups, cache)
        runs = part_runs(context, p, rollups, cache) if at_start or at_end else ()
        out.append(_sealed_part(context, p, runs, cache, dependency_bad, False))
    return out


def combine(
    service_id: str,
    vantage: str,
    period: PeriodWindow,
    sealed: Sequence[SealedPeriod],
    rest: Sequence[SealedPart] | None,
    now: dt.datetime,
    as_of: dt.datetime | None = None,
) -> Measures:
    """Measures of ``period`` from the sealed periods that tile its start (in order,
    meeting end to start) and the parts of the rest (``open_parts`` of the engine's
    measures over ``[last sealed end, period end)``; None when the sealed periods cover
    all of it). ``as_of``: the rest's ``Measures.as_of`` (default: the last sealed end)."""
    # [start, end, sla, counts (list), longest, tail run minutes, tail run began as an overrun]
    merged: list[list] = []
    chain = [p for s in sealed for p in s.parts] + list(rest or ())
    for p in chain:
        last = merged[-1] if merged else None
        if last is not None and last[1] == p.start_minute and last[2] == p.sla:
            counts = last[3]
            for i, v in enumerate(p.counts):
                counts[i] += v
            tail, tail_overrun = p.tail_run, p.tail_overrun
            longest = max(last[4], p.longest)
            if last[5] and p.head_run:  # one run across the boundary, counted on both sides
                counts[_RUNS_AT] -= 1
                length = last[5] + p.head_run
                longest = max(longest, length)
                if last[6]:  # it began as an overrun: so are its minutes here (module docstring)
                    counts[_OVERRUN_AT] += p.head_run
                    counts[_DEPENDENCY_AT] -= p.head_dependency
                if p.outage_runs == 1 and p.tail_run:  # the same run fills the part: it goes on
                    tail, tail_overrun = length, last[6]
            last[1] = p.end_minute
            last[4:7] = [longest, tail, tail_overrun]
        elif p.counts[0] or not merged:
            merged.append(
                [p.start_minute, p.end_minute, p.sla, list(p.counts), p.longest, p.tail_run, p.tail_overrun]
            )
    if not merged:
        raise ValueError(f"{service_id}: nothing to combine")
    parts = [
        PartMeasure(_minute(a), _minute(b), sla, **dict(zip(COUNT_FIELDS, counts, strict=True)), longest_outage=longest)
        for a, b, sla, counts, longest, _t, _o in merged
    ]
    if as_of is None:
        as_of = sealed[-1].period.end if sealed else _minute(merged[-1][1])
    return assemble(service_id, vantage, period, parts, as_of, now)


def sealed_prefix(periods: Sequence[SealedPeriod], window: PeriodWindow) -> list[SealedPeriod]:
    """The sealed periods (ordered by start) that tile ``window`` from its start without
    a gap and end inside it: what a report over ``window`` can read as sealed."""
    out: list[SealedPeriod] = []
    at = window.start
    for s in periods:
        if s.period.start < at:
            continue
        if s.period.start != at or s.period.end > window.end:
            break
        out.append(s)
        at = s.period.end
    return out
