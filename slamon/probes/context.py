"""Everything probes share for the life of a daemon (or one ``slamon probe`` run).

``ProbeContext.create()`` is called once, inside a running event loop; the daemon
awaits ``close()`` on shutdown. Nothing here is global: each daemon or test builds
its own.

- For the HTTP client of ``http`` probes and journeys (``slamon.probes.h1``): a
  connection limit per address family, the DNS answers cached when
  ``dns_cache_seconds`` is set, and the response parser (``http_parser``). Every
  request opens a fresh connection, like blackbox_exporter, so each result measures
  the connect and the TLS handshake; no cookie is kept between runs.
- SSL contexts, cached per ``(verify, ca_file)``: building one loads the system trust
  store, which costs far more than a probe. A context with a client certificate
  (mutual TLS, ``slamon.probes.connect.ClientCert``) is cached apart and rebuilt when
  its files change.
- The body read cap and the environment that ``${env:NAME}`` secrets come from.
"""

from __future__ import annotations

import asyncio
import errno
import os
import ssl
from collections import deque
from collections.abc import Mapping
from typing import Any

from slamon import __version__
from slamon.probes.connect import ClientCert
from slamon.probes.h1parse import resolve_kind

DEFAULT_MAX_BODY_BYTES = 1 << 20
DEFAULT_CONNECTION_LIMIT = 100
USER_AGENT = f"slamon/{__version__} (probe)"


_LOCAL_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM}


class CaFileError(Exception):
    """The ``ca_file`` of a probe cannot be read (a deployment problem, reported as a result)."""


def _new_ssl_context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    try:
        ctx = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        if not isinstance(exc, ssl.SSLError) and exc.errno in _LOCAL_ERRNOS:
            raise  # the daemon is out of descriptors or memory: a local fault
        # not cached: the file may appear later
        raise CaFileError(f"cannot load ca_file {ca_file}: {exc.strerror or exc}") from None
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Slots:
    """A counting limit whose uncontended acquire is a plain call (``take``), FIFO
    when full; one per probe costs less than ``asyncio.Semaphore``'s coroutines."""

    __slots__ = ("free", "waiters")

    def __init__(self, size: int) -> None:
        self.free = size
        self.waiters: deque[asyncio.Future] = deque()

    def take(self) -> bool:
        if self.free > 0 and not self.waiters:
            self.free -= 1
            return True
        return False

    async def wait(self) -> None:
        """Wait for a slot (when ``take`` said no); the slot is held on return."""
        if self.take():
            return
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.give()  # handed a slot while being cancelled: pass it on
            else:
                self.waiters.remove(waiter)
            raise

    def give(self) -> None:
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot goes straight to the next waiter
                return
        self.free += 1


