"""Pieces shared by the sub-commands: the options several commands take (each flag
defined once, so its name, default and help read the same everywhere), the
user-mistake exception, and opening the catalogue and an existing store with clear
errors."""

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
from slamon.core.sla.periods import PeriodError, check_label
from slamon.loader import load_catalogue
from slamon.logs import FORMATS, LEVELS
from slamon.store import Store, StoreError
from slamon.store.urls import mask_url


class Problem(Exception):
    """A user's mistake: message and exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


# ------------------------------------------------------------------ option values


def seconds_arg(text: str) -> float:
    """A duration in seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0 (found {text!r})")
    return value


def listen_arg(text: str) -> str:
    """``HOST:PORT`` to listen on (port 0: any free port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, e.g. 127.0.0.1:9730 (found {text!r})")
    return text


def date_arg(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


# ------------------------------------------------------------------ options several commands take

TEXT_OR_JSON = ("text", "json")


def add_catalogue_option(p: argparse.ArgumentParser, purpose: str = "", *,
                         default: Path | None = DEFAULT_CATALOGUE, default_text: str = "%(default)s") -> None:
    """``--catalogue DIR``; ``purpose`` ends "catalogue directory ..." (e.g. "to simulate")."""
    what = f"catalogue directory {purpose}" if purpose else "catalogue directory"
    p.add_argument("--catalogue", type=Path, default=default, metavar="DIR", help=f"{what} (default: {default_text})")


def add_db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=DEFAULT_DB_URL, metavar="URL", help="result store URL (default: %(default)s)")


def add_at_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--at", metavar="ISO", help=f"{what} as of this UTC time instead of now")


def add_store_arguments(p: argparse.ArgumentParser, what: str = "measure") -> None:
    """The options of a command that reads the store: ``--at``, ``--db``, ``--catalogue``."""
    add_at_option(p, what)
    add_db_option(p)
    add_catalogue_option(p)


def add_office_option(p: argparse.ArgumentParser, help: str, *, many: str = "", metavar: str = "ID") -> None:
    """``--office``: one office; with ``many="append"`` one per flag, repeatable; with
    ``many="extend"`` one or more per flag, repeatable (read them with ``office_ids``)."""
    if many == "extend":
        p.add_argument("--office", action="extend", nargs="+", default=[], metavar=metavar, help=help)
    elif many == "append":
        p.add_argument("--office", action="append", default=[], metavar=metavar, help=help)
    else:
        p.add_argument("--office", metavar=metavar, help=help)


def office_ids(given: Iterable[str]) -> tuple[str, ...]:
    """The offices a repeatable ``--office`` names, commas also separating them, each
    once, in the order given."""
    return tuple(dict.fromkeys(o for arg in given for o in arg.split(",") if o))


def add_format_option(p: argparse.ArgumentParser, choices: tuple[str, ...] = TEXT_OR_JSON, *,
                      default: str | None = None, of: str = "") -> None:
    """``--format``, the first choice by default; ``of`` names what it formats if not
    the command's whole output (e.g. "--list")."""
    what = "text for people, json for tools" if choices == TEXT_OR_JSON else "output format"
    prefix = f"output of {of}: " if of else ""
    p.add_argument("--format", choices=choices, default=default or choices[0],
                   help=f"{prefix}{what} (default: %(default)s)")


def add_output_option(p: argparse.ArgumentParser, what: str, *, default: Path | None = None,
                      metavar: str = "DIR", old_names: tuple[str, ...] = ()) -> None:
    """``-o/--output``: a file or directory written; without a default, standard output."""
    where = "%(default)s" if default is not None else "standard output"
    old = f"; {', '.join(old_names)} is the old name" if old_names else ""
    p.add_argument("-o", "--output", *old_names, dest="output", type=Path, default=default, metavar=metavar,
                   help=f"{what} (default: {where}{old})")


def add_check_option(p: argparse.ArgumentParser, stale: str = "the files on disk are stale") -> None:
    """``--check`` of a command that writes generated files."""
    p.add_argument("--check", action="store_true", help=f"write nothing; exit 1 when {stale}")


def add_period_option(p: argparse.ArgumentParser, *, current: str, default: str | None = None) -> None:
    """``--period LABEL``, the labels of slamon.core.sla.periods; ``current`` says what
    the label ``current`` stands for in this command. Without a default it is required."""
    p.add_argument(
        "--period", required=default is None, default=default, metavar="LABEL",
        help=f"current ({current}{'; the default' if default else ''}), previous (the one before), "
        "2026-2027 (biennium), 2026 (year), 2026-Q3 (quarter), 2026-11 (month) or rolling-30d",
    )


def add_today_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--today", type=date_arg, default=None, metavar="YYYY-MM-DD",
                   help="date the practice reviews are aged against (default: today, UTC)")


def add_listen_option(p: argparse.ArgumentParser, serves: str, default: str) -> None:
    p.add_argument("--listen", type=listen_arg, default=default, metavar="HOST:PORT",
                   help=f"address of {serves} (default: %(default)s; port 0 picks a free port)")


def add_log_options(p: argparse.ArgumentParser, *, level: str, format: str, logged_by: str = "",
                    lines_of: str = "") -> None:
    """``--log-level`` and ``--log-format``; ``logged_by`` and ``lines_of`` say whose
    log lines they set when that is not the command itself."""
    by = f" by {logged_by}" if logged_by else ""
    of = f" of {lines_of}" if lines_of else ""
    p.add_argument("--log-level", choices=LEVELS, default=level,
                   help=f"least severe level logged{by} (default: %(default)s)")
    p.add_argument("--log-format", choices=FORMATS, default=format,
                   help=f"log lines{of} as logfmt (key=value) or one JSON object each (default: %(default)s)")


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


def period_label(text: str, now: dt.datetime) -> str:
    """``--period``: the label as ``slamon.core.sla.periods`` reads it; a wrong one is
    a usage mistake (status 2) with a did-you-mean."""
    try:
        return check_label(text, now)
    except PeriodError as exc:
        raise Problem(str(exc), 2) from None


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
