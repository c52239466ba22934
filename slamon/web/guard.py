"""Connection guard for the web port: a connection limit and a request-head timeout.

aiohttp bounds a connection that sits idle *between* requests (``keepalive_timeout``)
but not a client that opens a connection and then sends its first request head a byte
at a time, and it accepts as many connections as the process has descriptors. A few
hundred such clients would take every descriptor the probes need. This module wraps
aiohttp's public protocol factory (``web.Server`` is a callable returning a protocol)
in an ``asyncio.Protocol`` that

- refuses a connection beyond ``max_connections`` with a short 503 and closes it;
- closes a connection whose first request head has not fully arrived within
  ``head_timeout_seconds`` (later heads on a kept-alive connection are bounded by
  aiohttp's ``keepalive_timeout``, which only ends once a whole request was read).

It only uses the asyncio protocol interface, so it holds for any aiohttp release.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: 29\r\n"
    b"Retry-After: 5\r\n"
    b"Connection: close\r\n\r\n"
    b"too many connections, retry\r\n"
)
_HEAD_SCAN_LIMIT = 65_536  # past this, aiohttp's own header limits answer the client


@dataclass
class GuardStats:
    open: int = 0
    refused_total: int = 0  # connections over the limit
    head_timeouts_total: int = 0  # connections closed waiting for a request head


class ConnectionGuard:
    """Counts open connections and makes a guarded protocol for each new one."""

    def __init__(
        self,
        inner_factory: Callable[[], asyncio.BaseProtocol],
        *,
        max_connections: int,
        head_timeout_seconds: float,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if head_timeout_seconds <= 0:
            raise ValueError("head_timeout_seconds must be positive")
        self.inner_factory = inner_factory
        self.max_connections = max_connections
        self.head_timeout_seconds = head_timeout_seconds
        self.stats = GuardStats()

    def __call__(self) -> asyncio.Protocol:
        return _GuardedProtocol(self)


class _GuardedProtocol(asyncio.Protocol):
    __slots__ = ("_counted", "_guard", "_head", "_inner", "_timer", "_transport")

    def __init__(self, guard: ConnectionGuard) -> None:
        self._guard = guard
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._head = bytearray()
        self._counted = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: duck-typed
        self._transport = transport  # type: ignore[assignment]
        stats = self._guard.stats
        if stats.open >= self._guard.max_connections:
            stats.refused_total += 1
            transport.write(_BUSY)  # type: ignore[attr-defined]
            transport.close()
            return
        stats.open += 1
        self._counted = True
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._guard.head_timeout_seconds, self._head_timed_out)
        inner = self._guard.inner_factory()
        self._inner = inner  # type: ignore[assignment]
        inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return
        if self._timer is not None:
            self._watch_head(data)
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        if self._counted:
            self._guard.stats.open -= 1
            self._counted = False
        if self._inner is not None:
            inner, self._inner = self._inner, None
            inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    # the head timer
    def _watch_head(self, data: bytes) -> None:
        # keep the tail only: enough to see a terminator split across two reads
        start = max(0, len(self._head) - 3)
        self._head += data
        if self._head.find(b"\r\n\r\n", start) >= 0 or self._head.find(b"\n\n", start) >= 0:
            self._cancel_timer()
            self._head = bytearray()
        elif len(self._head) > _HEAD_SCAN_LIMIT:
            self._cancel_timer()  # aiohttp refuses an oversized head itself
            self._head = bytearray()

    def _head_timed_out(self) -> None:
        self._timer = None
        self._guard.stats.head_timeouts_total += 1
        if self._transport is not None:
            self._transport.close()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
