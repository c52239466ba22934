"""``slamon check [PATH ...] [--catalogue DIR] [--office ID ...]``: validate the catalogue.

The whole catalogue is always loaded (rules run across files: duplicate ids,
dependencies), but an office's ICT unit can scope what it answers for: ``--office
unon`` and/or file or folder paths inside the catalogue. Then

- an error anywhere still fails (the daemons would refuse the catalogue), listed apart
  when it is outside the scope;
- warnings are shown, and counted by ``--strict``, only for the scoped files.

Output: errors first, then warnings grouped by office and by the indicator they keep
the service out of. Exit status 0 when valid, 1 when any error is found (or any
scoped warning, with ``--strict``), 2 for a usage mistake.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from slamon import tuning
from slamon.cli.common import (
    Problem,
    add_catalogue_option,
    add_format_option,
    add_office_option,
    add_today_option,
    check_offices,
    office_ids,
)
from slamon.cli.tables import render
from slamon.config import DEFAULT_CATALOGUE
from slamon.core.catalogue import Catalogue
from slamon.core.model import Lifecycle
from slamon.loader import Diagnostic, LoadReport, load_catalogue

LIFECYCLES = [lc.value for lc in Lifecycle]
CATALOGUE_MARKER = "offices.yaml"  # a catalogue directory holds it at its top


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="validate the catalogue (all of it, or one office's files)",
        description=(
            "Validate the catalogue: every problem in one pass, as file:line:column: CODE path: message. "
            "With --office or file paths, the whole catalogue is still checked (errors anywhere fail), "
            "but only the scoped files' warnings are shown and counted by --strict."
        ),
    )
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="the catalogue directory, or files and folders inside it to scope the check to "
                        f"(default: the catalogue, {DEFAULT_CATALOGUE})")
    add_catalogue_option(p, default=None, default_text=f"found from PATH, else {DEFAULT_CATALOGUE}")
    add_office_option(p, "scope the check to these offices' service files", many="extend")
    p.add_argument("--strict", action="store_true", help="fail on warnings (in the scope) as well as errors")
    add_format_option(p)
    add_today_option(p)
    p.set_defaults(handler=run)


def counts_by_office(catalogue: Catalogue) -> dict[str, dict[str, int]]:
    """office -> lifecycle -> number of services (every lifecycle present, with zeros)."""
    counts: dict[str, Counter[str]] = {office: Counter() for office in sorted(catalogue.offices)}
    for svc in catalogue.services.values():
        counts.setdefault(svc.office, Counter())[svc.lifecycle.value] += 1
    return {office: {lc: c[lc] for lc in LIFECYCLES} for office, c in counts.items()}


def failed(report: LoadReport, strict: bool) -> bool:
    return bool(report.errors) or (strict and bool(report.warnings))


@dataclass(frozen=True)
class Scope:
    """What the user answers for: the whole catalogue, or some files and offices."""

    root: Path  # resolved
    paths: tuple[Path, ...] = ()  # resolved files or folders inside root
    offices: tuple[str, ...] = ()
    shown: Path | None = None  # the catalogue directory as diagnostics name it

    @property
    def whole(self) -> bool:
        return not self.paths and not self.offices

    def covers(self, diag: Diagnostic) -> bool:
        if self.whole:
            return True
        file = _resolved(diag.file)
        if any(file == p or p in file.parents for p in self.paths):
            return True
        return bool(self.offices) and office_of(diag, self.root) in self.offices

    def describe(self) -> str:
        parts = [f"office {o}" for o in self.offices]
        parts += [str(_relative(p, self.root)) for p in self.paths]
        return ", ".join(parts)


def _resolved(path: str | Path) -> Path:
    return Path(path).resolve()


def _relative(path: Path, root: Path) -> Path:
    try:
        return path.relative_to(root)
    except ValueError:
        return path


def office_of(diag: Diagnostic, root: Path) -> str:
    """The office owning a diagnostic's file (services/<office>/...), or "catalogue"."""
    rel = _relative(_resolved(diag.file), root).parts
    if len(rel) >= 3 and rel[0] == "services":
        return rel[1]
    return "catalogue"


def find_root(path: Path) -> Path | None:
    """The catalogue directory holding ``path`` (itself or an ancestor with offices.yaml)."""
    for candidate in (path, *path.parents):
        if (candidate / CATALOGUE_MARKER).is_file():
            return candidate
    return None


