"""``slamon schema``: write the JSON Schemas of the catalogue files (for editors), or check
that the committed ones are up to date."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from slamon.config import DEFAULT_CATALOGUE
from slamon.loader import schema


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "schema",
        help="write the catalogue's JSON Schemas",
        description="Write JSON Schemas generated from the catalogue models (service, offices, tiers, "
        "practices, indicators), for editors' YAML modelines.",
    )
    p.add_argument("-o", "--output", "--out", dest="out", type=Path, default=DEFAULT_CATALOGUE / "schema",
                   metavar="DIR", help="where to write them (default: %(default)s; --out is the old name)")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when a schema in DIR is missing or out of date")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.check:
        stale = schema.stale(args.out)
        for name in stale:
            print(f"{args.out / name}: out of date; run: slamon schema -o {args.out}", file=sys.stderr)
        if not stale:
            print(f"{args.out}: schemas are up to date")
        return 1 if stale else 0
    try:
        written = schema.write(args.out)
    except OSError as exc:
        print(f"slamon schema: cannot write to {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0
