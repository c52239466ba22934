"""A service's level across the vantages it is probed from.

DESIGN.md: the SLA is measured per vantage, and a service meets its expected level
only where it meets it from every vantage it is probed from. So the service verdict
is False when any vantage fails, None (unknown) when none fails but some vantage has
nothing observed, and True only when every vantage meets every objective.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slamon.core.sla.measure import Measures, combine_verdicts


@dataclass(frozen=True)
class ServiceLevel:
    service_id: str
    per_vantage: tuple[Measures, ...]

    @property
    def met(self) -> bool | None:
        return combine_verdicts(m.met for m in self.per_vantage)

    def objective_met(self, objective: str) -> bool | None:
        return combine_verdicts(
            m.objectives[objective].met for m in self.per_vantage if objective in m.objectives
        )

    @property
    def failing_vantages(self) -> tuple[str, ...]:
        return tuple(m.vantage for m in self.per_vantage if m.met is False)

    @property
    def unobserved_vantages(self) -> tuple[str, ...]:
        return tuple(m.vantage for m in self.per_vantage if m.observed_minutes == 0)

    @property
    def monitored(self) -> bool:
        """Observed from at least one vantage in the period."""
        return any(m.observed_minutes for m in self.per_vantage)

    @property
    def worst(self) -> Measures | None:
        """The vantage with the lowest availability (observed ones first)."""
        observed = [m for m in self.per_vantage if m.availability is not None]
        return min(observed, key=lambda m: m.availability or 0.0) if observed else None


def combine_vantages(measures: Sequence[Measures]) -> ServiceLevel:
    ids = {m.service_id for m in measures}
    if len(ids) != 1:
        raise ValueError(f"combine_vantages needs the measures of one service (found {sorted(ids)})")
    return ServiceLevel(ids.pop(), tuple(sorted(measures, key=lambda m: m.vantage)))
