"""The ``icmp`` probe: echo requests (ping), without running the daemon as root.

Socket: an unprivileged ICMP datagram socket (``socket(AF_INET, SOCK_DGRAM,
IPPROTO_ICMP)``; Linux allows it to the groups in ``net.ipv4.ping_group_range``, for
IPv4 and IPv6 alike), else a raw socket (needs ``CAP_NET_RAW``). The kinds tried and
their order come from ``ProbeContext.icmp_sockets``. When neither may be opened, the
run is one ``error`` result saying what to allow; nothing is logged or raised here.

A run sends ``count`` echo requests ``spacing`` apart and waits for the replies until
shortly before the probe's deadline, so a lost packet still gives a result with the
packets that did come back. The result carries ``packets_sent``, ``packets_received``
and ``rtt_seconds`` (the mean round trip of the replies, on the monotonic clock).

- no reply at all: ``timeout`` (``unreachable`` when a router said so);
- more lost than ``max_loss`` percent: ``assertion``;
- otherwise a success (by default any reply will do).

Written on the standard library: see docs/probes.md (``icmp``) for why not icmplib.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import struct
import time

from slamon.core.model import IcmpProbe
from slamon.core.results import ProbeOutcome, Reason
from slamon.probes.attempt import Attempt
from slamon.probes.context import ProbeContext
from slamon.probes.streams import resolve

ICMP_SOCKET_KINDS = ("datagram", "raw")
PING_GROUP_RANGE = "/proc/sys/net/ipv4/ping_group_range"
ECHO_REQUEST = {socket.AF_INET: 8, socket.AF_INET6: 128}
ECHO_REPLY = {socket.AF_INET: 0, socket.AF_INET6: 129}
UNREACHABLE = {socket.AF_INET: 3, socket.AF_INET6: 1}
IPV6_HEADER_BYTES = 40
TOKEN_BYTES = 16
MAX_WAIT_MARGIN_SECONDS = 0.1  # replies are awaited until this long before the deadline
_UNREACHABLE_ERRNOS = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ECONNREFUSED, errno.EHOSTDOWN}


class IcmpNotAllowed(Exception):
    """Neither socket kind may be opened by this process (``error``: fix the host)."""


def _ping_group_range() -> str:
    try:
        with open(PING_GROUP_RANGE, encoding="ascii") as f:
            return " ".join(f.read().split())
    except OSError:
        return "unknown"


def _not_allowed(tried: list[str]) -> IcmpNotAllowed:
    needs = []
    if "datagram" in tried:
        needs.append(
            f"datagram ICMP sockets need the daemon's group (gid {os.getegid()}) inside "
            f"net.ipv4.ping_group_range (now {_ping_group_range()!r}; e.g. "
            "sysctl net.ipv4.ping_group_range='0 2147483647')"
        )
    if "raw" in tried:
        needs.append("raw ICMP sockets need CAP_NET_RAW (e.g. AmbientCapabilities=CAP_NET_RAW in the systemd unit)")
    return IcmpNotAllowed("ICMP not allowed for this daemon: " + "; ".join(needs))


def open_icmp_socket(family: int, kinds: tuple[str, ...]) -> tuple[socket.socket, str]:
    """The first kind of ICMP socket this process may open, and which kind it is."""
    proto = socket.IPPROTO_ICMP if family == socket.AF_INET else socket.IPPROTO_ICMPV6
    tried: list[str] = []
    unsupported: OSError | None = None
    for kind in kinds:
        sock_type = socket.SOCK_DGRAM if kind == "datagram" else socket.SOCK_RAW
        try:
            sock = socket.socket(family, sock_type, proto)
        except PermissionError:
            tried.append(kind)
            continue
        except OSError as exc:
            if exc.errno not in (errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT):
                raise  # e.g. no IPv6 on this machine: classified as for any socket
            unsupported = exc  # a kernel without ICMP datagram sockets: try the next kind
            continue
        sock.setblocking(False)
        return sock, kind
    if not tried and unsupported is not None:
        raise unsupported
    raise _not_allowed(tried)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(family: int, ident: int, sequence: int, payload: bytes) -> bytes:
    """An echo request; for IPv6 the kernel fills in the checksum (it covers the
    addresses), for IPv4 it is computed here."""
    kind = ECHO_REQUEST[family]
    header = struct.pack("!BBHHH", kind, 0, 0, ident, sequence)
    if family == socket.AF_INET6:
        return header + payload
    return struct.pack("!BBHHH", kind, 0, checksum(header + payload), ident, sequence) + payload


class _Pinger:
    """Sends the requests of one run and matches the replies as they arrive."""

    def __init__(self, sock: socket.socket, raw: bool, family: int, sockaddr: tuple, count: int) -> None:
        self.sock = sock
        self.raw = raw
        self.family = family
        self.sockaddr = sockaddr
        self.count = count
        self.ident = int.from_bytes(os.urandom(2), "big")
        self.token = os.urandom(TOKEN_BYTES)
        self.sent: dict[int, float] = {}
        self.rtts: dict[int, float] = {}
        self.unreachable: str | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def send(self, sequence: int) -> None:
        packet = echo_request(self.family, self.ident, sequence, self.token)
        self.sent[sequence] = time.monotonic()
        try:
            self.sock.sendto(packet, self.sockaddr)
        except BlockingIOError:
            pass  # the send buffer is full: the request is lost, as on the wire

    def readable(self) -> None:
        while True:
            try:
                data = self.sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # an ICMP error reported on a datagram socket
                if exc.errno in _UNREACHABLE_ERRNOS:
                    self.unreachable = exc.strerror or "unreachable"
                return
            self._packet(data, time.monotonic())
        # not reached

    def _packet(self, data: bytes, now: float) -> None:
        if self.raw and self.family == socket.AF_INET and data and data[0] >> 4 == 4:
            data = data[(data[0] & 0x0F) * 4 :]  # a raw IPv4 socket gives the IP header too
        if len(data) < 8:
            return
        kind, code, _, ident, sequence = struct.unpack("!BBHHH", data[:8])
        if kind == UNREACHABLE[self.family]:
            self._unreachable(data, code)
            return
        if kind != ECHO_REPLY[self.family] or data[8:] != self.token:
            return  # another process's traffic (a raw socket sees all ICMP)
        if self.raw and ident != self.ident:
            return
        started = self.sent.get(sequence)
        if started is None or sequence in self.rtts:
            return
        self.rtts[sequence] = now - started
        if len(self.rtts) == self.count and not self.done.done():
            self.done.set_result(None)

    def _unreachable(self, data: bytes, code: int) -> None:
        inner = data[8:]
        if self.family == socket.AF_INET:
            inner = inner[(inner[0] & 0x0F) * 4 :] if inner else b""
        else:
            inner = inner[IPV6_HEADER_BYTES:]
        if len(inner) >= 8 and struct.unpack("!H", inner[4:6])[0] == self.ident:
            self.unreachable = f"destination unreachable (ICMP code {code})"


async def probe_icmp(probe: IcmpProbe, ctx: ProbeContext, attempt: Attempt, deadline: float) -> ProbeOutcome:
    loop = asyncio.get_running_loop()
    infos = await resolve(probe.host, 0, probe.ip_version, attempt)
    family, sockaddr = infos[0][0], infos[0][4]
    attempt.ip_protocol = 6 if family == socket.AF_INET6 else 4
    sock, kind = open_icmp_socket(family, ctx.icmp_sockets)
    attempt.stage = f"pinging over a {kind} socket"
    try:
        pinger = _Pinger(sock, kind == "raw", family, (sockaddr[0], 0, *sockaddr[2:]), probe.count)
        start = loop.time()
        finish_by = deadline - min(MAX_WAIT_MARGIN_SECONDS, (deadline - start) * 0.1)
        loop.add_reader(sock.fileno(), pinger.readable)
        try:
            for sequence in range(probe.count):
                if sequence:
                    await asyncio.sleep(max(0.0, start + sequence * probe.spacing - loop.time()))
                pinger.send(sequence)
            timer = loop.call_at(finish_by, lambda: pinger.done.done() or pinger.done.set_result(None))
            try:
                await pinger.done
            finally:
                timer.cancel()
        finally:
            loop.remove_reader(sock.fileno())
    finally:
        sock.close()
    return _outcome(probe, attempt, pinger)


def _outcome(probe: IcmpProbe, attempt: Attempt, pinger: _Pinger) -> ProbeOutcome:
    sent, received = len(pinger.sent), len(pinger.rtts)
    attempt.packets_sent = sent
    attempt.packets_received = received
    if received:
        attempt.rtt_seconds = sum(pinger.rtts.values()) / received
    lost = sent - received
    if not received:
        if pinger.unreachable:
            return attempt.outcome(Reason.unreachable, f"unreachable: {pinger.unreachable}")
        return attempt.outcome(Reason.timeout, f"no echo reply to {sent} request{'s' if sent != 1 else ''}")
    loss = 100.0 * lost / sent
    if probe.max_loss is not None and loss > probe.max_loss:
        return attempt.outcome(
            Reason.assertion,
            f"{lost} of {sent} echo requests lost ({loss:.0f} %), more than max_loss {probe.max_loss:g} %",
        )
    return attempt.outcome()
