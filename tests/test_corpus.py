"""Golden corpus: each case under tests/corpus/<case>/ is the mini catalogue
(tests/data/mini_catalogue/) with some files replaced, added or deleted, and
``expected.txt`` holds the exact diagnostic lines it must produce.

A case directory holds:
- files laid out as in a catalogue (they replace or add to the base),
- ``delete.txt`` (optional): catalogue-relative paths to remove from the base,
- ``expected.txt``: ``file:line:column: CODE path: message (found ...)`` lines, with
  the file relative to the catalogue root; lines starting with ``#`` describe the case.

To re-record after a deliberate change of wording: SLAMON_UPDATE_CORPUS=1 pytest
tests/test_corpus.py, then read the diff of every expected.txt before committing.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from slamon.loader import load_catalogue
from slamon.loader.codes import CODES

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
BASE = HERE / "data" / "mini_catalogue"
TODAY = dt.date(2026, 6, 1)
SPECIAL = {"expected.txt", "delete.txt"}
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


def build_case(case: Path, dest: Path) -> Path:
    root = dest / "catalogue"
    shutil.copytree(BASE, root)
    for path in sorted(case.rglob("*")):
        rel = path.relative_to(case)
        if path.is_dir() or str(rel) in SPECIAL:
            continue
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    deletions = case / "delete.txt"
    if deletions.exists():
        for line in deletions.read_text().splitlines():
            if line.strip():
                (root / line.strip()).unlink()
    return root


def diagnostic_lines(root: Path) -> list[str]:
    report = load_catalogue(root, today=TODAY)
    prefix = str(root) + os.sep
    lines = [str(d).removeprefix(prefix) for d in report.diagnostics]
    if report.errors:
        assert report.catalogue is None
    return lines


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 40


def test_the_base_catalogue_is_clean(tmp_path):
    root = tmp_path / "catalogue"
    shutil.copytree(BASE, root)
    report = load_catalogue(root, today=TODAY)
    assert [str(d) for d in report.diagnostics] == []
    assert report.catalogue is not None


@pytest.mark.parametrize("name", CASES)
def test_case(name, tmp_path):
    case = CORPUS / name
    root = build_case(case, tmp_path)
    got = diagnostic_lines(root)
    expected_file = case / "expected.txt"
    comments = []
    if expected_file.exists():
        comments = [ln for ln in expected_file.read_text().splitlines() if ln.startswith("#")]
    if os.environ.get("SLAMON_UPDATE_CORPUS") == "1":
        expected_file.write_text("\n".join([*comments, *got]) + "\n")
    expected = [
        ln for ln in expected_file.read_text().splitlines() if ln.strip() and not ln.startswith("#")
    ]
    assert got == expected
    assert got, "a corpus case must produce at least one diagnostic"
    for line in got:
        code = line.split(": ", 2)[1].split(" ")[0]
        assert code in CODES, f"undocumented code {code}"
