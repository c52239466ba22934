"""``slamon targets``: every daemon alive in PostgreSQL, as a Prometheus file_sd file.

Daemons started with ``--shards N`` hold their leases on a PostgreSQL session whose
name carries their /metrics address; this lists those sessions. Run it every minute
(deploy/systemd/slamon-targets.timer) and point Prometheus' ``file_sd_configs`` at the
file: a new daemon is scraped within a minute, a dead one dropped. The file is
replaced atomically, so Prometheus never reads half of it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from slamon.config import DEFAULT_DB_URL


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "targets",
        help="list the daemons alive in PostgreSQL as a Prometheus file_sd file",
        description="Write the /metrics addresses of every daemon holding shard leases in the "
                    "database (slamon run --shards N) as a Prometheus file_sd JSON document.",
    )
    p.add_argument("--db", default=DEFAULT_DB_URL, metavar="URL",
                   help="the daemons' store, postgresql+psycopg://... (default: %(default)s)")
    p.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                   help="write the file_sd JSON here, replacing it atomically (default: standard output)")
    p.add_argument("--label", action="append", default=[], metavar="NAME=VALUE",
                   help="a label to put on every target, e.g. site=geneva (repeatable)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from slamon.leases import live_daemons
    from slamon.store.urls import mask_url

    if not args.db.startswith(("postgresql:", "postgresql+")):
        print("slamon targets: daemons are found through their PostgreSQL leases; "
              f"--db must be a postgresql+psycopg:// URL (found {mask_url(args.db)})", file=sys.stderr)
        return 1
    labels = {}
    for item in args.label:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier() or name.startswith("__"):
            print(f"slamon targets: --label must be NAME=VALUE with a Prometheus label name (found {item!r})",
                  file=sys.stderr)
            return 2
        labels[name] = value
    try:
        addresses = live_daemons(args.db)
    except Exception as exc:  # psycopg.OperationalError and friends: the person's problem
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"slamon targets: cannot read the daemons from {mask_url(args.db)}: {first}", file=sys.stderr)
        return 1
    doc = [{"targets": addresses, "labels": labels}] if addresses else []
    text = json.dumps(doc, indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return 0
    out: Path = args.output
    if not out.parent.is_dir():
        print(f"slamon targets: the directory of {out} does not exist", file=sys.stderr)
        return 1
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    print(f"slamon targets: {len(addresses)} daemon(s) in {out}", file=sys.stderr)
    return 0
