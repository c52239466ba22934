"""The icmp probe against 127.0.0.1 and ::1: the datagram socket, the raw socket, and
a process allowed neither.

The raw path runs in this process (the tests run as root, or with CAP_NET_RAW). The
paths that need another ``net.ipv4.ping_group_range`` or no CAP_NET_RAW run in a child
process in a network namespace of its own (``unshare -n``: the sysctl is per
namespace, so the machine's setting is never touched), with CAP_NET_RAW dropped by
``setpriv`` where the test says so. Without root, unshare or setpriv these skip
locally and fail in CI.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys

import pytest
import pytest_asyncio

from slamon.core.results import Reason
from slamon.probes import ProbeContext, run_probe
from tests.conftest import ROOT, missing
from tests.probe_helpers import make_probe

OPEN_RANGE = "0 2147483647"
CLOSED_RANGE = "1 0"


def icmp(host: str, **fields):
    fields.setdefault("count", 3)
    fields.setdefault("spacing", "50ms")
    fields.setdefault("timeout", "2s")
    return make_probe(kind="icmp", host=host, **fields)


def _can_open_raw() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
    except PermissionError:
        return False
    return True


def in_namespace(ping_range: str, args: list[str], *, drop_net_raw: bool = False) -> list[dict]:
    """Run tests.icmp_child in a new network namespace (loopback up, the given
    ping_group_range) and return its outcomes; stderr must stay empty."""
    for tool in ("unshare", "setpriv", "ip", "sysctl"):
        if shutil.which(tool) is None:
            missing(f"{tool} is not installed (util-linux, iproute2, procps)")
    if os.geteuid() != 0:
        missing("a network namespace of its own needs root")
    child = [sys.executable, "-m", "tests.icmp_child", *args]
    if drop_net_raw:
        child = ["setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw", *child]
    script = (
        "ip link set lo up && "
        f"sysctl -q -w net.ipv4.ping_group_range={shlex.quote(ping_range)} && "
        f"exec {shlex.join(child)}"
    )
    done = subprocess.run(
        ["unshare", "--net", "sh", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0 and "unshare failed" in done.stderr:
        missing(f"cannot make a network namespace here: {done.stderr.strip()}")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest_asyncio.fixture
async def raw_ctx():
    if not _can_open_raw():
        missing("raw ICMP sockets need root or CAP_NET_RAW")
    c = ProbeContext.create(icmp_sockets=("raw",))
    yield c
    await c.close()


@pytest.mark.parametrize("host,version", [("127.0.0.1", 4), ("::1", 6)])
async def test_raw_socket_path(raw_ctx, host, version):
    out = await run_probe(icmp(host, count=4), raw_ctx)
    assert out.success, out.detail
    assert (out.packets_sent, out.packets_received, out.packet_loss_ratio) == (4, 4, 0.0)
    assert 0 < out.rtt_seconds < out.duration_seconds
    assert out.ip_protocol == version and out.phases["resolve"] == 0.0
    # all replies in: the run ends once the last one is back, not at its timeout
    assert 3 * 0.05 <= out.duration_seconds < 1.0


async def test_a_name_and_an_address_family_mismatch(raw_ctx):
    out = await run_probe(icmp("localhost", ip_version="4"), raw_ctx)
    assert out.success and out.ip_protocol == 4 and "resolve" in out.phases, out.detail
    out = await run_probe(icmp("::1", ip_version="4"), raw_ctx)
    assert out.reason is Reason.error and "ip_version is 4" in out.detail


def test_datagram_socket_path_v4_and_v6():
    outs = in_namespace(OPEN_RANGE, ["--sockets", "datagram", "--host", "127.0.0.1", "--host", "::1"],
                        drop_net_raw=True)  # fmt: skip
    assert [(o["success"], o["ip_protocol"], o["packets_sent"], o["packets_received"]) for o in outs] == [
        (True, 4, 3, 3), (True, 6, 3, 3)
    ]
    assert all(o["rtt_seconds"] > 0 for o in outs)


def test_datagram_first_then_raw_when_the_group_is_outside_the_range():
    # the default order, in a namespace that allows no group: the raw socket takes over
    outs = in_namespace(CLOSED_RANGE, ["--host", "127.0.0.1", "--host", "::1"])
    assert [(o["success"], o["packets_received"]) for o in outs] == [(True, 3), (True, 3)]


def test_neither_allowed_is_one_clear_local_fault_per_run():
    """A daemon that may not ping is at fault, not the host: reason ``local``, which the
    SLA counts as unobserved time and the daemon-health alert reports."""
    outs = in_namespace(CLOSED_RANGE, ["--host", "127.0.0.1", "--host", "::1"], drop_net_raw=True)
    assert len(outs) == 2
    for o in outs:
        assert o["success"] is False and o["reason"] == "local"
        assert "net.ipv4.ping_group_range" in o["detail"] and "'1 0'" in o["detail"]
        assert "CAP_NET_RAW" in o["detail"] and o["packets_sent"] is None


def test_no_reply_is_a_timeout_and_loss_above_max_loss_an_assertion():
    outs = in_namespace(OPEN_RANGE, ["--sockets", "datagram", "--host", "127.0.0.1", "--count", "4",
                                     "--spacing", "300ms", "--timeout", "2s", "--max-loss", "20",
                                     "--ignore-after", "0.45"])  # fmt: skip
    (partial,) = outs  # replies to the requests at 0, 0.3 s; none to those at 0.6, 0.9 s
    assert partial["reason"] == "assertion", partial
    assert (partial["packets_sent"], partial["packets_received"], partial["packet_loss_ratio"]) == (4, 2, 0.5)
    assert "2 of 4 echo requests lost (50 %), more than max_loss 20 %" == partial["detail"]
    outs = in_namespace(OPEN_RANGE, ["--sockets", "datagram", "--host", "127.0.0.1", "--count", "2",
                                     "--timeout", "1s", "--ignore-after", "0"])  # fmt: skip
    (silent,) = outs
    assert silent["reason"] == "timeout" and silent["detail"] == "no echo reply to 2 requests"
    assert (silent["packets_sent"], silent["packets_received"], silent["rtt_seconds"]) == (2, 0, None)
    assert 0.85 <= silent["duration_seconds"] < 1.0  # waited for replies until just before the deadline


def test_no_route_is_unreachable():
    outs = in_namespace(OPEN_RANGE, ["--host", "192.0.2.1"])  # the namespace has only loopback
    assert outs[0]["reason"] == "unreachable", outs


async def test_concurrent_raw_runs_count_only_their_own_replies_and_close_their_sockets(raw_ctx):
    # each raw socket sees every echo request and reply of the others on loopback
    fds_before = len(os.listdir("/proc/self/fd"))
    outs = await asyncio.gather(*(run_probe(icmp(h, count=3), raw_ctx) for h in ["127.0.0.1", "::1"] * 25))
    assert all(o.success and (o.packets_sent, o.packets_received) == (3, 3) for o in outs)
    assert len(os.listdir("/proc/self/fd")) <= fds_before


async def test_cancelling_an_icmp_run_closes_its_socket(raw_ctx):
    fds_before = len(os.listdir("/proc/self/fd"))
    task = asyncio.create_task(run_probe(icmp("127.0.0.1", count=10, spacing="200ms", timeout="5s"), raw_ctx))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(os.listdir("/proc/self/fd")) <= fds_before
