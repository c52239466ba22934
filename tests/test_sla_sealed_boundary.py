"""The boundary rule of ``slamon.core.sla.sealed.combine``, by hand: an outage run that
crosses from one sealed period into the next is one outage, as the engine sees it over
the whole window (docs/storage.md, "Sealed period aggregates")."""

from __future__ import annotations

import datetime as dt

from slamon.core.sla.periods import Period, PeriodWindow, epoch_minute, month
from slamon.core.sla.sealed import COUNT_FIELDS, SealedPart, SealedPeriod, combine
from tests.exporters_estate import catalogue, service

NOW = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
SLA = catalogue([service("unog-a")]).sla("unog-a")
JULY, AUGUST = month(2026, 7, "UTC"), month(2026, 8, "UTC")
BOTH = PeriodWindow(Period.quarter, "07-08", JULY.start, AUGUST.end, "UTC")


def _part(window: PeriodWindow, *, runs: int, bad: int, overrun: int, dependency: int, longest: int,
          head: int = 0, head_dependency: int = 0, tail: int = 0, tail_overrun: bool = False) -> SealedPart:  # fmt: skip
    minutes = epoch_minute(window.end) - epoch_minute(window.start)
    counts = dict.fromkeys(COUNT_FIELDS, 0) | {
        "window": minutes, "eligible": minutes, "observed": minutes, "good": minutes - bad,
        "outage_runs": runs, "overrun": overrun, "dependency": dependency,
    }  # fmt: skip
    return SealedPart(
        epoch_minute(window.start), epoch_minute(window.end), SLA, tuple(counts[k] for k in COUNT_FIELDS),
        longest, head, tail, head_dependency, tail_overrun,
    )


def _sealed(window: PeriodWindow, part: SealedPart) -> SealedPeriod:
    return SealedPeriod("unog-a", "unog", window, NOW, (part,), None)


def test_a_run_over_the_boundary_that_began_as_an_overrun_stays_one():
    # July ends with a 10-minute run that began as maintenance ended (an overrun);
    # August begins with its 25 further minutes, 6 of them with the dependency down
    # (measured alone, August saw a run begin after a bad minute: no overrun, and
    # counted those 6 as dependency minutes), then a 20-minute run of its own
    july = _part(JULY, runs=1, bad=10, overrun=10, dependency=0, longest=10, tail=10, tail_overrun=True)
    august = _part(AUGUST, runs=2, bad=45, overrun=0, dependency=6, longest=25, head=25, head_dependency=6)
    m = combine("unog-a", "unog", BOTH, [_sealed(JULY, july), _sealed(AUGUST, august)], None, NOW)
    assert m.outage_runs == 2  # 1 + 2, the crossing run once
    assert m.longest_outage_minutes == 35  # 10 + 25 minutes of one outage
    assert m.overrun_minutes == 35  # all of it began as an overrun
    assert m.dependency_minutes == 0
    assert m.observed_minutes - m.good_minutes == 55


def test_a_run_that_was_no_overrun_keeps_its_dependency_minutes():
    july = _part(JULY, runs=1, bad=10, overrun=0, dependency=4, longest=10, tail=10)
    august = _part(AUGUST, runs=2, bad=45, overrun=0, dependency=6, longest=20, head=5, head_dependency=6)
    m = combine("unog-a", "unog", BOTH, [_sealed(JULY, july), _sealed(AUGUST, august)], None, NOW)
    assert (m.outage_runs, m.longest_outage_minutes) == (2, 20)  # 10 + 5 is shorter than 20
    assert (m.overrun_minutes, m.dependency_minutes) == (0, 10)


def test_without_a_run_at_the_boundary_nothing_is_joined():
    july = _part(JULY, runs=1, bad=10, overrun=10, dependency=0, longest=10, tail_overrun=False)
    august = _part(AUGUST, runs=1, bad=25, overrun=0, dependency=6, longest=25, head=25, head_dependency=6)
    m = combine("unog-a", "unog", BOTH, [_sealed(JULY, july), _sealed(AUGUST, august)], None, NOW)
    assert (m.outage_runs, m.longest_outage_minutes, m.overrun_minutes, m.dependency_minutes) == (2, 25, 10, 6)
