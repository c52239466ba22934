"""The ``slamon`` command line: one sub-command per module in this package.

Each module exposes ``register(subparsers)``, which adds its parser and sets
``handler`` to a function taking the parsed arguments and returning the exit status.
A user's mistake ends in a clear message and status 1 or 2; only a bug keeps its
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from slamon import __version__

# Sub-command modules, in the order ``slamon --help`` lists them.
COMMANDS: list[str] = [
    "check",
    "schema",
    "catalogue",
    "run",
    "probe",
    "exclude",
    "sla",
    "report",
    "store",
    "rules",
    "dashboards",
    "targets",
    "demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slamon",
        description="ICT service catalogue and SLA monitoring daemon.",
    )
    parser.add_argument("--version", action="version", version=f"slamon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"slamon.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0
