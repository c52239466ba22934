"""The loaded catalogue as one immutable value, and what follows from it.

A ``Catalogue`` is built only by the loader, after every rule passed; the rest of
slamon can rely on its cross-references (tiers, offices, calendars) being sound.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from slamon.core.model import (
    BUILTIN_CALENDAR,
    Budgeting,
    IndicatorsFile,
    LatencyObjective,
    Lifecycle,
    Office,
    Period,
    PracticesFile,
    Probe,
    Service,
    StepsObjective,
    Tier,
)


@dataclass(frozen=True, slots=True)
class EffectiveSLA:
    """The objectives that apply to a service: its tier, tightened by its own ``sla``."""

    availability: float  # percent
    latency: LatencyObjective | None
    steps: StepsObjective | None
    unplanned_outages: int | None
    schedule: str  # calendar name of the service's office, or "24x7"
    period: Period
    budgeting: Budgeting


def effective_sla(service: Service, tier: Tier) -> EffectiveSLA:
    s = service.sla
    return EffectiveSLA(
        availability=(s.availability if s and s.availability is not None else tier.availability),
        latency=(s.latency if s and s.latency is not None else tier.latency),
        steps=s.steps if s else None,
        unplanned_outages=s.unplanned_outages if s else None,
        schedule=(s.schedule if s and s.schedule else tier.schedule) or BUILTIN_CALENDAR,
        period=(s.period if s and s.period else tier.period),
        budgeting=(s.budgeting if s and s.budgeting else tier.budgeting),
    )


@dataclass(frozen=True, slots=True)
class ProbeTask:
    """One probe of one service, run from one vantage office."""

    service: Service
    probe: Probe
    vantage: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.vantage, self.service.id, self.probe.id)


def shard_of(service_id: str, shards: int) -> int:
    """Stable share of a service among ``shards`` daemons (same answer in every process)."""
    digest = hashlib.blake2b(service_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


@dataclass(frozen=True)
class Catalogue:
    offices: dict[str, Office]
    tiers: dict[str, Tier]
    practices: PracticesFile
    indicators: IndicatorsFile
    services: dict[str, Service]
    sources: dict[str, str] = field(default_factory=dict)  # service id -> file path

    def sla(self, service: Service | str) -> EffectiveSLA:
        svc = self.services[service] if isinstance(service, str) else service
        return effective_sla(svc, self.tiers[svc.tier])

    def services_of(self, office: str | None = None) -> list[Service]:
        return [s for s in self.services.values() if office is None or s.office == office]

    def production(self) -> Iterator[Service]:
        return (s for s in self.services.values() if s.lifecycle == Lifecycle.production)

    def probe_tasks(
        self,
        vantages: Iterable[str] | None = None,
        shard: tuple[int, int] | None = None,
    ) -> list[ProbeTask]:
        """Every enabled probe at every vantage it runs from.

        ``vantages`` restricts to the offices this daemon stands at (``--office``);
        ``shard=(i, n)`` keeps the services whose stable hash falls in share ``i`` of ``n``.
        Services that are retired are not probed.
        """
        wanted = set(vantages) if vantages is not None else None
        tasks: list[ProbeTask] = []
        for svc in self.services.values():
            if svc.lifecycle == Lifecycle.retired:
                continue
            if shard is not None and shard_of(svc.id, shard[1]) != shard[0]:
                continue
            for probe in svc.probes:
                if not probe.enabled:
                    continue
                for vantage in svc.vantages(probe):
                    if wanted is None or vantage in wanted:
                        tasks.append(ProbeTask(svc, probe, vantage))
        return tasks
