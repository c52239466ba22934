"""``slamon store seal`` on a real SQLite store: seals the closed periods of an older
store, resumes and repeats without change, shows progress on a terminal only, and
``slamon report`` gives the same figures before and after."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from slamon.store import Store
from tests.conftest import DATA_DIR
from tests.store_support import result, utc

ROOT = Path(__file__).resolve().parents[1]
AT = "2014-02-01T00:00Z"


@pytest.fixture
def estate(tmp_path: Path) -> tuple[Path, str]:
    catalogue = tmp_path / "catalogue"
    shutil.copytree(DATA_DIR / "mini_catalogue", catalogue)
    url = f"sqlite:///{tmp_path}/slamon.db"
    store = Store.open(url)
    start = utc(2013, 4, 1, 3, 30).timestamp()  # bad minutes 03:55-04:10Z: over the New York month end
    store.write_results(
        [
            result(start + 60 * i + 5, success=i not in range(25, 40), service="unhq-identity", vantage="unhq", probe="sso")
            for i in range(60)
        ],
        lambda sid: (1.0, None),
    )
    store.close()
    return catalogue, url


def _slamon(*args: str, stderr=subprocess.PIPE) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "slamon", *args], capture_output=stderr is subprocess.PIPE,
        stderr=None if stderr is subprocess.PIPE else stderr, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip


def test_seal_then_again_and_the_report_is_unchanged(estate):
    catalogue, url = estate
    common = ["--catalogue", str(catalogue), "--db", url, "--at", AT]
    before = _slamon("report", "--period", "2012-2013", "--format", "json", *common)
    assert before.returncode == 0, before.stderr

    first = _slamon("store", "seal", *common)
    assert first.returncode == 0, first.stderr
    # from the start of the biennium of the first data: identity (New York months) from
    # unhq and unog, 2012-01 .. 2013-12 (January ends at 05:00Z on 1 February: still open);
    # email (Geneva months) from unog, 2012-01 .. 2014-01 (closed at 23:00Z, an hour ago)
    assert "73 period(s) sealed" in first.stderr
    assert "\r" not in first.stderr and "sealing" not in first.stderr  # no progress bar off a terminal

    store = Store.open(url)
    try:
        found = store.sealed_periods(utc(2011, 12, 1), utc(2014, 3, 1), ["unhq-identity"], full=True)
    finally:
        store.close()
    periods = {sp.period.label: sp for sp in found[("unhq-identity", "unhq")]}
    assert len(periods) == 24 and "2014-01" not in periods
    march, april = periods["2013-03"], periods["2013-04"]  # New York: the month ends at 04:00Z
    assert march.parts[0].runs and april.parts[0].runs
    assert march.parts[0].run_at_end and april.parts[0].run_at_start  # one run over the boundary
    assert march.met is False

    again = _slamon("store", "seal", *common)
    assert again.returncode == 0 and "0 period(s) sealed" in again.stderr

    after = _slamon("report", "--period", "2012-2013", "--format", "json", *common)
    assert after.returncode == 0, after.stderr
    doc_before, doc_after = json.loads(before.stdout), json.loads(after.stdout)
    assert doc_before["sealed_note"] == "" and "never recomputed" in doc_after["sealed_note"]
    identity = next(s for o in doc_after["offices"] for s in o["services"] if s["id"] == "unhq-identity")
    listed = {p["vantage"]: p for p in identity["sealed_periods"]}
    assert set(listed) == {"unhq", "unog"}
    assert (listed["unhq"]["first"], listed["unhq"]["last"], listed["unhq"]["count"]) == ("2012-01", "2013-12", 24)
    assert listed["unhq"]["not_met"] == ["2013-03", "2013-04"]  # the bad minutes on each side of the month end
    assert listed["unhq"]["sealed_from"] == listed["unhq"]["sealed_to"] == "2014-02-01T00:00:00Z"
    md = _slamon("report", "--period", "2012-2013", "--format", "md", *common).stdout
    assert "Closed periods read as sealed (never recomputed): from unhq, 2012-01 to 2013-12 (24, sealed" in md
    assert "not met: 2013-03, 2013-04" in md
    for doc in (doc_before, doc_after):
        for office in doc["offices"]:
            for svc in office["services"]:
                svc.pop("sealed_periods", None)
        doc.pop("sealed_note", None)
    assert doc_after == doc_before


def test_progress_is_shown_on_a_terminal(estate):
    catalogue, url = estate
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal 100 columns wide
    try:
        ran = _slamon("store", "seal", "--catalogue", str(catalogue), "--db", url, "--at", AT, stderr=child)
        os.close(child)
        child = -1
        chunks = []
        while True:
            try:
                data = os.read(main, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(main)
        if child >= 0:
            os.close(child)
    shown = b"".join(chunks).decode(errors="replace")
    assert ran.returncode == 0
    assert "sealing closed periods" in shown and "service" in shown


def test_bad_input_is_a_clear_error(estate, tmp_path):
    catalogue, _url = estate
    ran = _slamon("store", "seal", "--catalogue", str(catalogue), "--db", f"sqlite:///{tmp_path}/none.db")
    assert ran.returncode == 1 and "no store at" in ran.stderr and "Traceback" not in ran.stderr
