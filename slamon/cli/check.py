"""``slamon check [CATALOGUE_DIR]``: validate the catalogue, print every problem.

Exit status 0 when valid, 1 when any error is found (or any warning, with ``--strict``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections import Counter

from slamon import tuning
from slamon.cli.tables import render
from slamon.config import DEFAULT_CATALOGUE
from slamon.core.catalogue import Catalogue
from slamon.core.model import Lifecycle
from slamon.loader import LoadReport, load_catalogue

LIFECYCLES = [lc.value for lc in Lifecycle]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="validate a catalogue directory",
        description="Validate the catalogue: every problem in one pass, as file:line:column: CODE path: message.",
    )
    p.add_argument("catalogue", nargs="?", default=str(DEFAULT_CATALOGUE), metavar="CATALOGUE_DIR",
                   help="the catalogue directory (default: %(default)s)")
    p.add_argument("--strict", action="store_true", help="fail on warnings as well as errors")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    p.add_argument("--today", type=date_arg, default=None, metavar="YYYY-MM-DD",
                   help="date the practice reviews are aged against (default: today, UTC)")
    p.set_defaults(handler=run)


def date_arg(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def counts_by_office(catalogue: Catalogue) -> dict[str, dict[str, int]]:
    """office -> lifecycle -> number of services (every lifecycle present, with zeros)."""
    counts: dict[str, Counter[str]] = {office: Counter() for office in sorted(catalogue.offices)}
    for svc in catalogue.services.values():
        counts.setdefault(svc.office, Counter())[svc.lifecycle.value] += 1
    return {office: {lc: c[lc] for lc in LIFECYCLES} for office, c in counts.items()}


def failed(report: LoadReport, strict: bool) -> bool:
    return bool(report.errors) or (strict and bool(report.warnings))


def run(args: argparse.Namespace) -> int:
    with tuning.paused_collector():  # a cold load of the whole catalogue
        report = load_catalogue(args.catalogue, today=args.today)
    status = 1 if failed(report, args.strict) else 0
    counts = counts_by_office(report.catalogue) if report.catalogue else None
    if args.format == "json":
        json.dump(
            {
                "catalogue": args.catalogue,
                "valid": report.ok,
                "strict": args.strict,
                "passed": status == 0,
                "errors": len(report.errors),
                "warnings": len(report.warnings),
                "diagnostics": [d.as_dict() for d in report.diagnostics],
                "offices": counts,
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
        return status

    for d in report.diagnostics:
        print(f"{d}")
    summary = f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)"
    if counts is None:
        print(f"{args.catalogue}: invalid: {summary}", file=sys.stderr)
        return status
    total = sum(sum(c.values()) for c in counts.values())
    verdict = "valid" if status == 0 else "valid, but --strict fails on warnings"
    print(f"{args.catalogue}: {verdict}: {total} services in {len(counts)} offices; {summary}")
    rows = [[office, *[c[lc] for lc in LIFECYCLES], sum(c.values())] for office, c in counts.items()]
    rows.append(["total", *[sum(c[lc] for c in counts.values()) for lc in LIFECYCLES], total])
    print(render(["office", *LIFECYCLES, "total"], rows))
    return status
