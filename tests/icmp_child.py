"""Run icmp probes in a process of their own and print each outcome as a JSON line.

tests/test_probe_icmp.py starts this in a network namespace of its own (``unshare
-n``), where it may set ``net.ipv4.ping_group_range`` and drop ``CAP_NET_RAW`` without
touching the machine's settings:

    python -m tests.icmp_child --sockets datagram,raw --host 127.0.0.1 --host ::1
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json

from slamon.probes import ProbeContext, run_probe
from tests.probe_helpers import make_probe

ECHO_IGNORE = "/proc/sys/net/ipv4/icmp_echo_ignore_all"


def _ignore_echo() -> None:
    with open(ECHO_IGNORE, "w", encoding="ascii") as f:
        f.write("1\n")


async def main(args: argparse.Namespace) -> None:
    ctx = ProbeContext.create(icmp_sockets=tuple(s for s in args.sockets.split(",") if s))
    loop = asyncio.get_running_loop()
    try:
        for host in args.host:
            fields = {"kind": "icmp", "host": host, "count": args.count, "spacing": args.spacing,
                      "timeout": args.timeout}  # fmt: skip
            if args.max_loss is not None:
                fields["max_loss"] = args.max_loss
            if args.ignore_after == 0:  # the kernel answers no echo at all
                _ignore_echo()
            elif args.ignore_after is not None:  # the kernel stops answering echo mid-run
                loop.call_later(args.ignore_after, _ignore_echo)
            out = await run_probe(make_probe(**fields), ctx)
            record = dataclasses.asdict(out)
            record["packet_loss_ratio"] = out.packet_loss_ratio
            print(json.dumps(record, default=str), flush=True)
    finally:
        await ctx.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", default="datagram,raw")
    parser.add_argument("--host", action="append", required=True)
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--spacing", default="100ms")
    parser.add_argument("--timeout", default="2s")
    parser.add_argument("--max-loss", type=float, default=None)
    parser.add_argument("--ignore-after", type=float, default=None)
    asyncio.run(main(parser.parse_args()))
