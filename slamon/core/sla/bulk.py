"""Measures for many services at once (reports, indicators, benchmarks).

The work per service and UTC day is a few big-int ANDs and ``int.bit_count()``; the
eligibility plans (calendar x maintenance x exclusions over a range of minutes) are
computed once and shared through the ``MaskCache`` by every service with the same
scope. Order the jobs so that services of one office follow each other: the plan
cache is an LRU.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from slamon.core.sla.context import ServiceContext, TargetSegment
from slamon.core.sla.masks import MaskCache
from slamon.core.sla.measure import Measures, measure_service
from slamon.core.sla.periods import PeriodWindow
from slamon.core.sla.rollup import DayRollup
from slamon.core.sla.series import DaySeries


@dataclass(frozen=True, slots=True)
class MeasureJob:
    context: ServiceContext
    vantage: str
    period: PeriodWindow
    targets: Sequence[TargetSegment]
    rollups: Mapping[dt.date, DayRollup]


def measure_many(
    jobs: Iterable[MeasureJob], now: dt.datetime, cache: MaskCache | None = None
) -> Iterator[Measures]:
    """Measure each job in turn (lazily, so rollups can be streamed per service)."""
    cache = cache if cache is not None else MaskCache()
    for job in jobs:
        yield measure_service(job.context, job.vantage, job.period, job.targets, job.rollups, now, cache)


def index_rollups(rollups: Iterable[DayRollup]) -> dict[tuple[str, str], dict[dt.date, DayRollup]]:
    """Group rollups by (service, vantage) and day, merging partial rollups of one day."""
    out: dict[tuple[str, str], dict[dt.date, DayRollup]] = {}
    for r in rollups:
        days = out.setdefault((r.service_id, r.vantage), {})
        days[r.day] = days[r.day].merge(r) if r.day in days else r
    return out


def index_series(rollups: Iterable[DayRollup]) -> dict[tuple[str, str], DaySeries]:
    """``index_rollups`` with each service's days as a ``DaySeries`` (built once, where
    the rollups are decoded, so the engine visits only the incomplete days)."""
    return {key: DaySeries.from_rollups(days) for key, days in index_rollups(rollups).items()}
