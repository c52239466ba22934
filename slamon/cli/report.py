"""``slamon report``: the indicator report for a period, per office and in total.

    slamon report --period 2012-2013 --format html -o report-2012-2013.html
    slamon report --period 2013-Q4 --office unog --format md
    slamon report --period 2012-2013 --format csv --table sla

Reads the store (``--db``) and the catalogue (``--catalogue``); see docs/reports.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from exporters.reports import FORMATS, TABLES, build_report, render
from slamon.cli.common import (
    Problem,
    add_format_option,
    add_office_option,
    add_output_option,
    add_period_option,
    add_store_arguments,
    check_offices,
    guarded,
    office_ids,
    open_existing_store,
    parse_at,
    period_label,
    valid_catalogue,
)
from slamon.cli.progress import progress_bar
from slamon.loader.history import GitHistory


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="write the indicator report for a period (HTML, Markdown, CSV or JSON)",
        description="The three ICT-operations indicators per office and in total, in the "
        "baseline / target / actual shape with the trend against the previous period, the "
        "services behind each number, and per-service SLA tables with breaches and exclusions.",
    )
    add_period_option(p, current="the biennium containing now")
    add_office_option(p, "only this office (repeatable; default: every office and the total)", many="append")
    add_format_option(p, FORMATS, default="html")
    p.add_argument("--table", choices=tuple(TABLES), default="indicators",
                   help="with --format csv: which table (default: indicators; see docs/reports.md)")
    add_output_option(p, "write to FILE", metavar="FILE")
    add_store_arguments(p, "report")
    p.set_defaults(handler=guarded("report", _run))


def _check_output(path: Path) -> None:
    """Fail before any database work when the file cannot be written."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise Problem(f"cannot write {path}: it is a directory")
    if not parent.is_dir():
        raise Problem(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise Problem(f"cannot write {path}: permission denied")


def _run(args: argparse.Namespace) -> int:
    now = parse_at(args.at)
    args.period = period_label(args.period, now)
    if args.table != "indicators" and args.format != "csv":
        raise Problem("--table applies to --format csv only", 2)
    if args.output is not None:
        _check_output(args.output)
    catalogue = valid_catalogue(args.catalogue)
    offices = sorted(office_ids(args.office)) or None
    check_offices(catalogue, offices or ())
    store = open_existing_store(args.db)
    # the period's services, then the previous period's: about twice the catalogue
    services = sum(1 for s in catalogue.services.values() if offices is None or s.office in offices)
    try:
        history = GitHistory.open(args.catalogue)  # None unless the catalogue is kept in git
        with progress_bar(f"report {args.period}", total=2 * services) as bar:
            report = build_report(
                store, catalogue, args.period, now, offices=offices, history=history, progress=bar.update
            )
    finally:
        store.close()
    if not report.has_measurements:
        print(f"slamon report: the store holds no measurement for {report.period}; the report says so",
              file=sys.stderr)
    if report.counts_from == "catalogue":
        print(f"slamon report: no record of the catalogue for {report.period}: counts are reconstructed "
              "from the current catalogue", file=sys.stderr)
    text = render(report, args.format, table=args.table)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise Problem(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(f"slamon report: wrote {args.output} ({args.format}, period {report.period})", file=sys.stderr)
    return 0
