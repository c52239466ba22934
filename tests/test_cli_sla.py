"""``slamon sla`` on a real SQLite store filled through the store's own writer path."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from slamon.cli import main
from slamon.store import Store
from tests.conftest import DATA_DIR
from tests.store_support import result, utc

CATALOGUE = DATA_DIR / "mini_catalogue"
AT = "2026-11-02T12:00Z"


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/slamon.db"
    store = Store.open(url)
    start = utc(2026, 11, 2, 10, 0).timestamp()
    store.write_results(
        [
            result(start + 60 * i + 5, success=i not in (7, 8, 9), service="unhq-identity", vantage="unhq", probe="sso")
            for i in range(60)
        ],
        lambda sid: (1.0, None),
    )
    store.close()
    return url


def sla(*args: str) -> list[str]:
    return ["sla", *args, "--catalogue", str(CATALOGUE), "--at", AT]


def test_json_for_one_service(db, capsys):
    assert main(sla("unhq-identity", "--period", "2026-11", "--db", db, "--format", "json")) == 0
    doc = json.loads(capsys.readouterr().out)
    (svc,) = doc["services"]
    assert svc["service"] == "unhq-identity" and svc["period"] == "2026-11"
    assert svc["met"] is False  # 57/60 < 99.5 % from unhq
    by_vantage = {v["vantage"]: v for v in svc["vantages"]}
    assert set(by_vantage) == {"unhq", "unog"}
    unhq = by_vantage["unhq"]
    assert unhq["seconds"]["observed"] == 3600
    assert unhq["seconds"]["good"] == 57 * 60
    # New York: November starts 04:00Z; to 12:00Z on the 2nd is 32 hours, all 24x7
    assert unhq["seconds"]["eligible"] == 32 * 3600
    assert unhq["seconds"]["unobserved"] == 31 * 3600
    assert unhq["objectives"]["availability"]["actual_ratio"] == pytest.approx(0.95)
    assert unhq["objectives"]["availability"]["target_ratio"] == 0.995
    assert unhq["objectives"]["availability"]["met"] is False
    assert unhq["error_budget"]["budget_seconds"] == pytest.approx(0.005 * 3600)
    assert unhq["error_budget"]["burn_rate"] == pytest.approx(180 / 18)
    assert by_vantage["unog"]["seconds"]["observed"] == 0


def test_text_for_an_office(db, capsys):
    assert main(sla("--office", "unhq", "--period", "2026-11", "--db", db)) == 0
    out = capsys.readouterr().out
    assert "unhq-identity" in out and "unog-email" not in out
    assert "vantage unhq: NOT MET" in out
    assert "observed 1h 00m  good 57m  bad 3m" in out
    assert "availability" in out and "95.000 %" in out
    assert "burn rate 10.00" in out
    assert "vantage unog: UNKNOWN" in out


def test_current_period_is_the_default(db, capsys):
    assert main(sla("unhq-identity", "--db", db, "--format", "json")) == 0
    assert json.loads(capsys.readouterr().out)["services"][0]["period"] == "2026-11"


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["unhq-identty", "--period", "2026-11"], 1, "did you mean 'unhq-identity'"),
        (["--office", "unogg", "--period", "2026-11"], 1, "unknown office 'unogg'"),
        (["unhq-identity", "--period", "2026-13"], 2, "unknown period"),
        (["unhq-identity", "--period", "2027-2028"], 2, "even year"),
        ([], 2, "give a SERVICE_ID or --office"),
    ],
)
def test_user_mistakes(db, capsys, args, status, message):
    assert main(sla(*args, "--db", db)) == status
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_or_unreachable_store(tmp_path, capsys):
    assert main(sla("unhq-identity", "--db", f"sqlite:///{tmp_path}/nothing.db")) == 1
    assert "no store at" in capsys.readouterr().err
    assert not (tmp_path / "nothing.db").exists()
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+psycopg://slamon:secret@127.0.0.1:{port}/none"
    assert main(sla("unhq-identity", "--db", url)) == 1
    err = capsys.readouterr().err
    assert "cannot open the store" in err and "secret" not in err
