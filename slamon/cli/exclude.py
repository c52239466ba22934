"""``slamon exclude``: record time that does not count against a service's SLA.

    slamon exclude unog-email --from 2026-05-09T20:00Z --to 2026-05-10T02:00Z \\
        --reason "power works in the data centre" --approver "Chief, UNOG ICT"
    slamon exclude --list [SERVICE_ID] [--format json]

An exclusion takes its time out of both the numerator and the denominator of every
objective, for one vantage office (``--vantage``) or all. Times without an offset are
read as UTC. Exclusions are kept for good and listed in reports with their reason
and approver.
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import json
import sys
from pathlib import Path

from slamon.cli.common import add_catalogue_option, add_db_option, add_format_option
from slamon.loader import load_catalogue
from slamon.store import ExclusionRow, Store, StoreError


class UsageError(Exception):
    pass


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "exclude",
        help="record (or list) time excluded from a service's SLA",
        description="Record time excluded from a service's SLA, with a reason and an approver; "
        "or list the exclusions recorded. Times without an offset are UTC.",
    )
    p.add_argument("service_id", nargs="?", metavar="SERVICE_ID",
                   help="the service the exclusion is for (with --list: only its exclusions)")
    p.add_argument("--from", dest="start", metavar="ISO", help="start, e.g. 2026-05-09T20:00Z")
    p.add_argument("--to", dest="end", metavar="ISO", help="end (after the start)")
    p.add_argument("--reason", help="why this time does not count (shown in reports)")
    p.add_argument("--approver", help="who approved the exclusion")
    p.add_argument("--vantage", metavar="OFFICE", help="only from this vantage office (default: all)")
    p.add_argument("--list", action="store_true", help="list exclusions (of SERVICE_ID, if given)")
    add_format_option(p, of="--list")
    add_db_option(p)
    add_catalogue_option(p, "the service id is checked against")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.list:
            return _list(args)
        return _add(args)
    except UsageError as exc:
        print(f"slamon exclude: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"slamon exclude: {exc}", file=sys.stderr)
        return 1


def parse_time(text: str, option: str) -> dt.datetime:
    """ISO 8601 date or date-time; without an offset it is UTC."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not an ISO 8601 time (e.g. 2026-05-09T20:00Z or 2026-05-09T22:00+02:00)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _add(args: argparse.Namespace) -> int:
    if not args.service_id:
        raise UsageError("give a SERVICE_ID (or --list)")
    missing = [o for o, v in (("--from", args.start), ("--to", args.end), ("--reason", args.reason),
                              ("--approver", args.approver)) if not (v and v.strip())]
    if missing:
        raise UsageError(f"missing {', '.join(missing)}")
    start, end = parse_time(args.start, "--from"), parse_time(args.end, "--to")
    if end <= start:
        raise UsageError(f"--to ({_show(end)}) must be after --from ({_show(start)})")

    store = Store.open(args.db)
    try:
        services, offices = _known(args.catalogue, store)
        if args.service_id not in services:
            hint = difflib.get_close_matches(args.service_id, sorted(services), n=1)
            did = f" (did you mean {hint[0]!r}?)" if hint else ""
            where = f"the catalogue at {args.catalogue}" if offices else "the services recorded in the store"
            print(f"slamon exclude: unknown service {args.service_id!r}: not in {where}{did}", file=sys.stderr)
            return 1
        if args.vantage and offices and args.vantage not in offices:
            print(
                f"slamon exclude: unknown office {args.vantage!r} (offices: {', '.join(sorted(offices))})",
                file=sys.stderr,
            )
            return 1
        row = store.add_exclusion(
            args.service_id, start, end, args.reason, args.approver,
            created_at=dt.datetime.now(dt.UTC), vantage=args.vantage,
        )
    finally:
        store.close()
    hours = (end - start).total_seconds() / 3600
    print(
        f"recorded exclusion {row.id}: {row.service_id} from {row.vantage or 'every vantage'}, "
        f"{_show(start)} to {_show(end)} ({hours:g} h), approved by {row.approver}: {row.reason}"
    )
    return 0


def _known(catalogue_dir: Path, store: Store) -> tuple[set[str], set[str]]:
    """Service ids (catalogue and every revision in the store) and office ids (catalogue)."""
    services = store.known_service_ids()
    offices: set[str] = set()
    if catalogue_dir.is_dir():
        report = load_catalogue(catalogue_dir)
        if report.catalogue is not None:
            services |= set(report.catalogue.services)
            offices = set(report.catalogue.offices)
        else:
            print(
                f"slamon exclude: warning: the catalogue at {catalogue_dir} has {len(report.errors)} error(s); "
                "checking the service id against the store only",
                file=sys.stderr,
            )
    return services, offices


def _list(args: argparse.Namespace) -> int:
    store = Store.open(args.db)
    try:
        rows = store.exclusions(args.service_id)
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps([_as_dict(r) for r in rows], indent=2))
        return 0
    if not rows:
        print("no exclusions recorded" + (f" for {args.service_id}" if args.service_id else ""))
        return 0
    header = ("ID", "SERVICE", "VANTAGE", "FROM (UTC)", "TO (UTC)", "APPROVER", "REASON")
    table = [header] + [
        (str(r.id), r.service_id, r.vantage or "all", _show(r.starts_at), _show(r.ends_at), r.approver, r.reason)
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])
    return 0


def _as_dict(r: ExclusionRow) -> dict:
    return {
        "id": r.id,
        "service_id": r.service_id,
        "vantage": r.vantage,
        "from": r.starts_at.isoformat(),
        "to": r.ends_at.isoformat(),
        "reason": r.reason,
        "approver": r.approver,
        "created_at": r.created_at.isoformat(),
    }


def _show(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
