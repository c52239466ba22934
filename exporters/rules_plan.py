"""What the generated rules need to know about one service, read once from the catalogue.

The rule generator (``exporters.rules``) and the ``promtool`` test generator
(``exporters.rules_tests``) both work from these plans, so they cannot disagree on a
target, a period, a ``for:`` duration or a label.
"""

from __future__ import annotations

from dataclasses import dataclass

from exporters.burn_rates import PERIOD_DAYS
from slamon.core.catalogue import Catalogue
from slamon.core.model import (
    HttpProbe,
    JourneyProbe,
    Lifecycle,
    Period,
    Service,
    TcpProbe,
    TlsProbe,
)

DEFAULT_CERT_DAYS = 14  # TlsProbe's default min_days_left, for https probes of other kinds
MIN_DOWN_FOR_SECONDS = 120  # a state change must be seen by at least a couple of scrapes
MIN_ABSENT_FOR_SECONDS = 600


@dataclass(frozen=True, slots=True)
class Objective:
    name: str  # "availability" | "latency": the ``objective`` label of the SLI counters
    percent: float

    @property
    def target(self) -> float:
        return round(self.percent / 100.0, 9)

    @property
    def error_budget(self) -> float:
        return round(1.0 - self.target, 9)


@dataclass(frozen=True, slots=True)
class CertCheck:
    """Probes whose certificate must have at least ``min_days_left`` days left."""

    probes: tuple[str, ...]
    min_days_left: int


@dataclass(frozen=True, slots=True)
class ServicePlan:
    service: Service
    objectives: tuple[Objective, ...]
    period: Period
    min_interval_seconds: float
    certs: tuple[CertCheck, ...]

    @property
    def id(self) -> str:
        return self.service.id

    @property
    def office(self) -> str:
        return self.service.office

    @property
    def period_days(self) -> int:
        return PERIOD_DAYS[self.period]

    @property
    def urgent_severity(self) -> str:
        """Only production services page; pipeline and deprecated ones open tickets."""
        return "page" if self.service.lifecycle == Lifecycle.production else "ticket"

    @property
    def down_for_seconds(self) -> int:
        """``for:`` of the service-down alert: the daemon's state already waited for the
        failure threshold; two more probe intervals ride out a flap or a restart."""
        return max(MIN_DOWN_FOR_SECONDS, int(2 * self.min_interval_seconds))

    @property
    def absent_for_seconds(self) -> int:
        """``for:`` of the metrics-absent alert: three probe intervals without a result."""
        return max(MIN_ABSENT_FOR_SECONDS, int(3 * self.min_interval_seconds))

    def alert_labels(self, severity: str) -> dict[str, str]:
        svc = self.service
        return {
            "severity": severity,
            "office": svc.office,
            "service": svc.id,
            "tier": svc.tier,
            "owner": svc.owner.group,
        }


def _carries_certificate(probe) -> bool:
    if isinstance(probe, TlsProbe):
        return True
    if isinstance(probe, HttpProbe):
        return probe.url.lower().startswith("https://")
    if isinstance(probe, JourneyProbe):
        return any(step.url.lower().startswith("https://") for step in probe.steps)
    if isinstance(probe, TcpProbe):  # TLS from the start, or a dialogue's STARTTLS
        return probe.tls or any(step.starttls is not None for step in probe.dialogue or ())
    return False


def _cert_checks(service: Service) -> tuple[CertCheck, ...]:
    enabled = [p for p in service.probes if p.enabled and _carries_certificate(p)]
    tls_days = [p.min_days_left for p in enabled if isinstance(p, TlsProbe)]
    default_days = max(tls_days, default=DEFAULT_CERT_DAYS)
    by_days: dict[int, list[str]] = {}
    for probe in enabled:
        days = getattr(probe, "min_days_left", None)
        days = default_days if days is None else days
        by_days.setdefault(days, []).append(probe.id)
    return tuple(
        CertCheck(tuple(sorted(ids)), days) for days, ids in sorted(by_days.items(), reverse=True)
    )


def plan_service(catalogue: Catalogue, service: Service) -> ServicePlan | None:
    """The plan for one service, or None when nothing of it is measured (retired, or
    without an enabled probe)."""
    if service.lifecycle == Lifecycle.retired:
        return None
    enabled = [p for p in service.probes if p.enabled]
    if not enabled:
        return None
    sla = catalogue.sla(service)
    objectives = [Objective("availability", sla.availability)]
    if sla.latency is not None:
        objectives.append(Objective("latency", sla.latency.percent))
    return ServicePlan(
        service=service,
        objectives=tuple(objectives),
        period=sla.period,
        min_interval_seconds=min(p.interval for p in enabled),
        certs=_cert_checks(service),
    )


def plans_by_office(catalogue: Catalogue) -> dict[str, list[ServicePlan]]:
    """Every office of the catalogue (sorted), each with its measured services by id."""
    out: dict[str, list[ServicePlan]] = {office: [] for office in sorted(catalogue.offices)}
    for sid in sorted(catalogue.services):
        svc = catalogue.services[sid]
        plan = plan_service(catalogue, svc)
        if plan is not None:
            out.setdefault(svc.office, []).append(plan)
    return out
