"""Up/down state from a stream of probe results, with thresholds.

A probe turns DOWN after ``failure_threshold`` consecutive failures and back UP
after ``success_threshold`` consecutive successes, so one lost packet does not page
anyone. A service's state at a vantage is the worst of its probes' states.
Pure: the caller feeds results in order and gets transitions back.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    unknown = "unknown"
    up = "up"
    down = "down"


@dataclass(slots=True)
class ProbeState:
    failure_threshold: int = 2
    success_threshold: int = 1
    state: State = State.unknown
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    since: float | None = None  # unix seconds of the last transition

    def observe(self, success: bool, at: float) -> State | None:
        """Feed one result; return the new state when it changed, else None."""
        if success:
            self.consecutive_successes += 1
            self.consecutive_failures = 0
            target = State.up if self.consecutive_successes >= self.success_threshold else None
        else:
            self.consecutive_failures += 1
            self.consecutive_successes = 0
            target = State.down if self.consecutive_failures >= self.failure_threshold else None
        if self.state is State.unknown and target is None:
            # first results decide quickly: a success is up at once, a failure waits
            target = State.up if success else None
        if target is not None and target is not self.state:
            self.state = target
            self.since = at
            return target
        return None


def worst(states: list[State]) -> State:
    """DOWN beats UNKNOWN beats UP; no probes at all is UNKNOWN."""
    if not states:
        return State.unknown
    if State.down in states:
        return State.down
    if State.unknown in states:
        return State.unknown
    return State.up
