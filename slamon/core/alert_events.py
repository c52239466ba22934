"""Alert events: what the daemon tells Alertmanager or a webhook, built from what it saw.

Two things raise an alert of the daemon's own (for offices that run no Prometheus):
a probe going down (``SlamonServiceDown``, resolved when it is up again) and an SLA
breach being opened (``SlamonSLABreached``, resolved when the breach is). The labels
come from the catalogue (office, tier, owner group), so Alertmanager can route by
office and owner. Labels hold bounded values only: ids, never URLs, error text or
secrets. Pure: times come in as arguments.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from slamon.core.catalogue import Catalogue
from slamon.core.model import Lifecycle, Service
from slamon.core.numbers import percent_text, target_text
from slamon.core.observed import Transition
from slamon.core.state import State

SERVICE_DOWN = "SlamonServiceDown"
SLA_BREACHED = "SlamonSLABreached"
DEFAULT_RUNBOOKS = "docs/runbooks.md"


class AlertStatus(StrEnum):
    firing = "firing"
    resolved = "resolved"


class Severity(StrEnum):
    page = "page"  # someone acts now
    ticket = "ticket"  # someone acts within working hours
    info = "info"  # for the record


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One alert becoming active (firing) or over (resolved).

    ``labels`` identify the alert (``alertname`` included); two events with the same
    labels are the same alert. ``ends_at`` is set on a resolve; a firing alert's end is
    chosen by whoever delivers it.
    """

    name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    status: AlertStatus
    starts_at: dt.datetime
    ends_at: dt.datetime | None = None
    generator_url: str = ""
    identity: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.labels.get("alertname") != self.name:
            raise ValueError(f"labels must carry alertname={self.name!r}")
        for when in (self.starts_at, self.ends_at):
            if when is not None and when.utcoffset() != dt.timedelta(0):
                raise ValueError("alert times must be UTC-aware datetimes")
        object.__setattr__(self, "identity", tuple(sorted(self.labels.items())))

    @property
    def firing(self) -> bool:
        return self.status is AlertStatus.firing

    @property
    def fingerprint(self) -> str:
        """Stable short id of the label set (the same in every process)."""
        text = "\x1f".join(f"{k}={v}" for k, v in self.identity)
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class BreachChange:
    """An SLA breach of one objective of a service at one vantage, opened or resolved.

    ``measure_ratio`` is the period's measure so far and ``target_ratio`` the objective,
    both 0..1 (e.g. 0.9962 against 0.999).
    """

    service_id: str
    vantage: str
    objective: str  # availability | latency | steps | unplanned_outages
    opened: bool
    at: dt.datetime
    measure_ratio: float
    target_ratio: float


