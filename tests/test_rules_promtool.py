"""Generated rules and their generated unit tests, run through the real ``promtool``."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from exporters.rules import RuleOptions
from slamon.cli.rules import generated_files
from slamon.loader import load_catalogue
from tests.conftest import require_binary

ROOT = Path(__file__).resolve().parents[1]
TEST_CATALOGUE = ROOT / "tests" / "data" / "rules_catalogue"

pytestmark = pytest.mark.integration


@pytest.fixture
def generated(tmp_path) -> Path:
    catalogue = load_catalogue(TEST_CATALOGUE).catalogue
    assert catalogue is not None
    prom = tmp_path / "prometheus"
    generated_files(catalogue, prom / "rules", prom / "tests", RuleOptions()).write()
    return prom


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [require_binary("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_promtool_accepts_the_generated_rules(generated):
    files = sorted(str(p) for p in (generated / "rules").glob("*.rules.yml"))
    done = _promtool("check", "rules", *files, cwd=generated)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(files)


def test_generated_promtool_tests_pass(generated):
    tests = sorted(str(p.relative_to(generated)) for p in (generated / "tests").glob("*.test.yml"))
    assert len(tests) >= 9
    done = _promtool("test", "rules", *tests, cwd=generated)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(tests)


def _mutate(path: Path, pattern: str, replacement: str) -> None:
    text = path.read_text(encoding="utf-8")
    changed, count = re.subn(pattern, replacement, text)
    assert count, f"{pattern!r} not found in {path.name}"
    path.write_text(changed, encoding="utf-8")


@pytest.mark.parametrize(
    ("test_file", "pattern", "replacement"),
    [
        # a fast-burn page that never fires
        ("slamon-burn-fast.test.yml", r"(ratio_rate(?:1h|6h)\{[^}]*\} > )[0-9.e-]+", r"\g<1>0.99"),
        # a slow burn that pages as well
        ("slamon-burn-slow.test.yml", r"(ratio_rate(?:30m|6h)\{[^}]*\} > )[0-9.e-]+", r"\g<1>0.00001"),
        # a service-down alert that ignores maintenance
        ("slamon-maintenance.test.yml", r"\n\s*and on \(vantage, office, service\)\n\s*\(sum by[^\n]*\n", "\n"),
        # a service-down alert that waits too long
        ("slamon-service-down.test.yml", r"(alert: SlamonServiceDown\n(?:.*\n){4}\s+for: )\w+", r"\g<1>1h"),
        # a division that yields NaN instead of nothing without traffic
        ("slamon-no-traffic.test.yml", r"\) > 0\)\n", ") >= 0)\n"),
    ],
)
def test_a_broken_rule_fails_its_generated_test(generated, test_file, pattern, replacement):
    """The generated tests can fail: break one rule the way a careless edit would."""
    test_doc = (generated / "tests" / test_file).read_text(encoding="utf-8")
    rule_file = re.search(r"rules/(slamon-\w+\.rules\.yml)", test_doc).group(1)
    _mutate(generated / "rules" / rule_file, pattern, replacement)
    done = _promtool("test", "rules", f"tests/{test_file}", cwd=generated)
    assert done.returncode != 0, done.stdout
    assert "FAILED" in done.stdout + done.stderr


@pytest.mark.slow
def test_committed_promtool_tests_pass():
    """The files generated for the bundled catalogue (deploy/prometheus) pass as well."""
    prom = ROOT / "deploy" / "prometheus"
    tests = sorted(str(p.relative_to(prom)) for p in (prom / "tests").glob("*.test.yml"))
    if not tests:
        pytest.skip("no rules generated for the bundled catalogue yet")
    done = _promtool("test", "rules", *tests, cwd=prom)
    assert done.returncode == 0, done.stdout + done.stderr
