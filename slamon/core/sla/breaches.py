"""The breach state machine, pure: measures and open breaches in, events out.

A breach is one objective of one service at one vantage in one period. It is

- opened when the period measure falls below its target (``below_target``), or, for a
  ``unplanned_outages`` objective, when more bad slices occurred than allowed
  (``unplanned_outage``; with ``0`` allowed, the first bad eligible minute);
- resolved when the measure recovers (``recovered``: a ratio back at or above its
  target, e.g. after more good time or a recorded exclusion), when the period closes
  (``period_closed``; a breach of a closed period stays in the record), or when a
  target change removed the objective (``objective_removed``).

An unknown verdict (nothing observed) changes nothing. A breach found only after its
period closed is opened and resolved in the same evaluation, so the record exists.
A rolling period never closes: its breaches resolve only on recovery. Events are
stamped with ``now``; the store records them and the exporters alert on them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from slamon.core.model import Period
from slamon.core.sla.measure import UNPLANNED_OUTAGES, Measures, ObjectiveResult

BreachKey = tuple[str, str, str, str]  # (service, vantage, objective, period label)


@dataclass(frozen=True, slots=True)
class Breach:
    service_id: str
    vantage: str
    objective: str
    period: str  # label, e.g. 2026-11
    period_end: dt.datetime | None  # None for a rolling period (never closes)
    opened_at: dt.datetime
    target: float
    measure: float | None  # the measure when opened (ratio, or count for outages)
    resolved_at: dt.datetime | None = None
    resolution: str | None = None

    @property
    def key(self) -> BreachKey:
        return (self.service_id, self.vantage, self.objective, self.period)


@dataclass(frozen=True, slots=True)
class BreachEvent:
    kind: Literal["opened", "resolved"]
    reason: str  # below_target | unplanned_outage | recovered | period_closed | objective_removed
    at: dt.datetime
    breach: Breach


def _opened(m: Measures, obj: ObjectiveResult, now: dt.datetime) -> BreachEvent:
    breach = Breach(
        m.service_id,
        m.vantage,
        obj.objective,
        m.period.label,
        None if m.period.kind == Period.rolling_30d else m.period.end,
        now,
        obj.target,
        obj.actual,
    )
    reason = "unplanned_outage" if obj.objective == UNPLANNED_OUTAGES else "below_target"
    return BreachEvent("opened", reason, now, breach)


def _resolved(b: Breach, reason: str, now: dt.datetime) -> BreachEvent:
    return BreachEvent("resolved", reason, now, replace(b, resolved_at=now, resolution=reason))


def evaluate_breaches(
    measures: Iterable[Measures], open_breaches: Iterable[Breach], now: dt.datetime
) -> list[BreachEvent]:
    """Events that move ``open_breaches`` to the state the ``measures`` call for."""
    still_open = {b.key: b for b in open_breaches if b.resolved_at is None}
    events: list[BreachEvent] = []
    for m in measures:
        closed = m.period.closed(now)
        for obj in m.objectives.values():
            key = (m.service_id, m.vantage, obj.objective, m.period.label)
            breach = still_open.pop(key, None)
            if breach is None:
                if obj.met is False:
                    opened = _opened(m, obj, now)
                    events.append(opened)
                    if closed:
                        events.append(_resolved(opened.breach, "period_closed", now))
            elif obj.met is True:
                events.append(_resolved(breach, "recovered", now))
            elif closed:
                events.append(_resolved(breach, "period_closed", now))
        for key in [k for k in still_open if k[:2] == (m.service_id, m.vantage) and k[3] == m.period.label]:
            events.append(_resolved(still_open.pop(key), "objective_removed", now))
    for breach in still_open.values():  # not measured this time: only the calendar can close it
        if breach.period_end is not None and breach.period_end <= now:
            events.append(_resolved(breach, "period_closed", now))
    return events


def apply_events(open_breaches: Iterable[Breach], events: Iterable[BreachEvent]) -> list[Breach]:
    """The open breaches after ``events`` (what a store would hold as open)."""
    state = {b.key: b for b in open_breaches if b.resolved_at is None}
    for ev in events:
        if ev.kind == "opened":
            state[ev.breach.key] = ev.breach
        else:
            state.pop(ev.breach.key, None)
    return list(state.values())
