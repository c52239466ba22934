"""The ``tls`` probe: handshake and certificate lifetime.

Connects, performs the handshake with ``server_name`` (default: ``host``) as SNI and
for verification (``verify``, ``ca_file``), and reports the earliest certificate
expiry (see ``slamon.probes.certs`` for what "chain" means per Python version).

- ``tls``: the handshake or the verification failed (wrong host, unknown issuer,
  self-signed...).
- ``cert_expiry``: the certificate has already expired. The verifying handshake
  fails; the probe then reads the certificate once more without verification, within
  the same time limit, so ``cert_expiry_timestamp`` still shows the date that was missed.
- success with the warning ``cert_expiry_soon``: still valid, but fewer than
  ``min_days_left`` days remain. A warning is not an outage (it has its own series
  and ticket alert); the service stays up and its SLA is untouched.
"""

from __future__ import annotations

import asyncio
import ssl
import time

from slamon.core.model import TlsProbe
from slamon.core.results import ProbeOutcome, Reason, WarningReason
from slamon.probes import connect
from slamon.probes.attempt import Attempt
from slamon.probes.certs import earliest_expiry
from slamon.probes.context import ProbeContext
from slamon.probes.streams import abort, open_stream, start_tls

X509_V_ERR_CERT_HAS_EXPIRED = 10
SECONDS_PER_DAY = 86400.0


async def _handshake(
    probe: TlsProbe, ctx: ProbeContext, attempt: Attempt, context: ssl.SSLContext
) -> float | None:
    writer: asyncio.StreamWriter | None = None
    try:
        _, writer = await open_stream(probe.host, probe.port, "any", attempt, read_limit=4096)
        ssl_object = await start_tls(writer, context, probe.server_name or probe.host, attempt)
        return earliest_expiry(ssl_object)
    finally:
        abort(writer)


async def probe_tls(probe: TlsProbe, ctx: ProbeContext, attempt: Attempt) -> ProbeOutcome:
    context = ctx.ssl_context(probe.verify, probe.ca_file, connect.client_cert_for(probe, attempt.secrets))
    try:
        expiry = await _handshake(probe, ctx, attempt, context)
    except ssl.SSLCertVerificationError as exc:
        if exc.verify_code != X509_V_ERR_CERT_HAS_EXPIRED:
            raise
        attempt.stage = "reading the expired certificate"
        try:
            expiry = await _handshake(probe, ctx, Attempt(attempt.secrets), ctx.ssl_context(False))
        except (OSError, EOFError):
            expiry = None
        attempt.note_cert_expiry(expiry)
        return attempt.outcome(Reason.cert_expiry, "certificate has expired")
    attempt.note_cert_expiry(expiry)
    if expiry is None:
        return attempt.outcome(Reason.tls, "the peer sent no certificate")
    return attempt.outcome(*expiry_warning(expiry, probe.min_days_left))


def expiry_warning(expiry: float | None, min_days_left: int | None) -> tuple:
    """``(None, "", warning, warning_detail)`` for ``Attempt.outcome``: a warning when a
    certificate that passed verification has fewer than ``min_days_left`` days left."""
    if expiry is None or min_days_left is None:
        return (None, "", None, "")
    days_left = (expiry - time.time()) / SECONDS_PER_DAY
    if days_left >= min_days_left:
        return (None, "", None, "")
    if days_left < 0:  # only seen with verification off
        detail = f"certificate expired {-days_left:.1f} days ago (verification is off)"
    else:
        detail = f"certificate expires in {days_left:.1f} days, fewer than min_days_left {min_days_left}"
    return (None, "", WarningReason.cert_expiry_soon, detail)
