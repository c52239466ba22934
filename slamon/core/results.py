"""What a probe produces: a result is data, never an exception.

``ProbeOutcome`` is what a probe function returns (no identity, no wall-clock);
the scheduler stamps it into a ``ProbeResult`` with the vantage office, service,
probe and start time. Every consumer (state, store, metrics, alerts) takes
``ProbeResult``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Reason(StrEnum):
    """Closed set of failure reasons. Safe as a metric label value."""

    timeout = "timeout"  # the probe's time limit passed
    dns = "dns"  # name did not resolve
    refused = "refused"  # connection refused
    reset = "reset"  # connection reset or closed early
    unreachable = "unreachable"  # network/host unreachable
    tls = "tls"  # handshake failed, certificate invalid
    cert_expiry = "cert_expiry"  # (tls probe) the certificate has expired; inside min_days_left is a warning
    status = "status"  # HTTP status not accepted
    body = "body"  # body regex did not match / must-not matched
    body_too_large = "body_too_large"  # body exceeded the read cap
    header = "header"  # expected header missing or not matching
    assertion = "assertion"  # other expectation (DNS answers, TCP expect) not met
    step_timeout = "step_timeout"  # a journey step exceeded its max_duration
    extract = "extract"  # a journey variable could not be extracted
    protocol = "protocol"  # peer spoke something that is not the protocol
    secret = "secret"  # an ${env:NAME} reference is not set in the environment
    redirects = "redirects"  # too many redirects
    error = "error"  # anything else (logged with detail)
    local = "local"  # a fault of the monitor itself (descriptors, memory): unobserved time
    missed = "missed"  # a heartbeat did not arrive within its schedule and grace
    reported = "reported"  # a heartbeat arrived with status=fail


LOCAL_FAULT = Reason.local


class WarningReason(StrEnum):
    """Closed set of warnings on a successful result. Safe as a metric label value.

    A warning never counts against availability or latency: the result is a success."""

    cert_expiry_soon = "cert_expiry_soon"  # certificate valid, but inside min_days_left
    slow = "slow"  # succeeded, but slower than the probe's warn_latency


PHASES = ("resolve", "connect", "tls", "processing", "transfer")


@dataclass(slots=True, frozen=True)
class StepOutcome:
    name: str
    success: bool
    duration_seconds: float
    status_code: int | None = None
    reason: Reason | None = None
    detail: str = ""  # for people; never a label, never a secret


@dataclass(slots=True, frozen=True)
class ProbeOutcome:
    success: bool
    duration_seconds: float
    reason: Reason | None = None
    status_code: int | None = None
    phases: dict[str, float] = field(default_factory=dict)  # PHASES -> seconds
    detail: str = ""  # for people (logs, status page); never a label, never a secret
    cert_expiry_timestamp: float | None = None  # earliest expiry in the chain, unix seconds
    steps: tuple[StepOutcome, ...] = ()
    dns_lookup_seconds: float | None = None
    http_version: str | None = None
    tls_version: str | None = None
    ip_protocol: int | None = None  # 4 or 6
    warning: WarningReason | None = None  # a success with a warning (never on a failure)
    warning_detail: str = ""  # for people, like ``detail``

    @property
    def local_fault(self) -> bool:
        """The monitor itself failed (not the target): the result says nothing about it."""
        return self.reason is LOCAL_FAULT
    packets_sent: int | None = None  # icmp: echo requests sent
    packets_received: int | None = None  # icmp: echo replies received
    rtt_seconds: float | None = None  # icmp: mean round trip of the replies

    @property
    def packet_loss_ratio(self) -> float | None:
        """icmp: share of echo requests not answered, 0..1."""
        if not self.packets_sent or self.packets_received is None:
            return None
        return (self.packets_sent - self.packets_received) / self.packets_sent


@dataclass(slots=True, frozen=True)
class ProbeResult:
    vantage: str  # office the probe ran from
    service_id: str
    probe_id: str
    kind: str
    started_at: float  # unix seconds, UTC
    outcome: ProbeOutcome

    @property
    def success(self) -> bool:
        return self.outcome.success

    @property
    def local_fault(self) -> bool:
        return self.outcome.reason is LOCAL_FAULT

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.vantage, self.service_id, self.probe_id)