class ProbeContext:
    def __init__(
        self,
        *,
        loop: asyncio.AbstractEventLoop,
        max_body_bytes: int,
        env: Mapping[str, str],
        connection_limit: int,
        user_agent: str,
        dns_cache_seconds: int | None,
        http_parser: str = "httptools",
        icmp_sockets: tuple[str, ...] = ("datagram", "raw"),
    ) -> None:
        self.loop = loop
        self.max_body_bytes = max_body_bytes
        self.env = env
        self.connection_limit = connection_limit
        self.user_agent = user_agent
        self.dns_cache_seconds = dns_cache_seconds
        self.http_parser = http_parser
        self.icmp_sockets = icmp_sockets
        self._ssl: dict[tuple[bool, str | None], ssl.SSLContext] = {}
        self._client_ssl: dict[tuple, tuple[tuple, ssl.SSLContext]] = {}
        self._dns_resolver: Any = None
        self._http_slots: dict[str, Slots] = {}
        self._addresses: dict[tuple[str, int, str], tuple[float, list]] = {}
        self._closed = False

    @classmethod
    def create(
        cls,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        env: Mapping[str, str] | None = None,
        connection_limit: int = DEFAULT_CONNECTION_LIMIT,
        user_agent: str = USER_AGENT,
        dns_cache_seconds: int | None = None,
        http_parser: str = "auto",
        icmp_sockets: tuple[str, ...] = ("datagram", "raw"),
    ) -> ProbeContext:
        """Build the context; call inside the running loop the probes will use.

        ``connection_limit`` caps the connections in flight per address family; the
        scheduler's own semaphore should be at or below it (DESIGN, performance notes).
        ``env`` defaults to ``os.environ``. HTTP probes resolve their host name on every
        run (``resolve`` is a measured phase, as in blackbox_exporter), through the
        system resolver in the loop's default executor threads; ``dns_cache_seconds``
        caches answers that long instead, for large estates of named targets.
        ``http_parser``: ``auto`` (httptools when importable, else pure Python),
        ``httptools`` or ``python`` (the pure-Python parser, same verdicts, slower).
        ``icmp_sockets`` are the kinds of ICMP socket the ``icmp`` probe tries, in order:
        ``datagram`` (unprivileged, net.ipv4.ping_group_range) and ``raw`` (CAP_NET_RAW).
        """
        if max_body_bytes < 1:
            raise ValueError("max_body_bytes must be positive")
        if connection_limit < 1:
            raise ValueError("connection_limit must be positive")
        if not icmp_sockets or not set(icmp_sockets) <= {"datagram", "raw"}:
            raise ValueError("icmp_sockets takes 'datagram', 'raw' or both, in the order to try them")
        return cls(
            loop=asyncio.get_running_loop(),
            max_body_bytes=max_body_bytes,
            env=os.environ if env is None else env,
            connection_limit=connection_limit,
            user_agent=user_agent,
            dns_cache_seconds=dns_cache_seconds,
            http_parser=resolve_kind(http_parser),
            icmp_sockets=tuple(icmp_sockets),
        )

    # ------------------------------------------------------------------ HTTP

    def http_slots(self, ip_version: str = "any") -> Slots:
        """The connections in flight of the http probe, per address family."""
        slots = self._http_slots.get(ip_version)
        if slots is None:
            if self._closed:
                raise RuntimeError("ProbeContext is closed")
            slots = self._http_slots[ip_version] = Slots(self.connection_limit)
        return slots

    def cached_addresses(self, host: str, port: int, ip_version: str) -> list | None:
        """Address infos of a name resolved less than ``dns_cache_seconds`` ago."""
        if self.dns_cache_seconds is None:
            return None
        found = self._addresses.get((host, port, ip_version))
        if found is None or found[0] < self.loop.time():
            return None
        return found[1]

    def cache_addresses(self, host: str, port: int, ip_version: str, infos: list) -> None:
        if self.dns_cache_seconds is not None:
            key = (host, port, ip_version)
            self._addresses[key] = (self.loop.time() + self.dns_cache_seconds, infos)

    # ------------------------------------------------------------------ TLS

    def ssl_context(
        self, verify: bool = True, ca_file: str | None = None, client: ClientCert | None = None
    ) -> ssl.SSLContext:
        """A cached client context; raises ``CaFileError`` when ``ca_file`` is unreadable.

        With ``client`` (mutual TLS), a context of its own holding that certificate,
        rebuilt when a file changes (``ClientCertError`` when it cannot be loaded)."""
        if client is not None:
            return self._client_ssl_context(verify, ca_file, client)
        key = (verify, ca_file)
        ctx = self._ssl.get(key)
        if ctx is None:
            ctx = _new_ssl_context(verify, ca_file)
            self._ssl[key] = ctx
        return ctx

    def _client_ssl_context(self, verify: bool, ca_file: str | None, client: ClientCert) -> ssl.SSLContext:
        key = (verify, ca_file, client.cert_file, client.key_file)
        stamp = (client.stamp(), client.password)
        found = self._client_ssl.get(key)
        if found is not None and found[0] == stamp:
            return found[1]
        ctx = _new_ssl_context(verify, ca_file)
        client.load_into(ctx)  # not cached when it fails: the files may be fixed
        self._client_ssl[key] = (stamp, ctx)
        return ctx

    # ------------------------------------------------------------------ DNS

    def dns_resolver(self) -> Any:
        """The system resolver (``/etc/resolv.conf``), read once."""
        if self._dns_resolver is None:
            import dns.asyncresolver

            self._dns_resolver = dns.asyncresolver.Resolver()
        return self._dns_resolver

    # ------------------------------------------------------------------ life cycle

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._addresses.clear()

    async def __aenter__(self) -> ProbeContext:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
