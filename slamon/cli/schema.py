"""``slamon schema``: write the JSON Schemas of the catalogue files (for editors), or check
that the committed ones are up to date."""

from __future__ import annotations

import argparse
import sys

from slamon.cli.common import add_check_option, add_output_option
from slamon.config import DEFAULT_CATALOGUE
from slamon.loader import schema


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "schema",
        help="write the catalogue's JSON Schemas",
        description="Write JSON Schemas generated from the catalogue models (service, offices, tiers, "
        "practices, indicators), for editors' YAML modelines.",
    )
    add_output_option(p, "schemas directory", default=DEFAULT_CATALOGUE / "schema", old_names=("--out",))
    add_check_option(p, "a schema in DIR is missing or out of date")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.check:
        stale = schema.stale(args.output)
        for name in stale:
            print(f"{args.output / name}: out of date; run: slamon schema -o {args.output}", file=sys.stderr)
        if not stale:
            print(f"{args.output}: schemas are up to date")
        return 1 if stale else 0
    try:
        written = schema.write(args.output)
    except OSError as exc:
        print(f"slamon schema: cannot write to {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0
