"""Peer certificates: expiry dates and what the connection tells about itself.

The expiry is read from the DER certificate with ``cryptography``, which needs no
verification (so it works on unverified and failed connections too).

Chain: Python 3.13 added ``SSLObject.get_unverified_chain()``, which gives every
certificate the peer sent; when it exists, the earliest expiry of the whole chain is
reported. On Python 3.11 and 3.12 the standard ``ssl`` module exposes only the leaf
(``getpeercert``), and reaching the chain would need pyOpenSSL or a second TLS stack,
so there the leaf's expiry is reported (in practice the leaf is nearly always the
first to expire).
"""

from __future__ import annotations

import socket
import ssl
from functools import lru_cache
from typing import Any

from cryptography import x509


@lru_cache(maxsize=1024)
def expiry_of_der(der: bytes) -> float | None:
    """``notAfter`` of a DER certificate, unix seconds; None when it cannot be parsed."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None
    return cert.not_valid_after_utc.timestamp()


def _der(item: Any) -> bytes | None:
    """A chain entry as DER bytes: ``SSLObject.get_unverified_chain()`` gives DER bytes;
    a certificate object with ``public_bytes()`` gives PEM text by default, converted
    with the public ``ssl.PEM_cert_to_DER_cert``."""
    if isinstance(item, bytes | bytearray):
        return bytes(item)
    public_bytes = getattr(item, "public_bytes", None)
    if public_bytes is not None:
        try:
            pem = public_bytes()
            return ssl.PEM_cert_to_DER_cert(pem if isinstance(pem, str) else pem.decode("ascii"))
        except (ValueError, TypeError, UnicodeDecodeError):
            return None
    return None


def earliest_expiry(ssl_object: Any) -> float | None:
    """Earliest ``notAfter`` among the peer's certificates (see the module docstring)."""
    if ssl_object is None:
        return None
    ders: list[bytes] = []
    chain_getter = getattr(ssl_object, "get_unverified_chain", None)
    if chain_getter is not None:
        try:
            ders = [d for d in (_der(c) for c in chain_getter() or ()) if d]
        except Exception:
            ders = []
    if not ders:
        leaf = ssl_object.getpeercert(binary_form=True)
        if leaf:
            ders = [leaf]
    expiries = [e for e in map(expiry_of_der, ders) if e is not None]
    return min(expiries) if expiries else None


def ip_protocol_of(peername: Any, sock: socket.socket | None = None) -> int | None:
    if sock is not None:
        return 6 if sock.family == socket.AF_INET6 else 4
    if isinstance(peername, tuple):
        return 6 if len(peername) == 4 else 4
    return None
