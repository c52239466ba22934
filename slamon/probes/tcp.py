"""The ``tcp`` probe: connect, optionally TLS, optionally send, optionally expect;
or, with ``dialogue``, a conversation of steps (``slamon.probes.dialogue``).

``expect`` is a regex searched in what the peer sends, read as it arrives and bounded
by the context's read cap; the probe succeeds as soon as it matches. The peer closing
first, or the cap being reached without a match, is an ``assertion`` failure; a peer
that stays silent runs into the probe's timeout.
"""

from __future__ import annotations

import asyncio

from slamon.core.model import TcpProbe
from slamon.core.results import ProbeOutcome, Reason
from slamon.probes import connect
from slamon.probes.attempt import Attempt
from slamon.probes.certs import earliest_expiry
from slamon.probes.context import ProbeContext
from slamon.probes.dialogue import probe_dialogue
from slamon.probes.expect import compiled
from slamon.probes.streams import abort, open_stream, start_tls

READ_CHUNK_BYTES = 4096


async def probe_tcp(
    probe: TcpProbe, ctx: ProbeContext, attempt: Attempt, deadline: float | None = None
) -> ProbeOutcome:
    if probe.dialogue is not None:
        limit = deadline if deadline is not None else ctx.loop.time() + probe.timeout
        return await probe_dialogue(probe, ctx, attempt, limit)
    send = attempt.secrets.resolve(probe.send) if probe.send is not None else None
    context = None
    if probe.tls:  # before connecting: an unreadable ca_file or certificate is not the target's fault
        context = ctx.ssl_context(probe.tls_verify, probe.ca_file, connect.client_cert_for(probe, attempt.secrets))
    writer: asyncio.StreamWriter | None = None
    try:
        reader, writer = await open_stream(
            probe.host, probe.port, probe.ip_version, attempt, read_limit=READ_CHUNK_BYTES * 4
        )
        if context is not None:
            ssl_object = await start_tls(writer, context, probe.host, attempt)
            attempt.note_cert_expiry(earliest_expiry(ssl_object))
        if send:
            attempt.stage = "sending"
            writer.write(send.encode())
            await writer.drain()
        if probe.expect is None:
            return attempt.outcome()
        return await _expect(reader, probe.expect, ctx.max_body_bytes, attempt)
    finally:
        abort(writer)


async def _expect(
    reader: asyncio.StreamReader, pattern: str, limit: int, attempt: Attempt
) -> ProbeOutcome:
    rx = compiled(pattern)
    attempt.stage = f"waiting for {pattern!r}"
    received = bytearray()
    while len(received) < limit:
        chunk = await reader.read(min(READ_CHUNK_BYTES, limit - len(received)))
        if not chunk:
            return attempt.outcome(
                Reason.assertion,
                f"connection closed after {len(received)} bytes without {pattern!r}",
            )
        received += chunk
        if rx.search(received.decode("utf-8", errors="replace")):
            return attempt.outcome()
    return attempt.outcome(Reason.assertion, f"{pattern!r} not found in the first {limit} bytes")
