"""Resolve, connect and (optionally) TLS for the tcp and tls probes, each phase timed.

Connections are asyncio streams. Closing aborts the transport: a probe does not wait
for a peer's TLS close_notify or FIN (a hanging peer must not hold a file descriptor).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time

import aiohappyeyeballs

from slamon.probes.attempt import Attempt
from slamon.probes.certs import ip_protocol_of

_FAMILIES = {"any": socket.AF_UNSPEC, "4": socket.AF_INET, "6": socket.AF_INET6}
HAPPY_EYEBALLS_DELAY_SECONDS = 0.25  # RFC 8305's recommended connection attempt delay


class AddressFamilyMismatch(Exception):
    """The probe pins one address family and names an IP address of the other."""


def _literal(host: str, port: int, ip_version: str) -> list | None:
    """Address info for an IP literal, without a trip to the resolver thread."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if ip_version != "any" and str(ip.version) != ip_version:
        raise AddressFamilyMismatch(
            f"ip_version is {ip_version} but {host} is an IPv{ip.version} address"
        )
    if ip.version == 6:
        return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port, 0, 0))]
    return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))]


async def resolve(host: str, port: int, ip_version: str, attempt: Attempt) -> list:
    """Address infos for ``host``; the lookup is the ``resolve`` phase."""
    infos = _literal(host, port, ip_version)
    if infos is not None:
        attempt.add_phase("resolve", 0.0)
        return infos
    attempt.stage = "resolving the name"
    t0 = time.monotonic()
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, family=_FAMILIES[ip_version], type=socket.SOCK_STREAM
        )
    finally:
        attempt.add_phase("resolve", time.monotonic() - t0)
    if not infos:
        raise socket.gaierror(socket.EAI_NONAME, f"no address for {host}")
    return infos


async def open_socket(host: str, port: int, ip_version: str, attempt: Attempt) -> socket.socket:
    """A connected socket to ``host``; resolving and connecting are timed phases."""
    infos = await resolve(host, port, ip_version, attempt)
    addr_infos = list(infos)
    attempt.stage = "connecting"
    t0 = time.monotonic()
    sock = await aiohappyeyeballs.start_connection(
        addr_infos, happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY_SECONDS
    )
    attempt.add_phase("connect", time.monotonic() - t0)
    attempt.ip_protocol = ip_protocol_of(None, sock)
    return sock


async def open_stream(
    host: str,
    port: int,
    ip_version: str,
    attempt: Attempt,
    *,
    read_limit: int,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = await open_socket(host, port, ip_version, attempt)
    try:
        return await asyncio.open_connection(sock=sock, limit=read_limit)
    except BaseException:
        sock.close()
        raise


async def start_tls(
    writer: asyncio.StreamWriter,
    context: ssl.SSLContext,
    server_name: str,
    attempt: Attempt,
) -> ssl.SSLObject:
    attempt.stage = "in the TLS handshake"
    t0 = time.monotonic()
    try:
        await writer.start_tls(context, server_hostname=server_name)
    finally:
        attempt.add_phase("tls", time.monotonic() - t0)
    ssl_object = writer.get_extra_info("ssl_object")
    attempt.tls_version = ssl_object.version() if ssl_object is not None else None
    return ssl_object


def abort(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        writer.transport.abort()
