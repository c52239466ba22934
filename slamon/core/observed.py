"""What the daemon knows right now: latest result, up/down state and counters per
probe and vantage. Written by the daemon as results arrive, read by exporters
(``/metrics``, status page, API) without I/O. Pure: no clock, no locks (one event loop).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from slamon.core.results import ProbeResult, Reason
from slamon.core.state import ProbeState, State, worst

Key = tuple[str, str, str]  # (vantage, service_id, probe_id)


@dataclass(slots=True)
class ProbeRecord:
    last: ProbeResult | None = None
    state: ProbeState = field(default_factory=ProbeState)
    results_total: int = 0
    failures_total: Counter[Reason] = field(default_factory=Counter)
    # SLI events: results that fall in eligible time (service hours, not maintenance)
    in_scope_total: int = 0
    in_scope_good_total: int = 0
    # latency SLI events: in-scope results the latency objective applies to (the
    # caller passed ``fast``), and those that succeeded within the threshold
    in_scope_timed_total: int = 0
    in_scope_fast_total: int = 0


@dataclass(frozen=True, slots=True)
class Transition:
    key: Key
    state: State
    at: float
    result: ProbeResult


class Observations:
    def __init__(self) -> None:
        self.probes: dict[Key, ProbeRecord] = {}
        # results with reason ``local`` (the monitor itself failed): counted here only,
        # never as a probe result, a failure, an SLI event or a state change
        self.local_faults_total = 0
        self.last_local_fault: ProbeResult | None = None

    def configure(self, key: Key, failure_threshold: int, success_threshold: int) -> None:
        """Set thresholds for a probe (kept across reloads with its history)."""
        rec = self.probes.get(key)
        if rec is None:
            rec = self.probes[key] = ProbeRecord()
        rec.state.failure_threshold = failure_threshold
        rec.state.success_threshold = success_threshold

    def retain(self, keys: set[Key]) -> None:
        """Forget probes that are no longer in the catalogue (after a reload)."""
        for key in list(self.probes):
            if key not in keys:
                del self.probes[key]

    def record(
        self, result: ProbeResult, in_scope: bool = True, fast: bool | None = None
    ) -> Transition | None:
        """Take one result in.

        ``in_scope``: the result fell in eligible time (service hours, outside
        maintenance and exclusions). ``fast``: whether it met the service's latency
        threshold; ``None`` when no latency objective applies to it (not counted as a
        latency event). A failed result is never fast.

        A local fault (reason ``local``) is not an observation of the target: it is
        counted in ``local_faults_total`` and changes nothing else (no state change,
        not the latest result, no SLI event), so it never marks a service down.
        """
        if result.outcome.reason is Reason.local:
            self.local_faults_total += 1
            self.last_local_fault = result
            return None
        rec = self.probes.get(result.key)
        if rec is None:
            rec = self.probes[result.key] = ProbeRecord()
        rec.last = result
        rec.results_total += 1
        if not result.success:
            rec.failures_total[result.outcome.reason or Reason.error] += 1
        if in_scope:
            rec.in_scope_total += 1
            rec.in_scope_good_total += int(result.success)
            if fast is not None:
                rec.in_scope_timed_total += 1
                rec.in_scope_fast_total += int(fast and result.success)
        changed = rec.state.observe(result.success, result.started_at)
        if changed is None:
            return None
        return Transition(result.key, changed, result.started_at, result)

    def service_state(self, vantage: str, service_id: str) -> State:
        return worst(
            [
                r.state.state
                for (v, s, _), r in self.probes.items()
                if v == vantage and s == service_id
            ]
        )
