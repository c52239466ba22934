"""``python -m exporters.dashboards [-o DIR] [--check]``: write the dashboards' JSON
files, or with ``--check`` exit 1 when a file differs from the generated one (the same
as ``slamon dashboards``, without the rest of slamon)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from exporters.dashboards import DEFAULT_DIR, dashboard_files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exporters.dashboards",
                                     description="Write the Grafana dashboards of slamon.")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_DIR, help=f"folder of the JSON files (default {DEFAULT_DIR})")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file differs from the generated one")
    args = parser.parse_args(argv)
    files = dashboard_files(args.output)
    if args.check:
        stale = files.stale()
        for reason in stale:
            print(f"{reason} (run python -m exporters.dashboards)", file=sys.stderr)
        return 1 if stale else 0
    for path in files.write():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
