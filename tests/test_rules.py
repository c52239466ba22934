"""The rule generator: maths, labels, determinism and the ``slamon rules`` command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from exporters import rules as R
from exporters.burn_rates import MAX_ERROR_RATIO, PAGE_PAIRS, PAIRS, TICKET_PAIRS
from exporters.rules_plan import plans_by_office
from exporters.rules_tests import build_test_documents, slow_burn_ratio
from slamon.core.model import Period
from slamon.loader import load_catalogue

ROOT = Path(__file__).resolve().parents[1]
TEST_CATALOGUE = ROOT / "tests" / "data" / "rules_catalogue"
ALERT_LABELS = {"office", "service", "tier", "severity", "owner"}


@pytest.fixture(scope="module")
def catalogue():
    report = load_catalogue(TEST_CATALOGUE)
    assert report.catalogue is not None, [str(d) for d in report.errors]
    return report.catalogue


@pytest.fixture(scope="module")
def documents(catalogue):
    return R.build_rule_documents(catalogue)


def _rules(documents, file_name=None):
    for name, doc in documents.items():
        if file_name in (None, name):
            for group in doc["groups"]:
                for rule in group["rules"]:
                    yield group["name"], rule


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "slamon", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


# --------------------------------------------------------------------------- maths


def test_workbook_factors_for_thirty_days():
    assert [p.factor(30) for p in PAIRS] == [14.4, 6.0, 3.0, 1.0]
    assert [(p.long, p.short) for p in PAIRS] == [("1h", "5m"), ("6h", "30m"), ("1d", "2h"), ("3d", "6h")]


def test_factors_scale_with_the_period_length():
    assert [p.factor(90) for p in PAIRS] == [43.2, 18.0, 9.0, 3.0]
    # thresholds are factor x budget, each spending the same share of the period's budget
    assert PAGE_PAIRS[0].threshold(30, 0.001) == pytest.approx(0.0144)
    assert TICKET_PAIRS[1].threshold(365, 0.01) == pytest.approx(365 / 30 * 0.01)


def test_unreachable_thresholds_are_capped_so_a_hard_outage_still_alerts():
    # a year at 99 %: 175x over 1 h would need 175 % of events to fail
    assert PAGE_PAIRS[0].factor(365) * 0.01 > 1
    assert PAGE_PAIRS[0].threshold(365, 0.01) == MAX_ERROR_RATIO < 1


def test_slow_burn_lies_between_ticket_and_page_thresholds():
    from exporters.rules_plan import Objective

    class P:  # the two fields slow_burn_ratio reads
        objectives = (Objective("availability", 99.8),)
        period_days = 30

    ratio = slow_burn_ratio(P)  # about 1 % errors against a 99.8 % objective
    assert 0.006 < ratio < 0.012
    assert ratio == pytest.approx(0.0085, abs=1e-4)


# --------------------------------------------------------------------------- content


def test_one_file_per_office_and_a_daemon_health_file(documents):
    assert list(documents) == [
        "slamon-daemon-health.rules.yml",
        "slamon-unhq.rules.yml",
        "slamon-unog.rules.yml",
        "slamon-unon.rules.yml",
        "slamon-unov.rules.yml",
    ]


def test_retired_and_unprobed_services_get_no_rules(documents):
    groups = {g["name"] for doc in documents.values() for g in doc["groups"]}
    assert "slamon-unog-email" in groups and "slamon-unhq-erp" in groups
    assert "slamon-unhq-old-portal" not in groups  # retired
    assert "slamon-unog-wiki" not in groups  # no probes


def test_recording_rules_use_sloth_names_and_labels(documents):
    records = [r for _g, r in _rules(documents, "slamon-unog.rules.yml") if "record" in r]
    email = [r for r in records if r["labels"].get("sloth_service") == "unog-email"]
    names = {r["record"] for r in email}
    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"):
        assert f"slo:sli_error:ratio_rate{window}" in names
    assert {
        "slo:objective:ratio", "slo:error_budget:ratio", "slo:time_period:days",
        "slo:current_burn_rate:ratio", "slo:period_burn_rate:ratio",
        "slo:period_error_budget_remaining:ratio", "sloth_slo_info",
    } <= names
    ids = {r["labels"]["sloth_id"] for r in email}
    assert ids == {"unog-email-availability", "unog-email-latency"}
    objective = next(r for r in email if r["record"] == "slo:objective:ratio"
                     and r["labels"]["sloth_slo"] == "latency")
    assert objective["expr"] == "vector(0.95)"  # the service's own latency percent
    ratio = next(r for r in email if r["record"] == "slo:sli_error:ratio_rate1h")
    assert "slamon_sli_events_total" in ratio["expr"] and "slamon_sli_good_events_total" in ratio["expr"]
    assert "by (vantage, office, service)" in ratio["expr"]
    assert ratio["expr"].rstrip().endswith("> 0)")  # no traffic: no series, never NaN


def test_period_window_follows_the_sla_period(documents):
    days = {
        r["labels"]["sloth_service"]: r["expr"]
        for _g, r in _rules(documents) if r.get("record") == "slo:time_period:days"
    }
    assert days["unhq-erp"] == "vector(90)"  # quarter
    assert days["unhq-finance"] == "vector(365)"  # year
    assert days["unon-campus-network"] == "vector(730)"  # biennium
    assert days["unov-conference"] == "vector(30)"  # rolling 30d


def test_every_alert_carries_routing_labels_and_a_runbook(documents):
    runbooks = (ROOT / "docs" / "runbooks.md").read_text(encoding="utf-8")
    anchors = {h.strip().lower() for h in re.findall(r"^## (\w+)\s*$", runbooks, re.M)}
    seen = set()
    for name, rule in _rules(documents):
        if "alert" not in rule:
            continue
        seen.add(rule["alert"])
        labels = rule["labels"]
        assert labels["severity"] in {"page", "ticket", "info"}
        if name != "slamon-daemon-health":
            assert ALERT_LABELS <= set(labels), (name, rule["alert"])
        else:
            assert {"severity", "owner", "component"} <= set(labels)
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"])
        anchor = rule["annotations"]["runbook_url"].split("#", 1)[1]
        assert anchor == rule["alert"].lower() and anchor in anchors, anchor
    assert {R.BURN_FAST, R.BURN_SLOW, R.SERVICE_DOWN, R.CERT_EXPIRING, R.BUDGET_CONSUMED,
            R.SLA_BREACHED, R.SERVICE_METRICS_ABSENT, R.METRICS_ABSENT, R.DAEMON_DOWN} <= seen


def test_only_production_services_page(documents):
    severities = {
        (r["labels"]["service"], r["alert"]): r["labels"]["severity"]
        for _g, r in _rules(documents) if r.get("alert") in (R.BURN_FAST, R.SERVICE_DOWN)
    }
    assert severities[("unog-email", R.SERVICE_DOWN)] == "page"
    assert severities[("unog-email", R.BURN_FAST)] == "page"
    assert severities[("unog-intranet-next", R.SERVICE_DOWN)] == "ticket"  # pipeline
    assert severities[("unog-intranet-next", R.BURN_FAST)] == "ticket"


def test_service_down_for_and_cert_thresholds_come_from_the_probes(documents):
    rules = {(r["labels"]["service"], r["alert"]): r for _g, r in _rules(documents) if "alert" in r
             and "service" in r["labels"]}
    assert rules[("unog-email", R.SERVICE_DOWN)]["for"] == "2m"  # 60 s probes
    assert rules[("unhq-erp", R.SERVICE_DOWN)]["for"] == "10m"  # a 5 m journey only
    cert = rules[("unog-email", R.CERT_EXPIRING)]["expr"]
    assert 'probe=~"cert|login|webmail"' in cert and "< 21 * 86400" in cert  # tls min_days_left
    finance = rules[("unhq-finance", R.CERT_EXPIRING)]["expr"]
    assert "< 30 * 86400" in finance
    assert ("unon-campus-network", R.CERT_EXPIRING) not in rules  # no TLS anywhere


def test_catalogue_text_cannot_inject_template_code(catalogue):
    svc = catalogue.services["unog-library"]
    evil = svc.model_copy(update={"name": "Library {{ printf \"x\" }}"})
    from exporters.rules_plan import plan_service

    group = R.service_group(plan_service(catalogue, evil), R.RuleOptions())
    text = yaml.safe_dump(group)
    assert "{{ printf" not in text and "{ { printf" in text


def test_generation_is_deterministic(catalogue):
    from exporters.generated_files import dump_yaml

    first = {n: dump_yaml(d) for n, d in R.build_rule_documents(catalogue).items()}
    second = {n: dump_yaml(d) for n, d in R.build_rule_documents(catalogue).items()}
    assert first == second
    for text in first.values():
        assert yaml.safe_load(text)["groups"] is not None


def test_test_files_exercise_every_office(catalogue, documents):
    paths = {name: f"../rules/{name}" for name in documents}
    tests = build_test_documents(catalogue, paths)
    loaded = {f for doc in tests.values() for f in doc["rule_files"]}
    assert loaded == set(paths.values())
    assert {"slamon-burn-fast.test.yml", "slamon-burn-slow.test.yml", "slamon-healthy.test.yml",
            "slamon-no-traffic.test.yml", "slamon-maintenance.test.yml",
            "slamon-service-down.test.yml", "slamon-cert-expiry.test.yml",
            "slamon-metrics-absent.test.yml", "slamon-daemon-health.test.yml"} <= set(tests)


# --------------------------------------------------------------------------- command


def test_cli_writes_then_check_passes_and_detects_stale_files(tmp_path):
    rules_dir = tmp_path / "prometheus" / "rules"
    done = _run("rules", "--catalogue", str(TEST_CATALOGUE), "-o", str(rules_dir))
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in rules_dir.iterdir())
    assert "slamon-unog.rules.yml" in written
    tests_dir = tmp_path / "prometheus" / "tests"
    assert (tests_dir / "slamon-burn-fast.test.yml").exists()

    check = ("rules", "--catalogue", str(TEST_CATALOGUE), "-o", str(rules_dir), "--check")
    assert _run(*check).returncode == 0

    target = rules_dir / "slamon-unog.rules.yml"
    target.write_text(target.read_text() + "# edited\n")
    stale = _run(*check)
    assert stale.returncode == 1 and "slamon-unog.rules.yml: out of date" in stale.stderr

    assert _run("rules", "--catalogue", str(TEST_CATALOGUE), "-o", str(rules_dir)).returncode == 0
    (rules_dir / "slamon-gone.rules.yml").write_text("groups: []\n")
    (tests_dir / "slamon-burn-slow.test.yml").unlink()
    stale = _run(*check)
    assert stale.returncode == 1
    assert "slamon-gone.rules.yml: no longer generated" in stale.stderr
    assert "slamon-burn-slow.test.yml: missing" in stale.stderr


def test_cli_refuses_an_invalid_catalogue_without_a_traceback(tmp_path):
    (tmp_path / "offices.yaml").write_text("apiVersion: slamon/v1\nkind: Offices\noffices: 3\n")
    done = _run("rules", "--catalogue", str(tmp_path), "-o", str(tmp_path / "out"))
    assert done.returncode == 1
    assert "invalid" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_committed_rules_match_the_bundled_catalogue():
    catalogue = ROOT / "catalogue"
    if not (catalogue / "offices.yaml").exists():
        pytest.skip("no bundled catalogue yet")
    done = _run("rules", "--catalogue", str(catalogue), "--check")
    assert done.returncode == 0, done.stderr


def test_plans_cover_every_office_even_without_services(catalogue):
    plans = plans_by_office(catalogue)
    assert list(plans) == sorted(catalogue.offices)
    assert all(p.period in Period for office in plans.values() for p in office)
