"""End to end: an outage injected at a target reaches a webhook through the real stack.

The chain under test, all real programs on 127.0.0.1 (see ``tests/stack.py``):

    target server (the test's, health flipped by the test)
      <- slamon run (this worktree, SQLite store in tmp_path)
      <- prometheus (deploy/prometheus/prometheus.yml, 1 s scrape and evaluation,
                     rules written by ``slamon rules`` for the test catalogue)
      -> prometheus-alertmanager (deploy/alertmanager/alertmanager.yml, its routes and
                     inhibitions as shipped, receivers pointed at the test's webhook)
      -> webhook receiver (the test's)

The flow: all healthy (targets up, ``probe_success`` 1, rules evaluated, no alert, no
notification); ``/wiki`` answers 503 -> ``SlamonServiceDown`` for ``unog-wiki``, with the
labels the generator wrote, reaches the office's page receiver and central operations;
``/wiki`` healthy again -> the resolved notification arrives. Then every query of every
dashboard panel (deploy/grafana/dashboards) must return data from that Prometheus.

One deliberate change to the generated rules: ``SlamonServiceDown``'s ``for:`` (the
generator's floor is 2 minutes, for production scrape intervals) is shortened to
``DOWN_FOR`` so the test stays well under two minutes; its expression, labels and
annotations are used as generated.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporters.rules_plan import MIN_DOWN_FOR_SECONDS
from tests.e2e_estate import BROKEN_SERVICE, write_estate
from tests.servers import TestPKI
from tests.stack import (
    ROOT,
    Program,
    TargetServer,
    WebhookReceiver,
    alertmanager_config,
    get_json,
    http_get,
    prometheus_config,
    start_alertmanager,
    start_daemon,
    start_prometheus,
    wait_for,
)
from tests.test_dashboards import LABEL_VALUES, MODELS, _expressions, _substitute

pytestmark = pytest.mark.integration

DOWN_FOR = "5s"
ALERT = "SlamonServiceDown"
# Bounds on a loaded 2-core machine; the flow normally takes a fraction of each.
START_SECONDS = 60
HEALTHY_SECONDS = 40
ALERT_SECONDS = 60
RESOLVE_SECONDS = 60
# Series of the daemon's SLA evaluator and indicators appear after their first runs.
EVALUATOR_GRACE_SECONDS = 60
# Series that exist only once the daemon's SLA evaluator and indicators run.
EVALUATOR_METRICS = re.compile(r"\bslamon_(sla_\w+|indicator_value|breaches_open)\b")


@dataclass
class Stack:
    work: Path
    catalogue: Path
    rules_dir: Path
    target: TargetServer
    webhook: WebhookReceiver
    programs: dict[str, Program] = field(default_factory=dict)
    started_at: float = 0.0  # unix seconds, before Prometheus started
    pending: set[str] | None = None  # evaluator series the daemon does not export (once known)

    @property
    def prometheus(self) -> str:
        return self.programs["prometheus"].base_url

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = at
        answer = get_json(f"{self.prometheus}/api/v1/query", params)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def metrics_text(self) -> str:
        """The daemon's own /metrics, as Prometheus scrapes it."""
        import urllib.request

        with urllib.request.urlopen(f"{self.programs['slamon'].base_url}/metrics", timeout=10) as r:
            return r.read().decode()

    def alerts(self) -> list[dict[str, Any]]:
        return get_json(f"{self.prometheus}/api/v1/alerts")["data"]["alerts"]

    def diagnostics(self) -> str:
        parts = []
        for name, program in self.programs.items():
            state = "running" if program.alive() else f"exited {program.proc.returncode}"
            parts.append(f"----- {name} ({state}) log, last 6000 characters:\n{program.log()[-6000:]}")
        try:
            parts.append(f"----- prometheus /api/v1/alerts:\n{self.alerts()}")
            targets = get_json(f"{self.prometheus}/api/v1/targets")["data"]["activeTargets"]
            parts.append("----- prometheus targets:\n" + "\n".join(
                f"{t['labels'].get('job')} {t['scrapeUrl']} {t['health']} {t.get('lastError', '')}" for t in targets))
        except Exception as exc:
            parts.append(f"----- prometheus did not answer: {exc!r}")
        parts.append(f"----- webhook notifications:\n{self.webhook.notifications()}")
        return "\n".join(parts)

    @contextmanager
    def explained(self) -> Iterator[None]:
        """On failure, print every program's log and Prometheus' alerts (pytest shows them)."""
        try:
            yield
        except BaseException:
            print(self.diagnostics())
            raise


