"""HTTP phase timings of journey steps from aiohttp's ``TraceConfig``, like
blackbox_exporter's (the http probe's own client, ``slamon.probes.h1``, times them
itself, with the same phases).

Per request hop (redirects and journey steps add up):

- resolve:    DNS resolution (nothing for an IP literal);
- connect:    TCP connection established;
- tls:        TLS handshake (https only);
- processing: from the connection being ready to the response headers (request sent,
              server thinking, first byte);
- transfer:   reading the body (measured by the probe itself).

aiohttp signals the start and end of connection creation, which covers TCP and TLS
together. To split them, and to see the connection while it is open (aiohttp may
release it before the response object is handed over), ``TimedTCPConnector`` wraps the connector's protocol factory:
asyncio calls the factory once the socket is connected and before the TLS handshake
starts, so the call marks the end of the TCP connect. The factory gets no request, so
the attempt in progress is found through a context variable set by the probe for the
duration of its request (each probe runs in its own task context).
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from types import SimpleNamespace
from typing import Any

import aiohttp

from slamon.probes.attempt import Attempt
from slamon.probes.certs import earliest_expiry, ip_protocol_of

current_attempt: ContextVar[Attempt | None] = ContextVar("slamon_probe_attempt", default=None)


def _attempt(ctx: SimpleNamespace) -> Attempt | None:
    attempt = ctx.trace_request_ctx
    return attempt if isinstance(attempt, Attempt) else None


async def _on_request_start(session: Any, ctx: SimpleNamespace, params: Any) -> None:
    a = _attempt(ctx)
    if a is not None:
        a.mark_https = params.url.scheme == "https"
        a.mark_conn_done = 0.0
        a.stage = "connecting"


async def _on_dns_start(session: Any, ctx: SimpleNamespace, params: Any) -> None:
    a = _attempt(ctx)
    if a is not None:
        a.mark_dns_start = time.monotonic()
        a.stage = "resolving the name"


async def _on_dns_end(session: Any, ctx: SimpleNamespace, params: Any) -> None:
    a = _attempt(ctx)
    if a is not None:
        a.add_phase("resolve", time.monotonic() - a.mark_dns_start)
        a.stage = "connecting"


async def _on_conn_start(session: Any, ctx: SimpleNamespace, params: Any) -> None:
    a = _attempt(ctx)
    if a is not None:
        a.mark_conn_start = time.monotonic()
        a.mark_tcp_done = 0.0
        a.mark_resolve_at_conn = a.phases.get("resolve", 0.0)
        a.stage = "connecting"


def _connection_phases(a: Attempt, now: float) -> None:
    resolving = a.phases.get("resolve", 0.0) - a.mark_resolve_at_conn
    if a.mark_https and a.mark_tcp_done:
        a.add_phase("connect", a.mark_tcp_done - a.mark_conn_start - resolving)
        a.add_phase("tls", now - a.mark_tcp_done)
    else:
        a.add_phase("connect", now - a.mark_conn_start - resolving)
    a.mark_conn_start = 0.0


def close_open_phases(a: Attempt) -> None:
    """A request cut short: count the phase it was in up to now (connect/tls or processing)."""
    now = time.monotonic()
    if a.mark_conn_start:
        _connection_phases(a, now)
    elif a.mark_conn_done:
        a.add_phase("processing", now - a.mark_conn_done)
        a.mark_conn_done = 0.0


async def _on_conn_end(session: Any, ctx: SimpleNamespace, params: Any) -> None:
    a = _attempt(ctx)
    if a is None:
        return
    now = time.monotonic()
    _connection_phases(a, now)
    a.mark_conn_done = now
    proto = a.mark_protocol
    if proto is not None:
        a.mark_protocol = None
        transport = proto.transport
        if transport is not None:
            note_transport(a, transport)
    a.stage = "waiting for the response"


async def _on_request_end(session: Any, ctx: SimpleNamespace, params: Any) -> None:
    a = _attempt(ctx)
    if a is not None and a.mark_conn_done:
        a.add_phase("processing", time.monotonic() - a.mark_conn_done)
        a.mark_conn_done = 0.0


def note_transport(a: Attempt, transport: Any) -> None:
    """IP family and, for TLS, version and certificate expiry of a fresh connection."""
    a.ip_protocol = ip_protocol_of(transport.get_extra_info("peername"))
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is not None:
        a.tls_version = ssl_object.version()
        a.note_cert_expiry(earliest_expiry(ssl_object))


def build_trace_config() -> aiohttp.TraceConfig:
    tc = aiohttp.TraceConfig()
    tc.on_request_start.append(_on_request_start)
    tc.on_dns_resolvehost_start.append(_on_dns_start)
    tc.on_dns_resolvehost_end.append(_on_dns_end)
    tc.on_connection_create_start.append(_on_conn_start)
    tc.on_connection_create_end.append(_on_conn_end)
    tc.on_request_end.append(_on_request_end)
    tc.freeze()
    return tc


class TimedTCPConnector(aiohttp.TCPConnector):
    """A ``TCPConnector`` whose protocol factory marks the end of the TCP connect."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        factory = getattr(self, "_factory", None)
        if factory is None:  # another aiohttp layout: no split, TLS counts as connect
            return

        def timed_factory() -> Any:
            a = current_attempt.get()
            proto = factory()
            if a is not None:
                a.mark_tcp_done = time.monotonic()
                a.mark_protocol = proto
                if a.mark_https:
                    a.stage = "in the TLS handshake"
            return proto

        self._factory = timed_factory