def utc(unix_seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(unix_seconds, tz=dt.UTC)


def runbook_url(alertname: str, base: str = DEFAULT_RUNBOOKS) -> str:
    """Link to the runbook section of an alert (Markdown heading anchors are lowercase)."""
    return f"{base}#{alertname.lower()}"


def _service_labels(service: Service, vantage: str, severity: Severity) -> dict[str, str]:
    return {
        "office": service.office,
        "service": service.id,
        "vantage": vantage,
        "tier": service.tier,
        "severity": str(severity),
        "owner": service.owner.group,
    }


def down_severity(service: Service) -> Severity:
    """A production service down pages; one in the pipeline or deprecated is a ticket."""
    return Severity.page if service.lifecycle == Lifecycle.production else Severity.ticket


def dependency_cause(
    catalogue: Catalogue, service_id: str, is_down: Callable[[str], bool]
) -> str | None:
    """The service ``service_id`` depends on (directly or through others) that is down and
    whose own dependencies are not: the root of the outage, for a ``caused_by`` label.
    None when no dependency is down. Several roots: the first by id (stable)."""
    service = catalogue.services.get(service_id)
    if service is None:
        return None
    seen: set[str] = set()
    stack = list(service.depends_on)
    down: list[str] = []
    while stack:
        dep = stack.pop()
        if dep in seen or dep == service_id:
            continue
        seen.add(dep)
        if is_down(dep):
            down.append(dep)
        other = catalogue.services.get(dep)
        if other is not None:
            stack.extend(other.depends_on)
    roots = [
        d for d in down
        if d in catalogue.services and not any(x in down for x in catalogue.services[d].depends_on)
    ]  # fmt: skip
    return min(roots or down, default=None)


def event_for_transition(
    transition: Transition,
    catalogue: Catalogue,
    *,
    runbooks: str = DEFAULT_RUNBOOKS,
    generator_url: str = "",
    caused_by: str | None = None,
) -> AlertEvent | None:
    """``SlamonServiceDown`` firing when a probe went down, resolved when it came up.

    None when the service is no longer in the catalogue or the new state says nothing
    (unknown). ``caused_by``: a service it depends on that is down from the same vantage
    (``dependency_cause``), as a label; the resolve must carry the same value as the
    firing (the caller keeps it), since labels are the alert's identity. A transition to up is always a resolve; whoever delivers it drops a
    resolve of an alert it never fired (the first success after start-up).
    """
    vantage, service_id, probe_id = transition.key
    service = catalogue.services.get(service_id)
    if service is None or transition.state is State.unknown:
        return None
    at = utc(transition.at)
    labels = {"alertname": SERVICE_DOWN, **_service_labels(service, vantage, down_severity(service))}
    labels["probe"] = probe_id
    if caused_by:
        labels["caused_by"] = caused_by
    outcome = transition.result.outcome
    where = f"from {vantage}" if vantage != service.office else f"at {vantage}"
    if transition.state is State.down:
        reason = str(outcome.reason) if outcome.reason else "failure"
        status = f" (HTTP {outcome.status_code})" if outcome.status_code else ""
        summary = f"{service.name} ({service.id}) is down {where}"
        description = (
            f"Probe {probe_id} ({transition.result.kind}) of {service.id} failed its "
            f"threshold of consecutive checks {where}; last failure: {reason}{status}. "
            f"Owner: {service.owner.group}; tier {service.tier}."
        )
        if caused_by:
            description += f" It depends on {caused_by}, which is down {where} too."
        status_ = AlertStatus.firing
        ends_at = None
    else:
        summary = f"{service.name} ({service.id}) is up again {where}"
        description = f"Probe {probe_id} of {service.id} succeeded again {where}."
        status_ = AlertStatus.resolved
        ends_at = at
    return AlertEvent(
        name=SERVICE_DOWN,
        labels=labels,
        annotations={
            "summary": summary,
            "description": description,
            "runbook_url": runbook_url(SERVICE_DOWN, runbooks),
        },
        status=status_,
        starts_at=at,
        ends_at=ends_at,
        generator_url=generator_url,
    )


def event_for_breach(
    change: BreachChange,
    catalogue: Catalogue,
    *,
    runbooks: str = DEFAULT_RUNBOOKS,
    generator_url: str = "",
) -> AlertEvent | None:
    """``SlamonSLABreached`` (severity ticket) while an objective is breached in its period."""
    service = catalogue.services.get(change.service_id)
    if service is None:
        return None
    if change.at.utcoffset() != dt.timedelta(0):
        raise ValueError("BreachChange.at must be a UTC-aware datetime")
    labels = {"alertname": SLA_BREACHED, **_service_labels(service, change.vantage, Severity.ticket)}
    labels["objective"] = change.objective
    period = catalogue.sla(service).period
    # an opened breach is below its target: rounded toward that verdict (docs/sla.md)
    measure = percent_text(change.measure_ratio, target_ratio=change.target_ratio, met=False if change.opened else None)
    target = target_text(change.target_ratio)
    if change.opened:
        summary = f"{service.name} ({service.id}) breaches its {change.objective} objective at {change.vantage}"
        description = (
            f"The {period} {change.objective} of {service.id} measured from {change.vantage} "
            f"is {measure}, below its target of {target}. "
            f"Owner: {service.owner.group}; tier {service.tier}."
        )
    else:
        summary = f"{service.name} ({service.id}) meets its {change.objective} objective again at {change.vantage}"
        description = (
            f"The {period} {change.objective} of {service.id} measured from {change.vantage} "
            f"is {measure}, at or above its target of {target}."
        )
    return AlertEvent(
        name=SLA_BREACHED,
        labels=labels,
        annotations={
            "summary": summary,
            "description": description,
            "runbook_url": runbook_url(SLA_BREACHED, runbooks),
        },
        status=AlertStatus.firing if change.opened else AlertStatus.resolved,
        starts_at=change.at,
        ends_at=None if change.opened else change.at,
        generator_url=generator_url,
    )
