"""``slamon catalogue list``: the services per office with tier, lifecycle, automation
and ISO alignment (the verdicts behind indicators (a)(i) and (b))."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from slamon.cli.common import (
    add_catalogue_option,
    add_format_option,
    add_office_option,
    add_today_option,
)
from slamon.cli.tables import render
from slamon.core.catalogue import Catalogue
from slamon.core.classify import automation_gaps, iso_gaps
from slamon.loader import load_catalogue


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("catalogue", help="inspect the service catalogue",
                       description="Inspect the service catalogue.")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    ls = actions.add_parser("list", help="services per office with tier, lifecycle, automation and ISO alignment",
                            description="List the services per office with tier, lifecycle, automation and "
                            "ISO alignment.")
    add_catalogue_option(ls)
    add_office_option(ls, "only this office's services")
    add_format_option(ls, ("table", "json"))
    add_today_option(ls)
    ls.set_defaults(handler=list_services)
    p.set_defaults(handler=lambda args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def rows(catalogue: Catalogue, office: str | None, today: dt.date) -> list[dict[str, object]]:
    out = []
    for svc in sorted(catalogue.services_of(office), key=lambda s: (s.office, s.id)):
        auto = automation_gaps(svc)
        iso = iso_gaps(svc, catalogue.practices, today)
        out.append({
            "office": svc.office,
            "id": svc.id,
            "name": svc.name,
            "tier": svc.tier,
            "lifecycle": svc.lifecycle.value,
            "fulfilment": svc.automation.fulfilment.value,
            "automated": not auto,
            "automated_gaps": auto,
            "iso_aligned": not iso,
            "iso_gaps": iso,
            "source": catalogue.sources.get(svc.id),
        })
    return out


def list_services(args: argparse.Namespace) -> int:
    report = load_catalogue(args.catalogue, today=args.today)
    if report.catalogue is None:
        for d in report.errors:
            print(d, file=sys.stderr)
        print(f"{args.catalogue}: invalid catalogue ({len(report.errors)} error(s)); "
              f"see: slamon check {args.catalogue}", file=sys.stderr)
        return 1
    catalogue = report.catalogue
    if args.office is not None and args.office not in catalogue.offices:
        print(f"unknown office {args.office!r}; known: {', '.join(sorted(catalogue.offices))}", file=sys.stderr)
        return 1
    today = args.today or dt.datetime.now(dt.UTC).date()
    data = rows(catalogue, args.office, today)
    if args.format == "json":
        json.dump({"today": today.isoformat(), "services": data}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    yes = {True: "yes", False: "no"}
    print(render(
        ["office", "service", "tier", "lifecycle", "fulfilment", "automated (a)(i)", "ISO-aligned (b)", "name"],
        [[r["office"], r["id"], r["tier"], r["lifecycle"], r["fulfilment"], yes[bool(r["automated"])],
          yes[bool(r["iso_aligned"])], r["name"]] for r in data],
    ))
    counted_auto = sum(1 for r in data if r["automated"])
    counted_iso = sum(1 for r in data if r["iso_aligned"])
    print(f"\n{len(data)} services; {counted_auto} automated, {counted_iso} ISO-aligned "
          f"(as of {today.isoformat()}; reasons: --format json)")
    return 0
