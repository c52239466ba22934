"""``slamon check``, ``slamon schema`` and ``slamon catalogue list`` as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from slamon.cli import main

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "tests" / "data" / "mini_catalogue"
TODAY = "2026-06-01"
EMAIL = "services/unog/unog-email.yaml"


def slamon(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slamon", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def cat(tmp_path: Path) -> Path:
    root = tmp_path / "catalogue"
    shutil.copytree(BASE, root)
    return root


def _edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_check_valid_catalogue_prints_counts_per_office(cat):
    proc = slamon("check", str(cat), "--today", TODAY)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "valid: 2 services in 2 offices" in proc.stdout
    lines = proc.stdout.splitlines()
    assert lines[1].split() == ["office", "pipeline", "production", "deprecated", "retired", "total"]
    assert lines[3].split() == ["unhq", "0", "1", "0", "0", "1"]
    assert lines[-1].split() == ["total", "0", "2", "0", "0", "2"]
    assert "Traceback" not in proc.stderr


def test_check_defaults_to_catalogue_dir_in_cwd(cat, monkeypatch, capsys):
    monkeypatch.chdir(cat.parent)
    assert main(["check", "--today", TODAY]) == 0
    assert capsys.readouterr().out.startswith("catalogue: valid")


def test_check_invalid_exits_1_with_located_lines(cat):
    _edit(cat, EMAIL, "timeout: 5s}", "timout: 5s}")
    _edit(cat, "services/unhq/unhq-identity.yaml", "tier: gold", "tier: platinum")
    proc = slamon("check", str(cat), "--today", TODAY)
    assert proc.returncode == 1
    out = proc.stdout.splitlines()
    assert out == [
        f"{cat}/services/unhq/unhq-identity.yaml:14:7: E205 tier: unknown tier; known: gold, silver (found 'platinum')",
        f"{cat}/{EMAIL}:35:77: E100 probes[1].timout: unknown field 'timout'; did you mean 'timeout'?",
    ]
    assert "invalid: 2 error(s), 0 warning(s)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_warnings_pass_unless_strict(cat):
    _edit(cat, EMAIL, "  evidence: https://git.unog.example/ict/mail-provisioning\n", "")
    assert main(["check", str(cat), "--today", TODAY]) == 0
    assert main(["check", str(cat), "--today", TODAY, "--strict"]) == 1


def test_check_json_output(cat, capsys):
    _edit(cat, EMAIL, "  evidence: https://git.unog.example/ict/mail-provisioning\n", "")
    _edit(cat, EMAIL, "lifecycle: production", "lifecycle: live")
    assert main(["check", str(cat), "--today", TODAY, "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] is False and doc["passed"] is False
    assert doc["errors"] == 1 and doc["offices"] is None
    (diag,) = doc["diagnostics"]
    assert diag["code"] == "E103" and diag["severity"] == "error"
    assert diag["path"] == "lifecycle" and diag["line"] == 14 and diag["column"] == 12
    assert diag["file"] == f"{cat}/{EMAIL}"


def test_check_json_warnings_and_counts(cat, capsys):
    _edit(cat, EMAIL, "  evidence: https://git.unog.example/ict/mail-provisioning\n", "")
    assert main(["check", str(cat), "--today", TODAY, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] is True and doc["warnings"] == 1
    assert doc["diagnostics"][0]["code"] == "W001"
    assert doc["diagnostics"][0]["affects"] == ["(a)(i) automated services"]
    assert doc["offices"]["unog"] == {"pipeline": 0, "production": 1, "deprecated": 0, "retired": 0}


def test_check_missing_directory(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope")]) == 1
    assert f"slamon check: {tmp_path / 'nope'} does not exist" in capsys.readouterr().err
    assert main(["check", "--catalogue", str(tmp_path / "nope")]) == 2
    assert "catalogue directory" in capsys.readouterr().err


IDENTITY = "services/unhq/unhq-identity.yaml"


def test_check_scoped_to_a_file_shows_and_counts_only_its_warnings(cat):
    # a warning in unog's file; unhq's merge request touches only its own file
    _edit(cat, EMAIL, "  evidence: https://git.unog.example/ict/mail-provisioning\n", "")
    whole = slamon("check", str(cat), "--today", TODAY, "--strict")
    assert whole.returncode == 1 and "W001" in whole.stdout
    scoped = slamon("check", str(cat / IDENTITY), "--today", TODAY, "--strict")
    assert scoped.returncode == 0, scoped.stdout + scoped.stderr
    assert "W001" not in scoped.stdout
    assert f"0 warning(s) in scope ({IDENTITY}); 1 warning(s) elsewhere not shown" in scoped.stdout
    # the same by office, and by folder, with --catalogue as every other command takes it
    assert slamon("check", "--catalogue", str(cat), "--office", "unhq", "--today", TODAY, "--strict").returncode == 0
    assert slamon("check", str(cat / "services" / "unhq"), "--today", TODAY, "--strict").returncode == 0
    # unog's own check still fails on its warning, grouped under its office and indicator
    unog = slamon("check", "--catalogue", str(cat), "--office", "unog", "--today", TODAY, "--strict")
    assert unog.returncode == 1
    assert "warnings: unog, keeping services out of (a)(i) automated services (1):" in unog.stdout


def test_check_scoped_still_fails_on_an_error_elsewhere_listed_apart(cat):
    _edit(cat, EMAIL, "lifecycle: production", "lifecycle: live")
    _edit(cat, IDENTITY, "tier: gold", "tier: platinum")
    proc = slamon("check", str(cat / IDENTITY), "--today", TODAY)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert "E205" in lines[0] and IDENTITY in lines[0]  # the scoped file's error first
    assert lines[1].startswith(f"errors outside {IDENTITY}")
    assert "E103" in lines[2] and EMAIL in lines[2]


def test_check_errors_come_before_warnings(cat):
    _edit(cat, EMAIL, "  evidence: https://git.unog.example/ict/mail-provisioning\n", "")
    _edit(cat, IDENTITY, "tier: gold", "tier: platinum")
    proc = slamon("check", str(cat), "--today", TODAY)
    out = proc.stdout.splitlines()
    assert proc.returncode == 1 and "E205" in out[0] and out[1].startswith("warnings: unog")


def test_check_scope_mistakes_are_clear(cat, tmp_path):
    outside = slamon("check", str(tmp_path), "--today", TODAY)
    assert outside.returncode == 2 and "not inside a catalogue directory" in outside.stderr
    city = slamon("check", "--catalogue", str(cat), "--office", "geneva", "--today", TODAY)
    assert city.returncode == 2 and "unknown office 'geneva' (did you mean 'unog'?)" in city.stderr
    for proc in (outside, city):
        assert "Traceback" not in proc.stderr


def test_catalogue_list_table_and_json(cat, capsys):
    assert main(["catalogue", "list", "--catalogue", str(cat), "--today", TODAY]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:5] == ["office", "service", "tier", "lifecycle", "fulfilment"]
    assert out[2].split()[:7] == ["unhq", "unhq-identity", "gold", "production", "partial", "no", "yes"]
    assert out[3].split()[:7] == ["unog", "unog-email", "gold", "production", "automated", "yes", "yes"]

    assert main(["catalogue", "list", "--catalogue", str(cat), "--today", TODAY,
                 "--office", "unhq", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (svc,) = doc["services"]
    assert svc["id"] == "unhq-identity" and svc["automated"] is False
    assert svc["automated_gaps"] == ["fulfilment is partial, not automated"]
    assert svc["iso_aligned"] is True and svc["iso_gaps"] == []


def test_catalogue_list_ages_reviews_against_today(cat, capsys):
    assert main(["catalogue", "list", "--catalogue", str(cat), "--today", "2028-01-01",
                 "--office", "unog", "--format", "json"]) == 0
    (svc,) = json.loads(capsys.readouterr().out)["services"]
    assert svc["iso_aligned"] is False
    assert any("last reviewed" in gap for gap in svc["iso_gaps"])


def test_catalogue_list_refuses_invalid_catalogue_and_unknown_office(cat, capsys):
    assert main(["catalogue", "list", "--catalogue", str(cat), "--office", "unoc"]) == 1
    assert "unknown office 'unoc'" in capsys.readouterr().err
    _edit(cat, EMAIL, "tier: gold", "tier: tin")
    proc = slamon("catalogue", "list", "--catalogue", str(cat))
    assert proc.returncode == 1
    assert "E205" in proc.stderr and "slamon check" in proc.stderr and proc.stdout == ""


def test_schema_check_and_write(tmp_path, capsys):
    out = tmp_path / "schema"
    assert main(["schema", "--out", str(out), "--check"]) == 1
    assert main(["schema", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "indicators.schema.json", "offices.schema.json", "practices.schema.json",
        "service.schema.json", "tiers.schema.json",
    ]
    assert main(["schema", "--out", str(out), "--check"]) == 0
    (out / "tiers.schema.json").write_text("{}\n")
    capsys.readouterr()
    assert main(["schema", "--out", str(out), "--check"]) == 1
    assert "tiers.schema.json: out of date" in capsys.readouterr().err


def test_bad_arguments_exit_2():
    proc = slamon("check", "--format", "xml")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_messages_an_office_can_act_on(cat):
    """A capitalised tier gets one message naming the tiers, not a format rule; a
    service listing some ISO clauses but not every required one is told it will not
    count in (b)."""
    _edit(cat, IDENTITY, "tier: gold", "tier: Gold")
    proc = slamon("check", str(cat), "--today", TODAY)
    tier_lines = [line for line in proc.stdout.splitlines() if f"{IDENTITY}:14:7" in line]
    assert tier_lines == [
        f"{cat}/{IDENTITY}:14:7: E205 tier: unknown tier; known: gold, silver; did you mean 'gold'? "
        "(ids are lowercase) (found 'Gold')"
    ]
    _edit(cat, IDENTITY, "tier: Gold", "tier: gold")
    path = cat / EMAIL
    path.write_text("".join(line for line in path.read_text().splitlines(keepends=True) if '"8.6.1"' not in line))
    proc = slamon("check", str(cat), "--today", TODAY, "--format", "json")
    doc = json.loads(proc.stdout)
    (w007,) = [d for d in doc["diagnostics"] if d["code"] == "W007"]
    assert "missing required clause(s) 8.6.1" in w007["message"]
    assert w007["affects"] == ["(b) ISO-aligned services"] and w007["file"].endswith(EMAIL)
