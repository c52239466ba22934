"""What went wrong, as a reason from the closed set and a line for an operator.

``classify`` maps the exceptions a target or the network can cause (through aiohttp,
asyncio streams, ssl, dnspython) to a ``Reason``. Anything it does not recognise is
returned as ``None``: that is a bug in slamon and must surface, not be hidden as a
failed probe.

Faults of the monitor itself (no file descriptor left, no buffer space, no memory)
are ``Reason.local``: they say nothing about the target, and the SLA counts the time
as unobserved (docs/probes.md, "Local faults").
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl

import aiohttp
import dns.exception

from slamon.core.results import Reason
from slamon.probes import h1
from slamon.probes.connect import ClientCertError, ProxyFailed
from slamon.probes.context import CaFileError
from slamon.probes.icmp import IcmpNotAllowed
from slamon.probes.secrets import MissingSecret, MissingVariable
from slamon.probes.streams import AddressFamilyMismatch

_REFUSED = {errno.ECONNREFUSED}
_RESET = {errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED, errno.ESHUTDOWN}
# the daemon's process or host is out of a resource: not the target's fault
_LOCAL = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_EAI_MEMORY = getattr(socket, "EAI_MEMORY", None)  # the resolver ran out of memory
_UNREACHABLE = {
    errno.ENETUNREACH,
    errno.EHOSTUNREACH,
    errno.EHOSTDOWN,
    errno.ENETDOWN,
    errno.EADDRNOTAVAIL,
    errno.EAFNOSUPPORT,
}


def _ssl_detail(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {exc.verify_message}"
    reason = getattr(exc, "reason", None)
    return f"TLS handshake failed: {reason or exc}"


def _os_error(exc: OSError) -> tuple[Reason, str] | None:
    if isinstance(exc, ssl.SSLError):
        return Reason.tls, _ssl_detail(exc)
    code = exc.errno
    text = exc.strerror or str(exc) or type(exc).__name__
    if isinstance(exc, socket.gaierror):
        if code == _EAI_MEMORY:
            return Reason.local, f"fault of the monitor, not the target: {text}"
        return Reason.dns, f"name did not resolve: {exc.strerror or exc}"
    if code in _LOCAL:
        return Reason.local, f"fault of the monitor, not the target: {text}"
    if isinstance(exc, ConnectionRefusedError) or code in _REFUSED:
        return Reason.refused, "connection refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError) or code in _RESET:
        return Reason.reset, f"connection reset: {text}"
    if code in _UNREACHABLE:
        return Reason.unreachable, f"unreachable: {text}"
    if isinstance(exc, TimeoutError):
        return Reason.timeout, "timed out"
    return None


def classify(exc: BaseException) -> tuple[Reason, str] | None:
    """``(reason, detail)`` for a failure of the target or network (or ``local``, of
    the monitor itself); ``None`` for a bug."""
    if isinstance(exc, MemoryError):
        return Reason.local, "fault of the monitor, not the target: out of memory"
    if isinstance(exc, MissingSecret):
        return Reason.secret, str(exc)
    if isinstance(exc, MissingVariable):
        return Reason.extract, str(exc)
    if isinstance(exc, IcmpNotAllowed):  # the daemon may not ping: its fault, not the target's
        return Reason.local, str(exc)
    if isinstance(exc, CaFileError | AddressFamilyMismatch | ClientCertError):
        return Reason.error, str(exc)
    if isinstance(exc, ProxyFailed):
        return exc.reason, str(exc)
    if isinstance(exc, h1.Disconnected):
        return Reason.reset, str(exc)
    if isinstance(exc, h1.BadResponse | h1.BadBody):
        return Reason.protocol, str(exc)
    if isinstance(exc, h1.TooManyRedirects):
        return Reason.redirects, f"more than {exc.args[0] - 1} redirects"
    if isinstance(exc, h1.ConnectFailed | h1.InvalidUrl):
        return Reason.error, str(exc)
    if isinstance(exc, aiohttp.ClientError):
        return _aiohttp(exc)
    if isinstance(exc, TimeoutError):  # also asyncio.TimeoutError and aiohttp's timeouts
        return Reason.timeout, "timed out"
    if isinstance(exc, asyncio.IncompleteReadError):
        return Reason.reset, "connection closed early"
    if isinstance(exc, dns.exception.Timeout):
        return Reason.timeout, "DNS query timed out"
    if isinstance(exc, dns.exception.DNSException):
        return Reason.protocol, f"bad DNS answer: {exc}"
    if isinstance(exc, OSError):
        found = _os_error(exc)
        if found is not None:
            return found
        return Reason.error, f"{type(exc).__name__}: {exc.strerror or exc}"
    if isinstance(exc, EOFError):
        return Reason.reset, "connection closed early"
    return None


def _aiohttp(exc: aiohttp.ClientError) -> tuple[Reason, str]:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return Reason.tls, _ssl_detail(exc.certificate_error)
    if isinstance(exc, aiohttp.ClientConnectorSSLError | aiohttp.ClientSSLError):
        return Reason.tls, _ssl_detail(exc.os_error if hasattr(exc, "os_error") else exc)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        cause = exc.os_error
        return Reason.dns, f"name did not resolve: {cause.strerror or cause}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        found = _os_error(exc.os_error)
        if found is not None:
            return found
        return Reason.error, f"cannot connect: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.TooManyRedirects):
        return Reason.redirects, f"more than {len(exc.history)} redirects" if exc.history else "too many redirects"
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return Reason.timeout, "timed out"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return Reason.reset, "server closed the connection without a complete response"
    if isinstance(exc, aiohttp.ClientPayloadError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, OSError) or "not completed" in str(exc) or "Content-Length" in str(exc):
            return Reason.reset, "connection closed before the body was complete"
        return Reason.protocol, f"bad response body: {exc}"
    if isinstance(exc, aiohttp.InvalidURL):
        return Reason.error, f"invalid URL: {exc}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return Reason.protocol, f"bad HTTP response: {exc.message}"
    if isinstance(exc, aiohttp.ClientOSError):
        found = _os_error(exc)
        if found is not None:
            return found
    if isinstance(exc, aiohttp.ClientConnectionResetError):
        return Reason.reset, "connection reset"
    return Reason.error, f"{type(exc).__name__}: {exc}"
