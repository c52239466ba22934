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
from dataclasses import replace

from slamon.core.model import (
    DnsProbe,
    HttpProbe,
    IcmpProbe,
    JourneyProbe,
    Probe,
    TcpProbe,
    TlsProbe,
)
from slamon.core.results import ProbeOutcome, Reason, StepOutcome, WarningReason
from slamon.probes.attempt import Attempt
from slamon.probes.context import ProbeContext
from slamon.probes.dns import probe_dns
from slamon.probes.errors import classify
from slamon.probes.http import probe_http
from slamon.probes.icmp import probe_icmp
from slamon.probes.journey import probe_journey
from slamon.probes.secrets import Secrets
from slamon.probes.tcp import probe_tcp
from slamon.probes.tls import probe_tls

__all__ = ["ProbeContext", "ProbeOutcome", "run_probe"]


class _Deadline:
    """``asyncio.timeout_at`` cut to what ``run_probe`` needs (one per probe, so its
    cost counts): at ``when`` the task is cancelled, and the cancellation it caused is
    told apart from one coming from outside (which propagates)."""

    __slots__ = ("_cancelling", "_handle", "_task", "_undone", "expired")

    def __init__(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("run_probe must run in a task")
        self._task = task
        self._cancelling = task.cancelling()
        self.expired = False
        self._undone = False
        self._handle = loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self.expired = True
        self._task.cancel()

    def ours(self) -> bool:
        """The CancelledError being handled is this deadline's (then it is undone)."""
        if not self.expired:
            return False
        self._undone = True
        return self._task.uncancel() <= self._cancelling

    def end(self) -> None:
        self._handle.cancel()
        if self.expired and not self._undone:  # fired as the probe ended another way
            self._undone = True
            self._task.uncancel()


class ProbeBug(RuntimeError):
    """A bug while probing whose message would have shown a secret (masked here)."""


async def run_probe(
    probe: Probe, ctx: ProbeContext, *, timeout_seconds: float | None = None
) -> ProbeOutcome:
    """Run ``probe`` once within ``timeout_seconds`` (default: ``probe.timeout``)."""
    outcome = await _run_probe(probe, ctx, timeout_seconds)
    warn = probe.warn_latency
    if warn is not None and outcome.success and outcome.warning is None and outcome.duration_seconds > warn:
        outcome = replace(
            outcome,
            warning=WarningReason.slow,
            warning_detail=f"took {outcome.duration_seconds:.3f} s, over warn_latency {warn:g} s",
        )
    return outcome


async def _run_probe(probe: Probe, ctx: ProbeContext, timeout_seconds: float | None) -> ProbeOutcome:
    attempt = Attempt(Secrets(ctx.env))
    limit = probe.timeout if timeout_seconds is None else timeout_seconds
    loop = ctx.loop
    deadline = loop.time() + limit
    time_limit = _Deadline(loop, deadline)
    try:
        try:
            if isinstance(probe, HttpProbe):
                return await probe_http(probe, ctx, attempt)
            if isinstance(probe, TcpProbe):
                return await probe_tcp(probe, ctx, attempt, deadline)
            if isinstance(probe, DnsProbe):
                return await probe_dns(probe, ctx, attempt, deadline)
            if isinstance(probe, TlsProbe):
                return await probe_tls(probe, ctx, attempt)
            if isinstance(probe, JourneyProbe):
                return await probe_journey(probe, ctx, attempt, deadline)
            if isinstance(probe, IcmpProbe):
                return await probe_icmp(probe, ctx, attempt, deadline)
            raise TypeError(f"no probe for kind {getattr(probe, 'kind', type(probe).__name__)!r}")
        except asyncio.CancelledError:
            if time_limit.ours():
                raise TimeoutError from None
            raise
        finally:
            time_limit.end()
    except TimeoutError:
        step = attempt.step_name
        _record_step_in_progress(attempt)
        where = f" in step {step!r}" if step else ""
        if not time_limit.expired:  # a lower-level time limit (socket, resolver) fired
            return attempt.outcome(Reason.timeout, f"timed out{where} {attempt.stage}")
        return attempt.outcome(Reason.timeout, f"no result within {limit:g} s{where} ({attempt.stage})")
    except Exception as exc:
        found = classify(exc)
        if found is None:
            masked = attempt.secrets.mask(str(exc))
            if masked != str(exc):
                raise ProbeBug(f"{type(exc).__name__}: {masked}") from None
            raise
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