def resolve_scope(args: argparse.Namespace) -> Scope:
    given = [Path(p) for p in args.paths]
    for path in given:
        if not path.exists():
            raise Problem(f"{path} does not exist")
    if args.catalogue is not None:
        root = args.catalogue
    elif given:
        root = find_root(given[0].resolve() if given[0].is_dir() else given[0].resolve().parent)
        if root is None:
            raise Problem(
                f"{given[0]} is not inside a catalogue directory (none of its folders holds "
                f"{CATALOGUE_MARKER}); name the catalogue with --catalogue DIR", 2)
    else:
        root = DEFAULT_CATALOGUE
    if not root.is_dir():
        raise Problem(f"catalogue directory {root} does not exist (use --catalogue DIR)", 2)
    shown = Path(os.path.relpath(root)) if root.is_absolute() and Path.cwd() in root.resolve().parents else root
    root = root.resolve()
    scoped = []
    for path in given:
        resolved = path.resolve()
        if resolved == root:
            continue  # the catalogue itself: no narrowing
        if root not in resolved.parents:
            raise Problem(f"{path} is not inside the catalogue {root}", 2)
        scoped.append(resolved)
    offices = office_ids(args.office)
    return Scope(root, tuple(scoped), offices, shown)


def run(args: argparse.Namespace) -> int:
    try:
        scope = resolve_scope(args)
    except Problem as exc:
        print(f"slamon check: {exc}", file=sys.stderr)
        return exc.status
    with tuning.paused_collector():  # a cold load of the whole catalogue
        report = load_catalogue(scope.shown or scope.root, today=args.today)
    if scope.offices and report.catalogue is not None:
        try:
            check_offices(report.catalogue, scope.offices)
        except Problem as exc:
            print(f"slamon check: {exc}", file=sys.stderr)
            return 2
    errors = report.errors
    warnings = [d for d in report.warnings if scope.covers(d)]
    status = 1 if errors or (args.strict and warnings) else 0
    counts = counts_by_office(report.catalogue) if report.catalogue else None
    shown_root = scope.shown or scope.root
    if args.format == "json":
        json.dump(
            {
                "catalogue": str(shown_root),
                "scope": None if scope.whole else {
                    "offices": list(scope.offices),
                    "paths": [str(_relative(p, scope.root)) for p in scope.paths],
                },
                "valid": report.ok,
                "strict": args.strict,
                "passed": status == 0,
                "errors": len(errors),
                "errors_outside_scope": sum(1 for d in errors if not scope.covers(d)),
                "warnings": len(warnings),
                "warnings_outside_scope": len(report.warnings) - len(warnings),
                "diagnostics": [
                    {**d.as_dict(), "office": office_of(d, scope.root), "in_scope": scope.covers(d)}
                    for d in [*errors, *warnings]
                ],
                "offices": counts,
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
        return status

    print_diagnostics(errors, warnings, scope)
    summary = f"{len(errors)} error(s), {len(warnings)} warning(s)"
    if not scope.whole:
        hidden = len(report.warnings) - len(warnings)
        summary += f" in scope ({scope.describe()})"
        if hidden:
            summary += f"; {hidden} warning(s) elsewhere not shown"
    if counts is None:
        print(f"{shown_root}: invalid: {summary}", file=sys.stderr)
        return status
    total = sum(sum(c.values()) for c in counts.values())
    verdict = "valid" if status == 0 else ("invalid" if errors else "valid, but --strict fails on warnings")
    print(f"{shown_root}: {verdict}: {total} services in {len(counts)} offices; {summary}")
    rows = [[office, *[c[lc] for lc in LIFECYCLES], sum(c.values())] for office, c in counts.items()]
    rows.append(["total", *[sum(c[lc] for c in counts.values()) for lc in LIFECYCLES], total])
    print(render(["office", *LIFECYCLES, "total"], rows))
    return status


def print_diagnostics(errors: list[Diagnostic], warnings: list[Diagnostic], scope: Scope) -> None:
    """Errors first (those outside the scope apart), then warnings by office and indicator."""
    inside = [d for d in errors if scope.covers(d)]
    outside = [d for d in errors if not scope.covers(d)]
    for d in inside:
        print(d)
    if outside:
        if not scope.whole:
            print(f"errors outside {scope.describe()} (the catalogue as a whole must be valid):")
        for d in outside:
            print(d)
    groups: dict[tuple[str, str], list[Diagnostic]] = {}
    for d in warnings:
        key = (office_of(d, scope.root), ", ".join(d.affects) or "no indicator")
        groups.setdefault(key, []).append(d)
    for (office, affects), items in sorted(groups.items()):
        print(f"warnings: {office}, keeping services out of {affects} ({len(items)}):")
        for d in items:
            print(f"  {d}")
