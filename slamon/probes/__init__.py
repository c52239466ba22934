"""Probes: run one probe once and say what happened, as data.

    ctx = ProbeContext.create(max_body_bytes=..., env=os.environ)   # once, in the loop
    outcome = await run_probe(probe, ctx)                            # any probe kind
    await ctx.close()

``run_probe`` enforces ``probe.timeout`` itself (a deadline on the loop's monotonic
clock) and never raises for anything a target or the network does: every such failure
is a ``ProbeOutcome(success=False, reason=Reason.<x>, detail=...)``. A bug in slamon
still raises. Cancellation from outside (shutdown) propagates as usual.

The caller should start the call only once it holds its concurrency slot, so time
spent queueing never counts against the probe (DESIGN, performance notes).
"""

from __future__ import annotations

import asyncio
import time

from slamon.core.model import DnsProbe, HttpProbe, JourneyProbe, Probe, TcpProbe, TlsProbe
from slamon.core.results import ProbeOutcome, Reason, StepOutcome
from slamon.probes.attempt import Attempt
from slamon.probes.context import ProbeContext
from slamon.probes.dns import probe_dns
from slamon.probes.errors import classify
from slamon.probes.http import probe_http
from slamon.probes.journey import probe_journey
from slamon.probes.secrets import Secrets
from slamon.probes.tcp import probe_tcp
from slamon.probes.tls import probe_tls
from slamon.probes.tracing import close_open_phases

__all__ = ["ProbeContext", "ProbeOutcome", "run_probe"]


class ProbeBug(RuntimeError):
    """A bug while probing whose message would have shown a secret (masked here)."""


async def run_probe(
    probe: Probe, ctx: ProbeContext, *, timeout_seconds: float | None = None
) -> ProbeOutcome:
    """Run ``probe`` once within ``timeout_seconds`` (default: ``probe.timeout``)."""
    attempt = Attempt(Secrets(ctx.env))
    limit = probe.timeout if timeout_seconds is None else timeout_seconds
    deadline = ctx.loop.time() + limit
    time_limit = asyncio.timeout_at(deadline)
    try:
        async with time_limit:
            if isinstance(probe, HttpProbe):
                return await probe_http(probe, ctx, attempt)
            if isinstance(probe, TcpProbe):
                return await probe_tcp(probe, ctx, attempt)
            if isinstance(probe, DnsProbe):
                return await probe_dns(probe, ctx, attempt, deadline)
            if isinstance(probe, TlsProbe):
                return await probe_tls(probe, ctx, attempt)
            if isinstance(probe, JourneyProbe):
                return await probe_journey(probe, ctx, attempt, deadline)
            raise TypeError(f"no probe for kind {getattr(probe, 'kind', type(probe).__name__)!r}")
    except TimeoutError:
        close_open_phases(attempt)
        step = attempt.step_name
        _record_step_in_progress(attempt)
        where = f" in step {step!r}" if step else ""
        if not time_limit.expired():  # a lower-level time limit (socket, resolver) fired
            return attempt.outcome(Reason.timeout, f"timed out{where} {attempt.stage}")
        return attempt.outcome(Reason.timeout, f"no result within {limit:g} s{where} ({attempt.stage})")
    except Exception as exc:
        found = classify(exc)
        if found is None:
            masked = attempt.secrets.mask(str(exc))
            if masked != str(exc):
                raise ProbeBug(f"{type(exc).__name__}: {masked}") from None
            raise
        close_open_phases(attempt)
        reason, detail = found
        _record_step_in_progress(attempt, reason, detail)
        return attempt.outcome(reason, detail)


def _record_step_in_progress(
    attempt: Attempt, reason: Reason = Reason.timeout, detail: str = ""
) -> None:
    """A journey cut short: the step it was in is recorded as failed."""
    if attempt.step_name is None:
        return
    attempt.steps.append(
        StepOutcome(
            name=attempt.step_name,
            success=False,
            duration_seconds=time.monotonic() - attempt.step_started,
            status_code=None,
            reason=reason,
            detail=attempt.secrets.mask(detail or f"cut short by the journey's time limit ({attempt.stage})"),
        )
    )
    attempt.step_name = None
