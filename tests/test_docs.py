"""The documentation says what the code does: every `slamon` command shown in a code
block of README.md, docs/*.md and deploy/README.md parses with the real command line,
the ones that are safe offline run (against a copy of the bundled catalogue and a store
with a backfilled history) and exit as documented, and every repository path a
document names exists."""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from slamon.cli import build_parser
from slamon.demo.backfill import backfill
from slamon.demo.profiles import assign_profiles
from slamon.loader import load_catalogue
from slamon.store import Store

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "deploy" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PLACEHOLDER = re.compile(r"<[^>]+>|\.\.\.|\bSERVICE_ID\b|\[|\]|\|")


def _commands() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
            lines = block.replace("\\\n", " ").splitlines()
            for line in lines:
                command = line.split(" # ")[0].strip().removeprefix("$ ")
                if command.startswith("slamon "):
                    found.append((str(doc.relative_to(ROOT)), command))
    return found


COMMANDS = _commands()
# a synopsis with placeholders (<service>, SERVICE_ID, [--flag], a|b) is not a command line
CONCRETE = [(d, c) for d, c in COMMANDS if not PLACEHOLDER.search(c)]


def test_the_docs_show_commands():
    assert len(COMMANDS) >= 25  # the scan works (a broken regex would find none)


@pytest.mark.parametrize(("doc", "command"), CONCRETE, ids=[f"{d}: {c[:60]}" for d, c in CONCRETE])
def test_every_documented_command_parses(doc, command):
    argv = shlex.split(command.split(" > ")[0])[1:]
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"{doc}: `{command}` is refused by the command line (exit {exc.code})")


# the offline commands, run for real: (pattern of the documented command, exit status)
RUNNABLE = [
    (r"^slamon check( --format json| --office unog| catalogue/services/unog/unog-citrix\.yaml| catalogue/)?$", 0),
    (r"^slamon sla ", 0),
    (r"^slamon report --period 2012-2013 .*--format (csv|html|md)", 0),
    (r"^slamon exclude --list", 0),
    (r"^slamon exclude unog-email --from 2026-05-09T20:00Z --to 2026-05-10T02:00Z", 0),
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A copy of the bundled catalogue (as `catalogue/`, with DESIGN.md's example service
    unog-email added) and `var/slamon.db` with a short
    backfilled history, in a directory the documented commands run from."""
    work = tmp_path_factory.mktemp("docs")
    shutil.copytree(ROOT / "catalogue", work / "catalogue")
    # the docs' running example is DESIGN.md's unog-email; the bundled catalogue has none
    shutil.copy(ROOT / "tests" / "data" / "design_example_service.yaml",
                work / "catalogue" / "services" / "unog" / "unog-email.yaml")
    catalogue = load_catalogue(work / "catalogue").catalogue
    assert catalogue is not None
    (work / "var").mkdir()
    store = Store.open(f"sqlite:///{work / 'var' / 'slamon.db'}")
    backfill(store, catalogue, assign_profiles(catalogue, seed=1), today=dt.date(2026, 11, 29), seed=1,
             start=dt.date(2026, 10, 1), full_days=3, coarse_every_days=30, breach_months=1)
    store.close()
    return work


def _runnable() -> list[tuple[str, str, int]]:
    out = []
    for doc, command in COMMANDS:
        for pattern, status in RUNNABLE:
            if re.search(pattern, command) and not PLACEHOLDER.search(command):
                out.append((doc, command, status))
                break
    return out


RUNS = _runnable()


def test_some_documented_commands_run():
    assert len(RUNS) >= 10


@pytest.mark.parametrize(("doc", "command", "status"), RUNS, ids=[f"{d}: {c[:60]}" for d, c, _ in RUNS])
def test_documented_command_runs(workdir, doc, command, status):
    argv = shlex.split(command.split(" > ")[0])[1:]
    if "-o" in argv:  # write into the work directory, not the repository
        i = argv.index("-o")
        argv[i + 1] = str(workdir / Path(argv[i + 1]).name)
    argv = [a if a != "path/to/catalogue" else "catalogue" for a in argv]
    if argv[0] in ("sla", "report"):
        argv += ["--at", "2026-11-29T12:00Z"]
    proc = subprocess.run(
        [sys.executable, "-m", "slamon", *argv], cwd=workdir, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == status, f"{doc}: `{command}` exited {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"


# `repository/paths` in backticks or links: they must exist
PATH_REF = re.compile(r"(?<![\w/.-])((?:slamon|exporters|deploy|docs|tests|benchmarks|catalogue)/[\w./<>*-]*[\w/])")


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_every_repository_path_a_document_names_exists(doc):
    missing = []
    base = doc.parent
    for ref in sorted(set(PATH_REF.findall(doc.read_text(encoding="utf-8")))):
        if any(c in ref for c in "<>*") or "example" in ref or ref == "slamon/v1" \
                or ref.startswith("catalogue/services/"):  # apiVersion; illustrative service files
            continue  # patterns and example files of an office's own
        candidates = [ROOT / ref, base / ref]
        if not any(p.exists() for p in candidates):
            missing.append(ref)
    assert not missing, f"{doc.relative_to(ROOT)} names paths that do not exist: {missing}"
