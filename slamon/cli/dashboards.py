"""``slamon dashboards``: write the Grafana dashboards provisioned from deploy/grafana.

    slamon dashboards [-o DIR] [--check]

The dashboards use template variables instead of the catalogue, so they only change
with slamon itself; ``--check`` exits 1 when the files on disk are stale.
"""

from __future__ import annotations

import argparse

from exporters.dashboards import DEFAULT_DIR, dashboard_files
from slamon.cli.common import add_check_option, add_output_option, write_or_check


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dashboards",
        help="write the Grafana dashboards (overview, office, service, indicators, daemon)",
        description=(
            "Write the Grafana dashboards that deploy/grafana provisions. They use template "
            "variables instead of the catalogue, so they change only with slamon itself. With "
            "--check, write nothing and exit 1 when the files on disk are stale."
        ),
    )
    add_output_option(parser, "dashboards directory", default=DEFAULT_DIR)
    add_check_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return write_or_check("dashboards", dashboard_files(args.output), args.check, f"in {args.output}")
