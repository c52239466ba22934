"""``slamon store``: maintenance of the store.

    slamon store seal [--db URL] [--catalogue DIR] [--at ISO]

``seal`` seals every closed SLA period already in the store from its day rollups (an
older store's history; the daemon does the same at start), so reports read closed
periods as sealed aggregates. Resumable and idempotent: each period is committed as it
is sealed, a run after an interruption does what is left, and a sealed period is never
written again. A progress bar on a terminal; nothing when not a terminal.
"""

from __future__ import annotations

import argparse
import sys

from slamon.cli.common import (
    add_store_arguments,
    guarded,
    open_existing_store,
    parse_at,
    valid_catalogue,
)
from slamon.cli.progress import progress_bar, totals


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "store",
        help="store maintenance (seal closed SLA periods)",
        description="Maintenance of the store. See docs/storage.md.",
    )
    sub = p.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    seal = sub.add_parser(
        "seal",
        help="seal every closed SLA period already in the store (resumable, idempotent)",
        description="Seal every closed SLA period of every service in the catalogue from the "
        "store's day rollups, so reports read them as sealed aggregates. Periods already "
        "sealed are left as they are.",
    )
    seal.add_argument("--vantage", action="append", default=[], metavar="OFFICE",
                      help="only the measures from this vantage office (repeatable; default: all)")
    add_store_arguments(seal, "seal")
    seal.set_defaults(handler=guarded("store seal", _seal))


def _seal(args: argparse.Namespace) -> int:
    from slamon.sealing import seal_backlog

    now = parse_at(args.at)
    catalogue = valid_catalogue(args.catalogue)
    store = open_existing_store(args.db)
    try:
        with progress_bar("sealing closed periods") as bar:
            sealed = seal_backlog(store, catalogue, now, vantages=args.vantage or None, progress=totals(bar))
    finally:
        store.close()
    print(f"slamon store seal: {sealed} period(s) sealed", file=sys.stderr)
    return 0
