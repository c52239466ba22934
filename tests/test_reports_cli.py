"""``slamon report`` on a real SQLite store and a catalogue written to tmp_path: every
format, to stdout and to a file, and the user's mistakes with their exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from exporters.reports.tables import INDICATOR_COLUMNS
from slamon.cli import main
from slamon.store import Store
from tests.conftest import DATA_DIR
from tests.store_support import result, utc

ROOT = Path(__file__).resolve().parents[1]
AT = "2014-02-01T00:00Z"

INDICATORS = """\
apiVersion: slamon/v1
kind: Indicators
indicators:
  - {id: automated-services, code: "(a)(i)", title: Automated services, unit: count}
  - {id: services-meeting-levels, code: "(a)(ii)", title: Services meeting their service levels, unit: percent}
  - {id: iso-aligned-services, code: "(b)", title: ISO-aligned services, unit: count}
targets:
  - biennium: 2012-2013
    offices:
      unhq:
        automated-services: {baseline: 0, target: 1}
        services-meeting-levels: {baseline: 50, target: 100}
        iso-aligned-services: {baseline: 0, target: 1}
      unog:
        automated-services: {baseline: 0, target: 1}
        services-meeting-levels: {baseline: 50, target: 100}
        iso-aligned-services: {baseline: 0, target: 1}
"""


@pytest.fixture(scope="module")
def estate(tmp_path_factory) -> tuple[Path, str]:
    base = tmp_path_factory.mktemp("report-cli")
    catalogue = base / "catalogue"
    shutil.copytree(DATA_DIR / "mini_catalogue", catalogue)
    (catalogue / "indicators.yaml").write_text(INDICATORS)
    url = f"sqlite:///{base}/slamon.db"
    store = Store.open(url)
    start = utc(2013, 3, 4, 10, 0).timestamp()
    store.write_results(
        [
            result(start + 60 * i + 5, success=i not in (7, 8, 9), service="unhq-identity", vantage="unhq", probe="sso")
            for i in range(60)
        ],
        lambda sid: (1.0, None),
    )
    store.open_breach("unhq-identity", "unhq", "availability", "2013-03", utc(2013, 3, 4, 10, 8), 0.95, 99.5)
    store.close()
    return catalogue, url


def report(estate, *args: str) -> list[str]:
    catalogue, url = estate
    return ["report", *args, "--catalogue", str(catalogue), "--db", url, "--at", AT]


def test_every_format_to_stdout(estate, capsys):
    assert main(report(estate, "--period", "2012-2013", "--format", "json")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["period"] == "2012-2013" and doc["previous_period"] == "2010-2011"
    assert doc["counts_from"] == "catalogue"  # the store recorded no catalogue revision
    assert [o["office"] for o in doc["offices"]] == ["unhq", "unog"] and doc["total"]["office"] == "all"
    unhq = doc["offices"][0]
    meeting = next(i for i in unhq["indicators"] if i["indicator"] == "services-meeting-levels")
    assert meeting["actual"] == 0.0  # identity: 57 of 60 good minutes < 99.5 % (its sso unobserved from unog too)
    (svc,) = unhq["services"]
    assert svc["id"] == "unhq-identity" and svc["breaches"][0]["period"] == "2013-03"

    assert main(report(estate, "--period", "2012-2013", "--format", "md")) == 0
    md = capsys.readouterr().out
    assert "| Office | Baseline | Target | Actual | 2010-2011 | Change | Target met |" in md
    assert "use the catalogue as it is now" in md

    assert main(report(estate, "--period", "2012-2013", "--format", "csv")) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0]) == INDICATOR_COLUMNS and len(rows) == 9

    assert main(report(estate, "--period", "2013-Q1", "--format", "csv", "--table", "sla")) == 0
    sla = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {(r["service"], r["vantage"]) for r in sla} == {("unhq-identity", "unhq"), ("unhq-identity", "unog"),
                                                          ("unog-email", "unog")}


def test_html_to_a_file_for_one_office(estate, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(report(estate, "--period", "2013", "--office", "unhq", "--format", "html", "-o", str(out))) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"wrote {out}" in captured.err
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "Indicators of achievement, year 2013" in html
    assert "Identity and single sign-on" in html and "Total, all offices" not in html


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--period", "2013-13"], 2, "unknown period '2013-13'"),
        (["--period", "2013-2014"], 2, "a biennium is two calendar years starting in an even year"),
        (["--period", "2013", "--office", "unhx"], 1, "unknown office 'unhx' (did you mean 'unhq'?)"),
        (["--period", "2013", "--format", "md", "--table", "sla"], 2, "--table applies to --format csv only"),
    ],
)
def test_mistakes(estate, capsys, args, status, message):
    assert main(report(estate, *args)) == status
    err = capsys.readouterr().err
    assert err.startswith("slamon report: ") and message in err
    assert "Traceback" not in err


def test_missing_or_unreachable_store(estate, tmp_path, capsys):
    catalogue, _ = estate
    base = ["report", "--period", "2013", "--catalogue", str(catalogue), "--at", AT]
    assert main([*base, "--db", f"sqlite:///{tmp_path}/none.db"]) == 1
    assert "no store at" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main([*base, "--db", f"postgresql+psycopg://slamon:secret@127.0.0.1:{port}/slamon"]) == 1
    err = capsys.readouterr().err
    assert "cannot open the store at" in err and "secret" not in err


def test_unwritable_output(estate, tmp_path, capsys):
    assert main(report(estate, "--period", "2013", "-o", str(tmp_path / "nowhere" / "r.html"))) == 1
    err = capsys.readouterr().err
    assert "cannot write" in err and "does not exist" in err
    assert main(report(estate, "--period", "2013", "-o", str(tmp_path))) == 1
    assert "is a directory" in capsys.readouterr().err
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert main(report(estate, "--period", "2013", "-o", str(locked / "r.html"))) == 1
        assert "permission denied" in capsys.readouterr().err


def test_the_command_line_entry_point(estate):
    catalogue, url = estate
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run(
        [sys.executable, "-m", "slamon", "report", "--period", "2012-2013", "--format", "json",
         "--catalogue", str(catalogue), "--db", url, "--at", AT],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["schema"] == "slamon-report/v2"
    bad = subprocess.run(
        [sys.executable, "-m", "slamon", "report", "--period", "someday", "--catalogue", str(catalogue), "--db", url],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert bad.returncode == 2 and "unknown period 'someday'" in bad.stderr and bad.stdout == ""
