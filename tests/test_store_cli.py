"""``slamon exclude``: record and list exclusions; clear errors for people."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from slamon.cli import main
from slamon.store import Store
from tests import store_support
from tests.store_support import example_service, utc

# fixtures
sqlite_url = store_support.sqlite_url

ROOT = Path(__file__).resolve().parents[1]


class Ran:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def slamon(capsys):
    """Run ``slamon exclude ...`` in this process (a subprocess per call is slow here)."""

    def run(*args: str) -> Ran:
        code = main(["exclude", *args])
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


def slamon_process(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "slamon", "exclude", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def seeded(url: str) -> None:
    store = Store.open(url)
    store.record_catalogue([example_service()], at=utc(2026, 1, 1))
    store.close()


def test_record_and_list(slamon, sqlite_url, tmp_path):
    seeded(sqlite_url)
    common = ("--db", sqlite_url, "--catalogue", str(tmp_path / "none"))
    done = slamon(
        "unog-email", "--from", "2026-05-09T22:00+02:00", "--to", "2026-05-10T02:00",
        "--reason", "data centre power works", "--approver", "Chief, UNOG ICT", *common,
    )
    assert done.returncode == 0, done.stderr
    assert "2026-05-09 20:00 to 2026-05-10 02:00 (6 h)" in done.stdout
    slamon("unog-email", "--from", "2026-06-01", "--to", "2026-06-02", "--reason", "r", "--approver", "a",
           "--vantage", "unhq", *common)

    listed = slamon("--list", *common)
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:3] == ["ID", "SERVICE", "VANTAGE"] and len(lines) == 3
    assert "data centre power works" in lines[1] and " all " in lines[1] and " unhq " in lines[2]

    data = json.loads(slamon("--list", "unog-email", "--format", "json", *common).stdout)
    assert [d["vantage"] for d in data] == [None, "unhq"]
    assert data[0]["from"] == "2026-05-09T20:00:00+00:00" and data[0]["approver"] == "Chief, UNOG ICT"
    assert "no exclusions recorded for unog-wiki" in slamon("--list", "unog-wiki", *common).stdout


def test_mistakes_get_clear_messages(slamon, sqlite_url, tmp_path):
    seeded(sqlite_url)
    common = ("--db", sqlite_url, "--catalogue", str(tmp_path / "none"), "--reason", "r", "--approver", "a")
    backwards = slamon("unog-email", "--from", "2026-05-10", "--to", "2026-05-09", *common)
    assert backwards.returncode == 2
    assert "--to (2026-05-09 00:00) must be after --from (2026-05-10 00:00)" in backwards.stderr
    bad = slamon("unog-email", "--from", "yesterday", "--to", "2026-05-09", *common)
    assert bad.returncode == 2 and "--from 'yesterday' is not an ISO 8601 time" in bad.stderr
    unknown = slamon("unog-emial", "--from", "2026-05-09", "--to", "2026-05-10", *common)
    assert unknown.returncode == 1 and "unknown service 'unog-emial'" in unknown.stderr
    assert "did you mean 'unog-email'" in unknown.stderr
    down = slamon_process(
        "unog-email", "--from", "2026-05-09", "--to", "2026-05-10", "--reason", "r", "--approver", "a",
        "--db", "postgresql+psycopg://slamon:topsecret@127.0.0.1:1/slamon",
    )
    assert down.returncode == 1 and "cannot open the store at" in down.stderr
    assert "topsecret" not in down.stderr and "Traceback" not in down.stderr
    for p in (backwards, bad, unknown, down):
        assert "Traceback" not in p.stderr
    assert Store.open(sqlite_url).exclusions() == []  # nothing was recorded by mistake


def test_checks_against_the_catalogue(slamon, sqlite_url):
    from slamon.loader import load_catalogue
    from tests.conftest import CATALOGUE_DIR

    if not (CATALOGUE_DIR / "offices.yaml").is_file():
        pytest.skip("this checkout has no catalogue/ yet")
    report = load_catalogue(CATALOGUE_DIR)
    assert report.catalogue is not None, [str(d) for d in report.errors][:5]
    service = sorted(report.catalogue.services)[0]
    common = ("--db", sqlite_url, "--catalogue", str(CATALOGUE_DIR), "--reason", "r", "--approver", "a",
              "--from", "2026-05-09", "--to", "2026-05-10")
    ok = slamon(service, *common)
    assert ok.returncode == 0 and f"recorded exclusion 1: {service}" in ok.stdout
    office = slamon(service, "--vantage", "mars", *common)
    assert office.returncode == 1 and "unknown office 'mars'" in office.stderr
    unknown = slamon("zzzz-nothing", *common)
    assert unknown.returncode == 1 and f"not in the catalogue at {CATALOGUE_DIR}" in unknown.stderr
