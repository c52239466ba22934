"""Pieces shared by the sub-commands that read the store (``sla``, ``report``):
the user-mistake exception, the ``--at``/``--db``/``--catalogue`` options, and
opening the catalogue and an existing store with clear errors."""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy.engine import make_url

from exporters.generated_files import FileSet
from slamon.config import DEFAULT_CATALOGUE, DEFAULT_DB_URL
from slamon.core.catalogue import Catalogue
from slamon.loader import load_catalogue
from slamon.store import Store, StoreError
from slamon.store.urls import mask_url


class Problem(Exception):
    """A user's mistake: message and exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def add_store_arguments(p: argparse.ArgumentParser, what: str = "measure") -> None:
    p.add_argument("--at", metavar="ISO", help=f"{what} as of this UTC time instead of now")
    p.add_argument("--db", default=DEFAULT_DB_URL, metavar="URL", help=f"store URL (default {DEFAULT_DB_URL})")
    p.add_argument("--catalogue", type=Path, default=DEFAULT_CATALOGUE, metavar="DIR",
                   help=f"catalogue directory (default {DEFAULT_CATALOGUE})")


def guarded(command: str, body: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A handler that turns a user's mistake into its message and exit status."""

    def handler(args: argparse.Namespace) -> int:
        try:
            return body(args)
        except Problem as exc:
            print(f"slamon {command}: {exc}", file=sys.stderr)
            return exc.status
        except StoreError as exc:
            print(f"slamon {command}: {exc}", file=sys.stderr)
            return 1

    return handler


def parse_at(text: str | None) -> dt.datetime:
    """``--at``: an ISO 8601 time (UTC when it has no offset), or now."""
    if not text:
        return dt.datetime.now(dt.UTC)
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise Problem(f"--at {text!r} is not an ISO 8601 time (e.g. 2026-11-30T12:00Z)", 2) from None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def valid_catalogue(path: Path) -> Catalogue:
    if not path.is_dir():
        raise Problem(f"catalogue directory {path} does not exist (use --catalogue DIR)")
    report = load_catalogue(path)
    if report.catalogue is None or report.errors:
        for diag in report.errors[:20]:
            print(diag, file=sys.stderr)
        raise Problem(f"the catalogue at {path} has {len(report.errors)} error(s)")
    return report.catalogue


def check_offices(catalogue: Catalogue, offices: Iterable[str]) -> None:
    for office in offices:
        if office not in catalogue.offices:
            hint = office_hint(catalogue, office)
            raise Problem(
                f"unknown office {office!r}" + (f" (did you mean {hint!r}?)" if hint else "")
                + f"; offices: {', '.join(sorted(catalogue.offices))}"
            )


def office_hint(catalogue: Catalogue, text: str) -> str | None:
    """The office id a user probably meant: by id, or by the office's city or name
    (``nairobi`` -> ``unon``)."""
    ids = sorted(catalogue.offices)
    close = difflib.get_close_matches(text.lower(), ids, n=1)
    if close:
        return close[0]
    names: dict[str, str] = {}
    for oid, office in catalogue.offices.items():
        for label in (getattr(office, "city", None), getattr(office, "name", None)):
            if label:
                names[str(label).lower()] = oid
                for word in str(label).lower().split():
                    names.setdefault(word, oid)
    close = difflib.get_close_matches(text.lower(), sorted(names), n=1, cutoff=0.75)
    return names[close[0]] if close else None


def open_existing_store(url: str) -> Store:
    """Open an existing store (a missing SQLite file is an error here, not created)."""
    try:
        parsed = make_url(url)
    except Exception:
        raise Problem(f"not a database URL: {mask_url(url)!r} (e.g. sqlite:///var/slamon.db)") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).is_file():
        raise Problem(f"no store at {parsed.database} (the daemon creates it; use --db URL)")
    return Store.open(url)


def write_or_check(command: str, files: FileSet, check: bool, where: str) -> int:
    """Write generated files, or with ``--check`` only report which are stale (exit 1)."""
    if check:
        stale = files.stale()
        for reason in stale:
            print(reason, file=sys.stderr)
        if stale:
            print(f"slamon {command}: generated files are stale; run `slamon {command}` again",
                  file=sys.stderr)
            return 1
        print(f"slamon {command}: {len(files.files)} files up to date")
        return 0
    changed = files.write()
    print(f"slamon {command}: {len(files.files)} files, {len(changed)} changed {where}")
    return 0
