"""What a probe run has found so far, kept in one mutable record.

A probe fills its ``Attempt`` as it goes (phase timings, status code, certificate,
the stage it is in). Whether the run ends normally or is cut short by its deadline
or a network error, ``run_probe`` builds the ``ProbeOutcome`` from the same record,
so a timeout still reports the phases that completed and where it got stuck.

The HTTP client (``slamon.probes.h1``, for http probes and journey steps) adds its
phases as each ends, or is cut short; they are summed over redirects and journey steps.
"""

from __future__ import annotations

import time

from slamon.core.results import ProbeOutcome, Reason, StepOutcome, WarningReason
from slamon.probes.secrets import Secrets


class Attempt:
    __slots__ = (
        "cert_expiry_timestamp",
        "dns_lookup_seconds",
        "http_version",
        "ip_protocol",
        "packets_received",
        "packets_sent",
        "phases",
        "rtt_seconds",
        "secrets",
        "stage",
        "started",
        "status_code",
        "step_name",
        "step_started",
        "steps",
        "tls_version",
    )

    def __init__(self, secrets: Secrets) -> None:
        self.started = time.monotonic()
        self.secrets = secrets
        self.phases: dict[str, float] = {}
        self.stage = "starting"
        self.status_code: int | None = None
        self.cert_expiry_timestamp: float | None = None
        self.http_version: str | None = None
        self.tls_version: str | None = None
        self.ip_protocol: int | None = None
        self.dns_lookup_seconds: float | None = None
        self.steps: list[StepOutcome] = []
        self.step_name: str | None = None  # journey step in progress
        self.step_started = 0.0
        self.packets_sent: int | None = None
        self.packets_received: int | None = None
        self.rtt_seconds: float | None = None

    def add_phase(self, phase: str, seconds: float) -> None:
        if seconds < 0.0:
            seconds = 0.0
        phases = self.phases
        phases[phase] = phases.get(phase, 0.0) + seconds

    def note_cert_expiry(self, timestamp: float | None) -> None:
        """Keep the earliest expiry seen in this run (journeys see several)."""
        if timestamp is not None and (
            self.cert_expiry_timestamp is None or timestamp < self.cert_expiry_timestamp
        ):
            self.cert_expiry_timestamp = timestamp

    def outcome(
        self,
        reason: Reason | None = None,
        detail: str = "",
        warning: WarningReason | None = None,
        warning_detail: str = "",
    ) -> ProbeOutcome:
        """The final outcome: a success when ``reason`` is None (a warning only goes
        with a success)."""
        if reason is not None:
            warning, warning_detail = None, ""
        return ProbeOutcome(
            success=reason is None,
            duration_seconds=time.monotonic() - self.started,
            reason=reason,
            status_code=self.status_code,
            phases=self.phases,
            detail=self.secrets.mask(detail),
            cert_expiry_timestamp=self.cert_expiry_timestamp,
            steps=tuple(self.steps),
            dns_lookup_seconds=self.dns_lookup_seconds,
            http_version=self.http_version,
            tls_version=self.tls_version,
            ip_protocol=self.ip_protocol,
            warning=warning,
            warning_detail=self.secrets.mask(warning_detail) if warning_detail else "",
            packets_sent=self.packets_sent,
            packets_received=self.packets_received,
            rtt_seconds=self.rtt_seconds,
        )