def generate_rules(catalogue: Path, work: Path) -> Path:
    """``slamon rules`` for the test catalogue, then ``SlamonServiceDown``'s ``for:`` shortened."""
    rules_dir, tests_dir = work / "rules", work / "rule-tests"
    done = subprocess.run(
        [sys.executable, "-m", "slamon", "rules", "--catalogue", str(catalogue), "-o", str(rules_dir),
         "--tests-dir", str(tests_dir)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    shortened = 0
    for path in rules_dir.glob("slamon-*.rules.yml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in doc["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == ALERT:
                    assert rule["for"] == f"{MIN_DOWN_FOR_SECONDS // 60}m", rule  # 1 s probes: the floor
                    rule["for"] = DOWN_FOR
                    shortened += 1
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    assert shortened == 3, f"expected one {ALERT} rule per service, changed {shortened}"
    return rules_dir


def generated_labels(rules_dir: Path, office: str, service: str) -> dict[str, str]:
    doc = yaml.safe_load((rules_dir / f"slamon-{office}.rules.yml").read_text(encoding="utf-8"))
    for group in doc["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == ALERT and rule["labels"].get("service") == service:
                return rule["labels"]
    raise AssertionError(f"no {ALERT} rule for {service} in the generated rules")


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    from tests.conftest import require_binary

    require_binary("prometheus")
    require_binary("prometheus-alertmanager", "/usr/bin/prometheus-alertmanager")
    work = tmp_path_factory.mktemp("e2e")
    (work / "pki").mkdir()
    pki = TestPKI(work / "pki")
    target = TargetServer(tls=pki.server_context("valid"))
    webhook = WebhookReceiver()
    s = Stack(work, work / "catalogue", work / "rules", target, webhook)
    try:
        webhook.start()
        write_estate(s.catalogue, target, pki.ca_file)
        s.rules_dir = generate_rules(s.catalogue, work)
        # evaluate SLAs and indicators every few seconds so their panels have data soon
        s.programs["slamon"] = start_daemon(
            s.catalogue, work, ("--sla-eval-interval", "2", "--indicators-interval", "5"),
            timeout_seconds=START_SECONDS,
        )
        am_config = alertmanager_config(work / "alertmanager.yml", webhook.url)
        s.programs["alertmanager"] = start_alertmanager(am_config, work, timeout_seconds=START_SECONDS)
        slamon = s.programs["slamon"].base_url.removeprefix("http://")
        alertmanager = s.programs["alertmanager"].base_url.removeprefix("http://")

        def config(port: int) -> Path:
            return prometheus_config(work / "prometheus.yml", slamon=slamon, alertmanager=alertmanager,
                                     prometheus=f"127.0.0.1:{port}", rules_glob=str(s.rules_dir / "*.rules.yml"))

        s.started_at = time.time()
        s.programs["prometheus"] = start_prometheus(config, work, timeout_seconds=START_SECONDS)
        yield s
    finally:
        for program in reversed(list(s.programs.values())):
            program.stop()
        target.close()
        webhook.close()


# ------------------------------------------------------------------ the outage flow


def _down_alerts(notifications: list[tuple[str, Any]], service: str, status: str) -> list[tuple[str, dict]]:
    return [(path, a) for path, body in notifications for a in body["alerts"]
            if a["labels"].get("alertname") == ALERT and a["labels"].get("service") == service
            and a["status"] == status]


@dataclass
class Outage:
    labels: dict[str, str]  # as generated
    fired: list[tuple[str, dict]]
    resolved: list[tuple[str, dict]]
    others_down: list[tuple[str, dict]]
    before: list[tuple[str, Any]]  # notifications while healthy
    alert_seconds: float
    resolve_seconds: float


def _healthy(s: Stack) -> None:
    def targets_up() -> bool:
        targets = get_json(f"{s.prometheus}/api/v1/targets")["data"]["activeTargets"]
        return len(targets) == 3 and all(t["health"] == "up" for t in targets)

    wait_for(targets_up, HEALTHY_SECONDS, "slamon, prometheus and alertmanager scraped up")

    def all_succeeding() -> bool:
        result = s.query("probe_success")
        return {r["metric"]["service"] for r in result if r["value"][1] == "1"} == {
            "unhq-portal", "unog-wiki", "unog-library"} and len(result) == 3

    wait_for(all_succeeding, HEALTHY_SECONDS, "probe_success == 1 for the three services")
    since = time.time()

    def rules_evaluated() -> bool:
        # groups on the global 1 s interval (the SLA-period recordings run every 5 minutes)
        groups = [g for g in get_json(f"{s.prometheus}/api/v1/rules")["data"]["groups"] if g["interval"] <= 1]
        evaluated = all(
            _instant(g["lastEvaluation"]).timestamp() > since + 1
            for g in groups)
        return bool(groups) and evaluated

    wait_for(rules_evaluated, HEALTHY_SECONDS, "every 1 s rule group evaluated after the targets were up")
    groups = get_json(f"{s.prometheus}/api/v1/rules")["data"]["groups"]
    broken = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r["health"] == "err"]
    assert not broken, f"rules Prometheus could not evaluate: {broken}"
    # Nothing about a service, nothing firing. (A daemon-health rule may be pending for a
    # moment on a loaded machine, e.g. scheduler lag; its ``for:`` of minutes keeps it silent.)
    wait_for(lambda: not _noteworthy(s.alerts()), HEALTHY_SECONDS, "no service alert and nothing firing while all is healthy")


def _noteworthy(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in alerts if "service" in a["labels"] or a["state"] == "firing"]


@pytest.fixture(scope="module")
def outage(stack: Stack) -> Outage:
    s = stack
    office, service, path = BROKEN_SERVICE
    with s.explained():
        _healthy(s)
        hits = s.target.hit_count(path)
        # Quiet: give Alertmanager more than its group_wait to show that nothing is sent.
        time.sleep(2.5)
        assert not _noteworthy(s.alerts()), s.alerts()
        before = s.webhook.notifications()
        assert not before, f"notifications while everything was healthy: {before}"
        assert s.target.hit_count(path) > hits, "slamon is not probing the target"

        s.target.set_healthy(path, False)
        broken_at = time.monotonic()
        wait_for(lambda: _down_alerts(s.webhook.notifications(), service, "firing"), ALERT_SECONDS,
                 f"{ALERT} for {service} at the webhook")
        alert_seconds = time.monotonic() - broken_at
        # Both receivers the shipped routes choose for a page: the office's and central operations'.
        wait_for(lambda: {p for p, _a in _down_alerts(s.webhook.notifications(), service, "firing")}
                 >= {f"/{office}-page", "/central-ops-page"}, ALERT_SECONDS,
                 f"{ALERT} at /{office}-page and /central-ops-page")
        fired = _down_alerts(s.webhook.notifications(), service, "firing")

        s.target.set_healthy(path, True)
        restored_at = time.monotonic()
        resolved = wait_for(lambda: _down_alerts(s.webhook.notifications(), service, "resolved"),
                            RESOLVE_SECONDS, f"the resolved {ALERT} for {service} at the webhook")
        resolve_seconds = time.monotonic() - restored_at
        notifications = s.webhook.notifications()
        others = [(p, a) for p, body in notifications for a in body["alerts"]
                  if a["labels"].get("alertname") == ALERT and a["labels"].get("service") != service]
    print(f"e2e: {ALERT} notified {alert_seconds:.1f} s after the outage began, "
          f"resolved {resolve_seconds:.1f} s after recovery")
    return Outage(generated_labels(s.rules_dir, office, service), fired, resolved, others, before,
                  alert_seconds, resolve_seconds)


def _instant(rfc3339: str) -> dt.datetime:
    """Alertmanager's times to the second (their fractions have 0 to 9 digits)."""
    return dt.datetime.fromisoformat(re.sub(r"\.\d+", "", rfc3339).replace("Z", "+00:00"))


def test_outage_alert_reaches_the_webhook_through_alertmanager_and_resolves(stack, outage):
    office, service, _path = BROKEN_SERVICE
    expected = {"alertname": ALERT, "office": office, "service": service, "severity": "page",
                "owner": f"{office}-ict-e2e", "tier": "silver"}
    assert outage.labels.items() >= {k: v for k, v in expected.items() if k != "alertname"}.items()
    with stack.explained():
        for path, alert in outage.fired + outage.resolved:
            labels = alert["labels"]
            assert labels.items() >= expected.items(), labels
            assert labels.items() >= outage.labels.items(), (labels, outage.labels)
            assert labels["vantage"] == office
            assert alert["annotations"]["runbook_url"].endswith("#slamonservicedown")
            assert path in {f"/{office}-page", "/central-ops-page"}, path
        assert {p for p, _a in outage.fired} >= {f"/{office}-page", "/central-ops-page"}
        assert _instant(outage.resolved[0][1]["endsAt"]) > _instant(outage.fired[0][1]["startsAt"])
        assert not outage.others_down, f"{ALERT} for healthy services: {outage.others_down}"
        assert not outage.before


# ------------------------------------------------------------------ every dashboard panel


def _exported(stack: Stack) -> set[str]:
    """Metric names with at least one sample in the daemon's /metrics now."""
    text = http_get(stack.programs["slamon"].base_url + "/metrics").decode()
    return {m.group(1) for m in re.finditer(r"^([a-zA-Z_:][\w:]*?)(?:_bucket|_count|_sum)?[{ ]", text, re.M)}


def _evaluator_state(stack: Stack) -> set[str]:
    """The evaluator's series (named by any dashboard) the daemon does not export, after a
    short grace; waits for Prometheus to have scraped those it does export. Once per run."""
    if stack.pending is not None:
        return stack.pending
    names = {n for model in MODELS.values() for _p, t in _expressions(model) for n in _metric_names(t["expr"])}
    deadline = time.monotonic() + EVALUATOR_GRACE_SECONDS
    missing = names - _exported(stack)
    while missing and time.monotonic() < deadline:
        time.sleep(0.5)
        missing = names - _exported(stack)
    for name in sorted(names - missing):
        wait_for(lambda name=name: stack.query(f"count({name})"), 30, f"{name} in Prometheus")
    # SLA measures count complete minutes only: the broken service's budget and burn rate,
    # and the (a)(ii) indicator, appear once a whole observed minute has passed
    _office, service, _path = BROKEN_SERVICE
    for expr in (f'slamon_sla_error_budget_remaining_ratio{{service="{service}"}}',
                 f'slamon_sla_burn_rate{{service="{service}"}}',
                 'slamon_indicator_value{indicator="services-meeting-levels"}'):
        wait_for(lambda expr=expr: stack.query(expr), 120, f"{expr} in Prometheus")
    stack.pending = missing
    return missing


def _variable_values(stack: Stack, model: dict, pending: set[str], choices: dict[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for v in model["templating"]["list"]:
        if v["type"] != "query":
            continue
        m = LABEL_VALUES.match(_substitute(v["definition"], values))
        assert m, v["definition"]
        params: dict[str, Any] = {"start": stack.started_at, "end": time.time()}
        if m.group(1):
            params["match[]"] = m.group(1)
        listed = get_json(f"{stack.prometheus}/api/v1/label/{m.group(2)}/values", params)["data"]
        choice = choices[v["name"]]
        if choice == ".*":
            assert v.get("allValue") == ".*", f"{v['name']} has no All"
            assert listed or _metric_names(v["definition"]) & pending, (
                f"{model['uid']}: variable {v['name']} lists nothing")
        else:
            assert choice in listed, f"{model['uid']}: variable {v['name']} lists {listed}, not {choice}"
        values[v["name"]] = choice
    return values


# panels of the daemon dashboard's "Shard leases" row: series a daemon exports only when
# it runs with --shards (tests/test_ha_e2e.py runs daemons that do)
LEASE_ONLY = re.compile(r"\b(slamon_lease_\w+|slamon_duplicate_minutes_total)\b")


def _metric_names(text: str) -> set[str]:
    return {f"slamon_{m}" for m in EVALUATOR_METRICS.findall(text)}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_dashboard_panel_query_returns_data(stack, outage, name):
    model = MODELS[name]
    office, service, _path = BROKEN_SERVICE
    instance = stack.programs["slamon"].base_url.removeprefix("http://")
    today = dt.datetime.now(dt.UTC).date()
    first = today.year if today.year % 2 == 0 else today.year - 1
    choices = {"office": office, "service": service, "vantage": ".*", "instance": instance,
               "biennium": f"{first}-{first + 1}"}
    if name == "slamon-indicators.json":
        choices["office"] = ".*"
    with stack.explained():
        pending = _evaluator_state(stack)
        values = _variable_values(stack, model, pending, choices)
        # range queries step every 2 s from ``start``: align it so ``end`` (now) is a step,
        # or a series that appeared in the last 2 s would be missed
        end = time.time()
        start = end - 2 * math.ceil((end - stack.started_at) / 2)
        empty, waiting, quiet, leases = [], [], [], []
        for p, t in _expressions(model):
            expr = _substitute(t["expr"], values)
            if t["instant"]:
                answer = get_json(f"{stack.prometheus}/api/v1/query", {"query": expr, "time": end})
            else:
                answer = get_json(f"{stack.prometheus}/api/v1/query_range",
                                  {"query": expr, "start": start, "end": end, "step": 2})
            assert answer["status"] == "success", (p["title"], expr, answer)
            if answer["data"]["result"]:
                continue
            line = f"{p['title']} [{t['refId']}]: {' '.join(expr.split())}"
            filtered = re.fullmatch(r"(.*\S)\s*==\s*1\s*", expr, re.S)
            if _metric_names(expr) & pending:
                waiting.append(line)
            elif LEASE_ONLY.search(expr) and "slamon_lease_up" not in stack.metrics_text():
                leases.append(line)  # the shard-lease row: only a daemon run with --shards has it
            elif filtered and stack.query(filtered.group(1), at=end):
                quiet.append(line)  # a filter (e.g. open breaches == 1) with nothing to show now
            else:
                empty.append(line)
        assert not empty, f"{name}: panels without data:\n" + "\n".join(empty)
    if quiet:
        print(f"{name}: filtered panels with nothing to show now (their series exist):\n" + "\n".join(quiet))
    if waiting:
        names = sorted(set().union(*(_metric_names(line) for line in waiting)) & pending)
        pytest.fail(f"{name}: {len(waiting)} panel queries have no data although the SLA evaluator "
                    f"should export {', '.join(names)}:\n" + "\n".join(waiting))
