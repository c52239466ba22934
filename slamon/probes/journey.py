"""The ``journey`` probe: ordered HTTP steps sharing cookies and extracted variables.

Each step is a request through the http probe's client (``slamon.probes.h1``): the
same URL gets the same verdict from a step as from an ``http`` probe. Each run has its
own cookie jar (aiohttp's ``CookieJar``, accepting cookies from IP-address hosts too:
internal services are often reached so), so a journey starts logged out every time and
never sees another probe's cookies.

Per step: ``${name}`` (extracted by an earlier step) and ``${env:NAME}`` (secrets) are
substituted into url, headers, form and body; the request is sent without following
redirects unless the probe says so (at most 10); ``expect`` is checked as for an http
probe; then each ``extract`` regex is searched in the body and its first group (or the
whole match when it has none) becomes a variable.

Time limits: ``max_duration`` per step (``step_timeout``: the service answered too
slowly for that step; the step is recorded with its duration) and ``timeout`` for the
whole journey (``timeout``; the step in progress is recorded too).
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlencode

import aiohttp

from slamon.core.model import JourneyProbe, JourneyStep
from slamon.core.results import ProbeOutcome, Reason, StepOutcome
from slamon.probes import h1
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
    status_accepted,
)

MAX_REDIRECTS = 10
FORM_TYPE = "application/x-www-form-urlencoded"


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
    jar = aiohttp.CookieJar(unsafe=True)
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
                        status = await _run_step(step, jar, sslctx, probe, ctx, attempt, variables)
                else:  # the journey's own deadline (run_probe) bounds this step
                    status = await _run_step(step, jar, sslctx, probe, ctx, attempt, variables)
            except TimeoutError:
                if step_deadline >= deadline:
                    raise
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
                _record(attempt, step, False, attempt.status_code, found[0], found[1])
                return attempt.outcome(found[0], f"step {step.name!r}: {found[1]}")
            _record(attempt, step, True, status, None, "")
        return attempt.outcome()
    finally:
        jar.clear()


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
    jar: aiohttp.CookieJar,
    sslctx: object,
    probe: JourneyProbe,
    ctx: ProbeContext,
    attempt: Attempt,
    variables: dict[str, str],
) -> int:
    resolve = attempt.secrets.resolve

    def resolve_all(text: str) -> str:
        return resolve(text, variables)

    url = h1.resolve_url(step.url, resolve_all)
    headers = {k: resolve(v, variables) for k, v in step.headers.items()} if step.headers else None
    data: bytes | None = None
    content_type = "application/octet-stream"
    if step.form is not None:
        data = urlencode({k: resolve(v, variables) for k, v in step.form.items()}).encode()
        content_type = FORM_TYPE
    elif step.body is not None:
        data = resolve(step.body, variables).encode()
    attempt.status_code = None
    resp = await h1.request(
        ctx, attempt, step.method, url, headers, data, sslctx,  # type: ignore[arg-type]
        "any", probe.follow_redirects, MAX_REDIRECTS,
        jar=jar, content_type=content_type,
    )  # fmt: skip
    try:
        attempt.status_code = resp.status
        attempt.http_version = resp.version
        expect = step.expect
        if not status_accepted(expect, resp.status):
            raise StepFailed(Reason.status, f"status {resp.status}, expected {describe_statuses(expect)}")
        failed = check_headers(expect, resp)
        if failed:
            raise StepFailed(*failed)
        attempt.stage = "reading the body"
        try:
            body = await resp.read()
        except BodyTooLarge as exc:
            raise StepFailed(Reason.body_too_large, str(exc)) from None
        finally:
            attempt.add_phase("transfer", (resp.done_at or time.monotonic()) - resp.headers_at)
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
    finally:
        resp.close()
