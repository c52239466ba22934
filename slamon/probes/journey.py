"""The ``journey`` probe: ordered HTTP steps sharing cookies and extracted variables.

Each run has its own cookie jar and session, on the context's shared connector, so a
journey starts logged out every time and never sees another probe's cookies. The jar
accepts cookies from IP-address hosts too (internal services are often reached so).

Per step: ``${name}`` (extracted by an earlier step) and ``${env:NAME}`` (secrets) are
substituted into url, headers, form and body; the request is sent without following
redirects unless the probe says so; ``expect`` is checked as for an http probe; then
each ``extract`` regex is searched in the body and its first group (or the whole match
when it has none) becomes a variable.

Time limits: ``max_duration`` per step (``step_timeout``: the service answered too
slowly for that step; the step is recorded with its duration) and ``timeout`` for the
whole journey (``timeout``; the step in progress is recorded too).
"""

from __future__ import annotations

import asyncio
import time

import aiohttp

from slamon.core.model import JourneyProbe, JourneyStep
from slamon.core.results import ProbeOutcome, Reason, StepOutcome
from slamon.probes.attempt import Attempt
from slamon.probes.context import ProbeContext
from slamon.probes.errors import classify
from slamon.probes.expect import (
    BodyTooLarge,
    body_text,
    check_body,
    check_headers,
    compiled,
    describe_statuses,
    read_body,
    status_accepted,
)
from slamon.probes.tracing import close_open_phases, current_attempt, note_transport

MAX_REDIRECTS = 10


def note_response(attempt: Attempt, resp: aiohttp.ClientResponse) -> None:
    """Record status and HTTP version (the connection itself is noted by the tracing)."""
    attempt.status_code = resp.status
    attempt.http_version = f"{resp.version.major}.{resp.version.minor}"
    if attempt.ip_protocol is None and resp.connection is not None:
        transport = resp.connection.transport
        if transport is not None:  # only when the connector could not note it
            note_transport(attempt, transport)


class StepFailed(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


async def probe_journey(
    probe: JourneyProbe, ctx: ProbeContext, attempt: Attempt, deadline: float
) -> ProbeOutcome:
    loop = asyncio.get_running_loop()
    variables: dict[str, str] = {}
    sslctx = ctx.ssl_context(probe.tls_verify, probe.ca_file)
    session = ctx.new_session(cookie_jar=aiohttp.CookieJar(unsafe=True))
    token = current_attempt.set(attempt)
    try:
        for step in probe.steps:
            attempt.step_name = step.name
            attempt.step_started = time.monotonic()
            step_deadline = deadline
            if step.max_duration is not None:
                step_deadline = min(deadline, loop.time() + step.max_duration)
            try:
                if step_deadline < deadline:
                    async with asyncio.timeout_at(step_deadline):
                        status = await _run_step(step, session, sslctx, probe, ctx, attempt, variables)
                else:  # the journey's own deadline (run_probe) bounds this step
                    status = await _run_step(step, session, sslctx, probe, ctx, attempt, variables)
            except TimeoutError:
                if step_deadline >= deadline:
                    raise
                close_open_phases(attempt)
                detail = f"took longer than {step.max_duration:g} s ({attempt.stage})"
                _record(attempt, step, False, attempt.status_code, Reason.step_timeout, detail)
                return attempt.outcome(Reason.step_timeout, f"step {step.name!r} {detail}")
            except StepFailed as exc:
                _record(attempt, step, False, attempt.status_code, exc.reason, exc.detail)
                return attempt.outcome(exc.reason, f"step {step.name!r}: {exc.detail}")
            except Exception as exc:
                found = classify(exc)
                if found is None:
                    raise
                close_open_phases(attempt)
                _record(attempt, step, False, attempt.status_code, found[0], found[1])
                return attempt.outcome(found[0], f"step {step.name!r}: {found[1]}")
            _record(attempt, step, True, status, None, "")
        return attempt.outcome()
    finally:
        current_attempt.reset(token)
        await session.close()


def _record(
    attempt: Attempt,
    step: JourneyStep,
    success: bool,
    status: int | None,
    reason: Reason | None,
    detail: str,
) -> None:
    attempt.steps.append(
        StepOutcome(
            name=step.name,
            success=success,
            duration_seconds=time.monotonic() - attempt.step_started,
            status_code=status,
            reason=reason,
            detail=attempt.secrets.mask(detail),
        )
    )
    attempt.step_name = None


async def _run_step(
    step: JourneyStep,
    session: aiohttp.ClientSession,
    sslctx: object,
    probe: JourneyProbe,
    ctx: ProbeContext,
    attempt: Attempt,
    variables: dict[str, str],
) -> int:
    resolve = attempt.secrets.resolve
    url = resolve(step.url, variables)
    headers = {k: resolve(v, variables) for k, v in step.headers.items()} if step.headers else None
    data: object = None
    if step.form is not None:
        data = {k: resolve(v, variables) for k, v in step.form.items()}
    elif step.body is not None:
        data = resolve(step.body, variables).encode()
    attempt.status_code = None
    async with session.request(
        step.method,
        url,
        headers=headers,
        data=data,
        ssl=sslctx,
        allow_redirects=probe.follow_redirects,
        max_redirects=MAX_REDIRECTS,
        trace_request_ctx=attempt,
    ) as resp:
        headers_at = time.monotonic()
        note_response(attempt, resp)
        expect = step.expect
        if not status_accepted(expect, resp.status):
            raise StepFailed(Reason.status, f"status {resp.status}, expected {describe_statuses(expect)}")
        failed = check_headers(expect, resp)
        if failed:
            raise StepFailed(*failed)
        attempt.stage = "reading the body"
        try:
            body = await read_body(resp, ctx.max_body_bytes)
        except BodyTooLarge as exc:
            raise StepFailed(Reason.body_too_large, str(exc)) from None
        finally:
            attempt.add_phase("transfer", time.monotonic() - headers_at)
        if expect.body is None and expect.body_not is None and not step.extract:
            return resp.status
        text = body_text(resp, body)
        failed = check_body(expect, text)
        if failed:
            raise StepFailed(*failed)
        for name, pattern in step.extract.items():
            m = compiled(pattern).search(text)
            if m is None:
                raise StepFailed(Reason.extract, f"cannot extract {name}: {pattern!r} not found in the body")
            variables[name] = m.group(1) if m.re.groups else m.group(0)
        return resp.status
