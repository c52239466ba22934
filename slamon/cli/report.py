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
    add_store_arguments,
    check_offices,
    guarded,
    open_existing_store,
    parse_at,
    valid_catalogue,
)
from slamon.cli.progress import progress_bar
from slamon.core.sla.periods import PeriodError, parse_period


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report",
        help="write the indicator report for a period (HTML, Markdown, CSV or JSON)",
        description="The three ICT-operations indicators per office and in total, in the "
        "baseline / target / actual shape with the trend against the previous period, the "
        "services behind each number, and per-service SLA tables with breaches and exclusions.",
    )
    p.add_argument("--period", required=True, metavar="LABEL",
                   help="2012-2013 (biennium), 2013 (year), 2013-Q4 (quarter), 2013-11 (month) or rolling-30d")
    p.add_argument("--office", action="append", default=[], metavar="ID",
                   help="only this office (repeatable; default: every office and the total)")
    p.add_argument("--format", choices=FORMATS, default="html", help="output format (default html)")
    p.add_argument("--table", choices=tuple(TABLES), default="indicators",
                   help="with --format csv: which table (default indicators; see docs/reports.md)")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE (default: standard output)")
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
    try:
        parse_period(args.period, "UTC", now)
    except PeriodError as exc:
        raise Problem(str(exc), 2) from None
    if args.table != "indicators" and args.format != "csv":
        raise Problem("--table applies to --format csv only", 2)
    if args.output is not None:
        _check_output(args.output)
    catalogue = valid_catalogue(args.catalogue)
    offices = sorted({o for arg in args.office for o in arg.split(",") if o}) or None
    check_offices(catalogue, offices or ())
    store = open_existing_store(args.db)
    # the period's services, then the previous period's: about twice the catalogue
    services = sum(1 for s in catalogue.services.values() if offices is None or s.office in offices)
    try:
        with progress_bar(f"report {args.period}", total=2 * services) as bar:
            report = build_report(store, catalogue, args.period, now, offices=offices, progress=bar.update)
    finally:
        store.close()
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
