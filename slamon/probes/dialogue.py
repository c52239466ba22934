"""The ``tcp`` probe's dialogue: send/expect steps and an upgrade to TLS (STARTTLS).

Mail and directory services are checked by talking to them: read the SMTP banner, say
EHLO, ask for STARTTLS, upgrade, say EHLO again. Each step of ``dialogue`` may send
text (``send``, ``${env:NAME}`` resolved) or bytes (``send_hex``), then wait for its
``expect`` pattern; a ``starttls`` step upgrades the open connection with
``loop.start_tls`` and the same SSL contexts as every other probe
(``ProbeContext.ssl_context``: ``verify``, ``ca_file``, client certificate).

Patterns are searched in the *bytes* received since the previous step's match
(``re.MULTILINE``: ``^`` is the start of any line): text in a pattern matches its UTF-8
encoding, ``\\xNN`` one byte, so binary answers (LDAP) are matched the same way. What
follows a match is kept for the next step; at the upgrade, plaintext not yet matched
is dropped (nothing read before the handshake may be taken as said inside TLS).

Each step is recorded in the result (``steps``), as a journey's are:
- the pattern not seen before the peer closes, or within the read cap, or the step's
  ``fail_on`` pattern seen first (an error reply, an answer that ended without it):
  ``assertion``;
- the step's own ``timeout`` passed: ``step_timeout``; the probe's ``timeout``:
  ``timeout`` (the step in progress is named in both).
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from functools import lru_cache

from slamon.core.model import DialogueStep, TcpProbe
from slamon.core.results import ProbeOutcome, Reason, StepOutcome
from slamon.probes import connect
from slamon.probes.attempt import Attempt
from slamon.probes.certs import earliest_expiry
from slamon.probes.context import ProbeContext
from slamon.probes.errors import classify
from slamon.probes.streams import open_socket

SHOWN_TAIL_CHARS = 120  # of the last line received, in a failure's detail


@lru_cache(maxsize=1024)
def compiled_bytes(pattern: str) -> re.Pattern[bytes]:
    return re.compile(pattern.encode("utf-8"), re.MULTILINE)


class StepFailed(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Conversation(asyncio.Protocol):
    """The bytes a peer has sent and not yet matched, and whether it has gone."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.closed = False
        self.error: Exception | None = None  # why the connection was lost, if not a clean close
        self.transport: asyncio.Transport | None = None
        self._waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error = exc
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def more(self) -> None:
        """Wait until more bytes arrive or the peer closes."""
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None


def _tail(received: bytes) -> str:
    lines = [line for line in received.splitlines() if line.strip()]
    if not lines:
        return ""
    text = lines[-1].decode("utf-8", errors="replace")
    return text[:SHOWN_TAIL_CHARS] + ("..." if len(text) > SHOWN_TAIL_CHARS else "")


def _line_at(buffer: bytearray, found: re.Match[bytes]) -> str:
    """The whole line ``found`` is on, for the detail."""
    start = buffer.rfind(b"\n", 0, found.start()) + 1
    end = buffer.find(b"\n", found.end())
    text = bytes(buffer[start : end if end >= 0 else len(buffer)]).decode("utf-8", errors="replace").strip()
    return text[:SHOWN_TAIL_CHARS] + ("..." if len(text) > SHOWN_TAIL_CHARS else "")


async def _expect(
    conv: Conversation, pattern: str, fail_on: str | None, limit: int, attempt: Attempt
) -> None:
    rx = compiled_bytes(pattern)
    stop = compiled_bytes(fail_on) if fail_on is not None else None
    attempt.stage = f"waiting for {pattern!r}"
    while True:
        found = rx.search(conv.buffer)
        if found is not None:
            del conv.buffer[: found.end()]
            return
        failed = stop.search(conv.buffer) if stop is not None else None
        if failed is not None:
            raise StepFailed(
                Reason.assertion, f"the server answered {_line_at(conv.buffer, failed)!r} without {pattern!r}"
            )
        if len(conv.buffer) >= limit:
            raise StepFailed(Reason.assertion, f"{pattern!r} not found in {len(conv.buffer)} bytes")
        if conv.closed:
            if conv.error is not None:
                raise conv.error  # a TLS alert (a refused client certificate), a reset
            said = _tail(bytes(conv.buffer))
            raise StepFailed(
                Reason.assertion,
                f"connection closed after {len(conv.buffer)} bytes without {pattern!r}"
                + (f"; last line: {said!r}" if said else ""),
            )
        await conv.more()


