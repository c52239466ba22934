"""Behaviour profiles of the simulated services, chosen deterministically from a seed.

Every service gets one profile; services with planned maintenance in the catalogue
are also down during those windows (which the SLA excludes). The same profiles drive
the live estate and the backfilled history, so both tell the same story.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from enum import StrEnum

from slamon.core.catalogue import Catalogue
from slamon.core.model import Service
from slamon.core.sla.maintenance import MaintenanceSchedule


class Profile(StrEnum):
    healthy = "healthy"  # always answers, quickly
    flaky = "flaky"  # a few percent of requests fail at random
    slow = "slow"  # answers near or over the latency threshold
    outage = "outage"  # down for a few minutes of every cycle (unplanned)
    expiring_cert = "expiring-cert"  # healthy, but its TLS certificate expires in days


FLAKY_FAILURE_RATIO = 0.04
OUTAGE_EVERY_SECONDS = 900.0  # an outage cycle: ~15 minutes ...
OUTAGE_SECONDS = 180.0  # ... the first 3 of which are down
EXPIRING_CERT_DAYS = 5
ERP_SERVICE = "unhq-erp"

# how many services get each non-healthy profile
COUNTS = {Profile.outage: 2, Profile.slow: 3, Profile.flaky: 3, Profile.expiring_cert: 1}


@dataclass(frozen=True)
class Verdict:
    up: bool
    delay_seconds: float
    why: str = ""


def _probed(service: Service) -> bool:
    return any(p.enabled for p in service.probes)


def _kinds(service: Service) -> set[str]:
    return {p.kind for p in service.probes if p.enabled}


def assign_profiles(catalogue: Catalogue, seed: int) -> dict[str, Profile]:
    """One profile per service with an enabled probe; the same seed gives the same answer."""
    rng = random.Random(seed)
    ids = sorted(s.id for s in catalogue.services.values() if _probed(s))
    profiles = {sid: Profile.healthy for sid in ids}
    candidates = [
        sid
        for sid in ids
        if catalogue.services[sid].lifecycle == "production" and sid != ERP_SERVICE
    ]
    rng.shuffle(candidates)

    def take(profile: Profile, wanted: set[str]) -> None:
        for sid in list(candidates):
            if COUNTS[profile] <= sum(1 for p in profiles.values() if p is profile):
                return
            if wanted <= _kinds(catalogue.services[sid]):
                profiles[sid] = profile
                candidates.remove(sid)

    take(Profile.expiring_cert, {"tls"})
    take(Profile.outage, {"http"})
    take(Profile.slow, {"http"})
    take(Profile.flaky, set())
    return profiles


class Behaviour:
    """Whether a service is up right now and how long it takes to answer.

    ``clock`` is wall time in seconds; outage cycles count from ``anchor`` (the
    estate's start), so a freshly started demo shows an outage straight away.
    """

    def __init__(
        self,
        catalogue: Catalogue,
        profiles: dict[str, Profile],
        anchor: float,
        seed: int,
    ) -> None:
        self.catalogue = catalogue
        self.profiles = profiles
        self.anchor = anchor
        self.rng = random.Random(seed)
        self._maintenance = {
            s.id: MaintenanceSchedule.from_models(s.maintenance, catalogue.offices[s.office].timezone)
            for s in catalogue.services.values()
            if s.maintenance
        }
        self._mask_cache: dict[tuple[str, dt.date], int] = {}

    def profile(self, service_id: str) -> Profile:
        return self.profiles.get(service_id, Profile.healthy)

    def in_maintenance(self, service_id: str, now: float) -> bool:
        schedule = self._maintenance.get(service_id)
        if schedule is None:
            return False
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        key = (service_id, at.date())
        mask = self._mask_cache.get(key)
        if mask is None:
            if len(self._mask_cache) > 4096:
                self._mask_cache.clear()
            mask = self._mask_cache[key] = schedule.utc_day_mask(at.date())
        return bool(mask >> (at.hour * 60 + at.minute) & 1)

    def in_outage(self, service_id: str, now: float) -> bool:
        if self.profile(service_id) is not Profile.outage:
            return False
        return (now - self.anchor) % OUTAGE_EVERY_SECONDS < OUTAGE_SECONDS

    def latency_threshold_seconds(self, service_id: str) -> float:
        sla = self.catalogue.sla(service_id)
        return sla.latency.threshold if sla.latency else 1.0

    def verdict(self, service_id: str, now: float) -> Verdict:
        profile = self.profile(service_id)
        rng = self.rng
        if self.in_maintenance(service_id, now):
            return Verdict(False, 0.0, "planned maintenance")
        if self.in_outage(service_id, now):
            return Verdict(False, 0.0, "outage")
        if profile is Profile.slow:
            threshold = self.latency_threshold_seconds(service_id)
            return Verdict(True, min(3.0, threshold * rng.uniform(0.7, 1.3)))
        if profile is Profile.flaky and rng.random() < FLAKY_FAILURE_RATIO:
            return Verdict(False, rng.uniform(0.0, 0.05), "random failure")
        return Verdict(True, rng.uniform(0.002, 0.03))

    def step_delay_seconds(self) -> float:
        """One ERP transaction step: mostly a few hundred milliseconds, now and then ~2 s."""
        if self.rng.random() < 0.05:
            return self.rng.uniform(1.0, 2.0)
        return self.rng.uniform(0.2, 0.6)
