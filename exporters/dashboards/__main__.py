"""``python -m exporters.dashboards [-o DIR] [--check]``: write the dashboards' JSON
files, or with ``--check`` exit 1 when a file differs from the generated one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import exporters.dashboards
from exporters.dashboards import build_all, render

DEFAULT_DIR = Path("deploy/grafana/dashboards")


def main(argv: list[str] | None = None) -> int:
    description = (exporters.dashboards.__doc__ or "").splitlines()[0]
    parser = argparse.ArgumentParser(prog="python -m exporters.dashboards", description=description)
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_DIR, help=f"folder of the JSON files (default {DEFAULT_DIR})")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file differs from the generated one")
    args = parser.parse_args(argv)
    stale = []
    for name, model in build_all().items():
        path = args.output / name
        text = render(model)
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    if stale:
        print("out of date (run python -m exporters.dashboards): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