async def _upgrade(
    conv: Conversation, context: ssl.SSLContext, server_name: str, attempt: Attempt
) -> None:
    loop = asyncio.get_running_loop()
    conv.buffer.clear()  # plaintext after the answer to STARTTLS is never read as TLS data
    if conv.closed or conv.transport is None:
        raise StepFailed(Reason.reset, "connection closed before the TLS handshake")
    attempt.stage = "in the TLS handshake"
    t0 = time.monotonic()
    try:
        tls_transport = await loop.start_tls(conv.transport, conv, context, server_hostname=server_name)
    finally:
        attempt.add_phase("tls", time.monotonic() - t0)
    if tls_transport is None:  # the peer closed during the handshake
        raise StepFailed(Reason.reset, "connection closed during the TLS handshake")
    conv.transport = tls_transport  # type: ignore[assignment]
    ssl_object = tls_transport.get_extra_info("ssl_object")
    attempt.tls_version = ssl_object.version() if ssl_object is not None else None
    attempt.note_cert_expiry(earliest_expiry(ssl_object))


def _contexts(probe: TcpProbe, ctx: ProbeContext, attempt: Attempt) -> dict[str, tuple[ssl.SSLContext, str]]:
    """The SSL context and server name of each starttls step (and of ``tls: true``
    under the key ``""``), built before connecting: an unreadable ``ca_file`` or client
    certificate is a deployment fault, found without troubling the target."""
    out: dict[str, tuple[ssl.SSLContext, str]] = {}
    if probe.tls:
        client = connect.client_cert_for(probe, attempt.secrets)
        out[""] = (ctx.ssl_context(probe.tls_verify, probe.ca_file, client), probe.host)
    for step in probe.dialogue or ():
        tls = step.starttls
        if tls is not None:
            client = connect.client_cert_for(tls, attempt.secrets)
            out[step.name] = (ctx.ssl_context(tls.verify, tls.ca_file, client), tls.server_name or probe.host)
    return out


def _payload(step: DialogueStep, attempt: Attempt) -> bytes | None:
    if step.send is not None:
        return attempt.secrets.resolve(step.send).encode("utf-8")
    if step.send_hex is not None:
        return bytes.fromhex(step.send_hex)
    return None


async def _run_step(
    step: DialogueStep,
    conv: Conversation,
    contexts: dict[str, tuple[ssl.SSLContext, str]],
    limit: int,
    attempt: Attempt,
) -> None:
    if step.starttls is not None:
        context, server_name = contexts[step.name]
        await _upgrade(conv, context, server_name, attempt)
        return
    payload = _payload(step, attempt)
    if payload is not None:
        if conv.closed or conv.transport is None or conv.transport.is_closing():
            raise StepFailed(Reason.reset, "connection closed before sending")
        attempt.stage = "sending"
        conv.transport.write(payload)
    if step.expect is not None:
        await _expect(conv, step.expect, step.fail_on, limit, attempt)


def _record(attempt: Attempt, step: DialogueStep, reason: Reason | None, detail: str) -> None:
    attempt.steps.append(
        StepOutcome(
            name=step.name,
            success=reason is None,
            duration_seconds=time.monotonic() - attempt.step_started,
            reason=reason,
            detail=attempt.secrets.mask(detail),
        )
    )
    attempt.step_name = None


async def probe_dialogue(
    probe: TcpProbe, ctx: ProbeContext, attempt: Attempt, deadline: float
) -> ProbeOutcome:
    assert probe.dialogue is not None
    loop = asyncio.get_running_loop()
    contexts = _contexts(probe, ctx, attempt)
    sock = await open_socket(probe.host, probe.port, probe.ip_version, attempt)
    conv = Conversation()
    try:
        await loop.create_connection(lambda: conv, sock=sock)
    except BaseException:
        sock.close()
        raise
    try:
        if probe.tls:
            context, server_name = contexts[""]
            await _upgrade(conv, context, server_name, attempt)
        for step in probe.dialogue:
            attempt.step_name = step.name
            attempt.step_started = time.monotonic()
            step_deadline = deadline
            if step.timeout is not None:
                step_deadline = min(deadline, loop.time() + step.timeout)
            try:
                if step_deadline < deadline:
                    async with asyncio.timeout_at(step_deadline):
                        await _run_step(step, conv, contexts, ctx.max_body_bytes, attempt)
                else:  # the probe's own deadline (run_probe) bounds this step
                    await _run_step(step, conv, contexts, ctx.max_body_bytes, attempt)
            except TimeoutError:
                if step_deadline >= deadline:
                    raise
                detail = f"took longer than {step.timeout:g} s ({attempt.stage})"
                _record(attempt, step, Reason.step_timeout, detail)
                return attempt.outcome(Reason.step_timeout, f"step {step.name!r} {detail}")
            except StepFailed as exc:
                _record(attempt, step, exc.reason, exc.detail)
                return attempt.outcome(exc.reason, f"step {step.name!r}: {exc.detail}")
            except Exception as exc:
                found = classify(exc)
                if found is None:
                    raise
                _record(attempt, step, found[0], found[1])
                return attempt.outcome(found[0], f"step {step.name!r}: {found[1]}")
            _record(attempt, step, None, "")
        return attempt.outcome()
    finally:
        if conv.transport is not None:
            conv.transport.abort()
