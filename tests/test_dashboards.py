"""Grafana dashboards: generated files, structure, and every panel query against a real Prometheus.

The end-to-end check fills a ``Runtime`` with an hour of realistic probe results for
two services probed from two offices, renders the daemon's OpenMetrics exposition
(``exporters.metrics.SlamonCollector``) every 30 s, and adds the series of the agreed
metric names (METRICS.md, transcribed in ``AGREED``) that the collector does not
produce, computed from the same ``Runtime``. The result is backfilled with
``promtool tsdb create-blocks-from openmetrics`` into a TSDB served by a real
``prometheus``; every panel's queries (template variables set to values that Prometheus
itself lists for them) must return data.

Panels use raw ``slamon_*``/``probe_*`` series only, no recording rules, so this check
needs no rule evaluation (which would only run at wall-clock time, not over the
backfilled past).
"""

from __future__ import annotations

import functools
import json
import os
import random
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

from exporters.dashboards import DS, build_all, render
from exporters.metrics import SlamonCollector
from slamon.core.catalogue import effective_sla
from slamon.core.results import PHASES, ProbeOutcome, ProbeResult, Reason, StepOutcome
from slamon.core.state import State
from slamon.loader import load_catalogue
from slamon.runtime import LeaseStats, Runtime
from tests.conftest import CATALOGUE_DIR, ROOT, require_binary

DASHBOARD_DIR = ROOT / "deploy" / "grafana" / "dashboards"
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
MODELS = build_all()

# ---------------------------------------------------------------- the agreed names (METRICS.md)

PROBE = ("vantage", "office", "service", "probe")
SERVICE = ("vantage", "office", "service")
AGREED: dict[str, tuple[str, tuple[str, ...]]] = {
    "probe_success": ("gauge", PROBE),
    "probe_duration_seconds": ("gauge", PROBE),
    "probe_http_status_code": ("gauge", PROBE),
    "probe_http_duration_seconds": ("gauge", (*PROBE, "phase")),
    "probe_http_ssl": ("gauge", PROBE),
    "probe_ssl_earliest_cert_expiry": ("gauge", PROBE),
    "probe_dns_lookup_time_seconds": ("gauge", PROBE),
    "probe_ip_protocol": ("gauge", PROBE),
    "probe_failed_due_to_regex": ("gauge", PROBE),
    "slamon_probe_results_total": ("counter", PROBE),
    "slamon_probe_failures_total": ("counter", (*PROBE, "reason")),
    "slamon_service_up": ("gauge", SERVICE),
    "slamon_service_state": ("gauge", (*SERVICE, "state")),
    "slamon_sli_events_total": ("counter", (*SERVICE, "objective")),
    "slamon_sli_good_events_total": ("counter", (*SERVICE, "objective")),
    "slamon_service_info": ("gauge", ("office", "service", "tier", "lifecycle", "category", "owner_group")),
    "slamon_sla_objective_ratio": ("gauge", (*SERVICE, "objective")),
    "slamon_sla_measure_ratio": ("gauge", (*SERVICE, "objective")),
    "slamon_sla_error_budget_remaining_ratio": ("gauge", SERVICE),
    "slamon_sla_burn_rate": ("gauge", SERVICE),
    "slamon_sla_period_end_timestamp_seconds": ("gauge", SERVICE),
    "slamon_breaches_open": ("gauge", (*SERVICE, "objective")),
    "slamon_indicator_value": ("gauge", ("office", "indicator")),
    "slamon_indicator_target": ("gauge", ("office", "indicator", "biennium")),
    "slamon_indicator_baseline": ("gauge", ("office", "indicator", "biennium")),
    "slamon_catalogue_load_success": ("gauge", ()),
    "slamon_catalogue_loaded_timestamp_seconds": ("gauge", ()),
    "slamon_catalogue_reloads_total": ("counter", ("result",)),
    "slamon_catalogue_services": ("gauge", ("office", "lifecycle")),
    "slamon_scheduler_lag_seconds": ("histogram", ()),
    "slamon_scheduler_in_flight": ("gauge", ()),
    "slamon_scheduler_probes": ("gauge", ()),
    "slamon_scheduler_runs_total": ("counter", ()),
    "slamon_scheduler_overruns_total": ("counter", ()),
    "slamon_store_queue_length": ("gauge", ()),
    "slamon_store_buffer_capacity": ("gauge", ()),
    "slamon_store_up": ("gauge", ()),
    "slamon_store_written_total": ("counter", ()),
    "slamon_store_dropped_total": ("counter", ()),
    "slamon_store_write_errors_total": ("counter", ()),
    "slamon_build_info": ("gauge", ("version", "python")),
    "slamon_lease_shards_held": ("gauge", ()),
    "slamon_lease_evaluator": ("gauge", ()),
    "slamon_lease_up": ("gauge", ()),
    "slamon_lease_acquired_total": ("counter", ()),
    "slamon_duplicate_minutes_total": ("counter", ()),
}
SCRAPE_ONLY = {"up"}  # added by Prometheus at scrape time, not by the daemon


def _panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in model["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def _query_panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in _panels(model) if p["type"] != "row"]


def _expressions(model: dict[str, Any]):
    for p in _query_panels(model):
        for t in p["targets"]:
            yield p, t


# ---------------------------------------------------------------- generated files


def test_committed_json_equals_generated():
    on_disk = {p.name for p in DASHBOARD_DIR.glob("*.json")}
    assert on_disk == set(MODELS), "deploy/grafana/dashboards holds other files than the generator writes"
    for name, model in MODELS.items():
        text = (DASHBOARD_DIR / name).read_text(encoding="utf-8")
        assert text == render(model), f"{name} is stale: run python -m exporters.dashboards"


def test_check_mode_reports_stale_files(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "exporters.dashboards", "-o", str(tmp_path)]
    assert subprocess.run([*cmd, "--check"], cwd=ROOT, env=env, capture_output=True).returncode == 1
    assert subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True).returncode == 0
    assert subprocess.run([*cmd, "--check"], cwd=ROOT, env=env, capture_output=True).returncode == 0
    (tmp_path / "slamon-office.json").write_text("{}", encoding="utf-8")
    done = subprocess.run([*cmd, "--check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 1 and "slamon-office.json" in done.stderr


# ---------------------------------------------------------------- structure


def test_five_dashboards_with_unique_uids_and_titles():
    uids = [m["uid"] for m in MODELS.values()]
    assert len(set(uids)) == len(uids) == 5
    for name in MODELS:
        json.loads((DASHBOARD_DIR / name).read_text(encoding="utf-8"))  # valid JSON


@pytest.mark.parametrize("name", sorted(MODELS))
def test_panels_are_well_formed(name):
    model = MODELS[name]
    panels = _panels(model)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24, f"{name}: {p['title']} off the grid"
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{name}: {p['title']} overlaps another panel"
                cells.add((x, y))
    for p in _query_panels(model):
        assert p["datasource"] == DS, f"{name}: {p['title']} does not use ${{datasource}}"
        assert p["targets"], f"{name}: {p['title']} has no query"
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs))
        for t in p["targets"]:
            assert t["expr"].strip(), f"{name}: {p['title']} has an empty query"
            assert t["datasource"] == DS
            assert t["expr"].count("(") == t["expr"].count(")"), t["expr"]
        unit = p["fieldConfig"]["defaults"]["unit"]
        assert unit, f"{name}: {p['title']} has no unit"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_variable_is_used_and_queries_the_datasource_variable(name):
    model = MODELS[name]
    variables = model["templating"]["list"]
    assert variables[0]["name"] == "datasource" and variables[0]["query"] == "prometheus"
    used_text = json.dumps([p for p in _query_panels(model)])
    for v in variables:
        if v["type"] == "query":
            assert v["datasource"] == DS
        others = json.dumps([o for o in variables if o is not v])
        pattern = re.compile(r"\$(\{" + v["name"] + r"\}|" + v["name"] + r"\b)")
        assert pattern.search(used_text) or pattern.search(others), f"{name}: variable {v['name']} is not used"
    # every $variable a query mentions is defined (or a Grafana built-in)
    defined = {v["name"] for v in variables} | {"__rate_interval", "__range", "__interval"}
    for _p, t in _expressions(model):
        for ref in re.findall(r"\$\{?(\w+)\}?", t["expr"]):
            assert ref in defined, f"{name}: ${ref} is not a variable"


def test_units_and_thresholds_where_they_matter():
    units = Counter(
        p["fieldConfig"]["defaults"]["unit"] for m in MODELS.values() for p in _query_panels(m)
    )
    for unit in ("percentunit", "s", "dateTimeFromNow", "percent"):
        assert units[unit], f"no panel uses {unit}"
    budget = next(p for p in _query_panels(MODELS["slamon-office.json"]) if p["title"] == "Error budget remaining")
    colours = [s["color"] for s in budget["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    assert colours[0] == "red" and colours[-1] == "green"


METRIC_RE = re.compile(r"\b((?:probe|slamon)_[a-z_]+|up)\b(?!\s*\()")


def test_queries_use_only_the_agreed_metric_names():
    for name, model in MODELS.items():
        texts = [t["expr"] for _p, t in _expressions(model)]
        texts += [v["definition"] for v in model["templating"]["list"] if v["type"] == "query"]
        for text in texts:
            for metric in METRIC_RE.findall(text):
                base = re.sub(r"_(bucket|sum|count)$", "", metric)
                assert metric in AGREED or base in AGREED or metric in SCRAPE_ONLY, (
                    f"{name}: {metric} is not in METRICS.md"
                )


def test_provisioning_files():
    sources = [yaml.safe_load(p.read_text()) for p in sorted((PROVISIONING / "datasources").glob("*.y*ml"))]
    datasources = [d for s in sources for d in s.get("datasources", [])]
    assert [d["type"] for d in datasources] == ["prometheus"], "exactly one Prometheus data source"
    assert sum(bool(d.get("isDefault")) for d in datasources) == 1
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "slamon.yaml").read_text())["providers"]
    assert len(providers) == 1 and providers[0]["type"] == "file" and providers[0]["folder"] == "slamon"
    assert providers[0]["options"]["path"]


# ---------------------------------------------------------------- the backfilled Prometheus

START = 1_793_606_400  # 2026-11-02T08:00:00Z, a Monday
WINDOW_SECONDS = 3600
SCRAPE_SECONDS = 30
JOB = {"job": "slamon", "instance": "slamon-unhq:9730"}
BIENNIUM = "2026-2027"
# per dashboard: the value the check picks for each variable; ".*" = All
CHOICES = {
    "slamon-overview": {},
    "slamon-office": {"office": "unhq", "vantage": ".*"},
    "slamon-service": {"office": "unhq", "service": "unhq-erp", "vantage": ".*"},
    "slamon-indicators": {"biennium": BIENNIUM, "office": ".*"},
    "slamon-daemon": {"instance": JOB["instance"]},
}
MACROS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}


@dataclass(frozen=True)
class Plan:
    """One probe at one vantage, with when it fails and why."""

    vantage: str
    service: str
    probe: str
    kind: str
    interval_seconds: int
    failing: tuple[int, int] | None = None  # minutes into the window
    reason: Reason = Reason.timeout
    cert_days: float = 90.0


PLANS = (
    Plan("unhq", "unhq-erp", "health", "http", 60),
    Plan("unog", "unhq-erp", "health", "http", 60, failing=(20, 32), reason=Reason.timeout),
    Plan("unhq", "unhq-erp", "cert", "tls", 3600, cert_days=45),
    Plan("unhq", "unhq-erp", "transaction", "journey", 300),
    Plan("unog", "unhq-erp", "transaction", "journey", 300, failing=(20, 30), reason=Reason.step_timeout),
    Plan("unhq", "unog-indico", "home", "http", 60),
    Plan("unog", "unog-indico", "home", "http", 60, failing=(45, 61), reason=Reason.status),
    Plan("unog", "unog-indico", "cert", "tls", 3600, cert_days=20),
)


def _outcome(plan: Plan, rng: random.Random, minute: float) -> ProbeOutcome:
    failing = plan.failing is not None and plan.failing[0] <= minute < plan.failing[1]
    expiry = START + plan.cert_days * 86400
    if plan.kind == "tls":
        return ProbeOutcome(True, 0.05 + rng.random() * 0.02, cert_expiry_timestamp=expiry,
                            tls_version="TLSv1.3", ip_protocol=4)
    phases = {"resolve": 0.002, "connect": 0.01 + rng.random() * 0.01, "tls": 0.03,
              "processing": 0.15 + rng.random() * 0.5, "transfer": 0.01}
    if failing and plan.reason is Reason.timeout:
        return ProbeOutcome(False, 10.0, Reason.timeout, None, {"resolve": 0.002}, dns_lookup_seconds=0.002, ip_protocol=4)
    status = 503 if failing and plan.reason is Reason.status else 200
    steps: tuple[StepOutcome, ...] = ()
    if plan.kind == "journey":
        steps = tuple(
            StepOutcome(n, not (failing and i == 2), 12.0 if failing and i == 2 else 0.4, 200,
                        Reason.step_timeout if failing and i == 2 else None)
            for i, n in enumerate(("logon-page", "sign-in", "launchpad"))
        )
    ok = not failing
    return ProbeOutcome(
        ok, sum(phases.values()) + sum(s.duration_seconds for s in steps), None if ok else plan.reason,
        status, phases, cert_expiry_timestamp=expiry, steps=steps, dns_lookup_seconds=0.002,
        http_version="HTTP/1.1", tls_version="TLSv1.3", ip_protocol=4,
    )


@dataclass
class Tally:
    """What the fixture knows beyond ``Runtime``: latency-good events per (vantage, service)."""

    latency_good: Counter = field(default_factory=Counter)
    targets: dict[str, dict[str, float]] = field(default_factory=dict)  # service -> objective -> ratio
    thresholds: dict[str, float] = field(default_factory=dict)  # service -> latency seconds


Sample = tuple[str, dict[str, str], float]


def _service_groups(rt: Runtime):
    groups: dict[tuple[str, str], list] = {}
    for (vantage, service, _probe), rec in rt.observations.probes.items():
        groups.setdefault((vantage, service), []).append(rec)
    return groups


def _probe_label(rt: Runtime, key) -> dict[str, str]:
    vantage, service, probe = key
    return {"vantage": vantage, "office": rt.catalogue.services[service].office, "service": service, "probe": probe}


def _synthesized(rt: Runtime, tally: Tally, now: float) -> dict[str, list[Sample]]:
    """Every agreed series, computed from ``rt`` as the full collector would."""
    cat = rt.catalogue
    out: dict[str, list[Sample]] = {name: [] for name in AGREED}
    for key, rec in rt.observations.probes.items():
        if rec.last is None:
            continue
        lab = _probe_label(rt, key)
        o = rec.last.outcome
        out["probe_success"].append(("probe_success", lab, float(o.success)))
        out["probe_duration_seconds"].append(("probe_duration_seconds", lab, o.duration_seconds))
        if rec.last.kind in ("http", "journey"):
            out["probe_http_status_code"].append(("probe_http_status_code", lab, float(o.status_code or 0)))
            out["probe_http_ssl"].append(("probe_http_ssl", lab, float(bool(o.phases.get("tls")))))
            out["probe_failed_due_to_regex"].append(("probe_failed_due_to_regex", lab, float(o.reason is Reason.body)))
            for phase in PHASES:
                out["probe_http_duration_seconds"].append(
                    ("probe_http_duration_seconds", {**lab, "phase": phase}, o.phases.get(phase, 0.0)))
        if o.cert_expiry_timestamp is not None:
            out["probe_ssl_earliest_cert_expiry"].append(("probe_ssl_earliest_cert_expiry", lab, o.cert_expiry_timestamp))
        if o.dns_lookup_seconds is not None:
            out["probe_dns_lookup_time_seconds"].append(("probe_dns_lookup_time_seconds", lab, o.dns_lookup_seconds))
        if o.ip_protocol is not None:
            out["probe_ip_protocol"].append(("probe_ip_protocol", lab, float(o.ip_protocol)))
        out["slamon_probe_results_total"].append(("slamon_probe_results_total", lab, float(rec.results_total)))
        for reason, n in rec.failures_total.items():
            out["slamon_probe_failures_total"].append(
                ("slamon_probe_failures_total", {**lab, "reason": reason.value}, float(n)))

    period_end = START + 28 * 86400.0  # end of November 2026
    for (vantage, service), recs in _service_groups(rt).items():
        lab = {"vantage": vantage, "office": cat.services[service].office, "service": service}
        state = rt.observations.service_state(vantage, service)
        if state is not State.unknown:
            out["slamon_service_up"].append(("slamon_service_up", lab, float(state is State.up)))
        for s in State:
            out["slamon_service_state"].append(("slamon_service_state", {**lab, "state": s.value}, float(s is state)))
        total = sum(r.in_scope_total for r in recs)
        good = {"availability": sum(r.in_scope_good_total for r in recs),
                "latency": tally.latency_good[(vantage, service)]}
        worst_budget = None
        for objective, target in tally.targets[service].items():
            olab = {**lab, "objective": objective}
            out["slamon_sli_events_total"].append(("slamon_sli_events_total", olab, float(total)))
            out["slamon_sli_good_events_total"].append(("slamon_sli_good_events_total", olab, float(good[objective])))
            measure = good[objective] / total if total else 1.0
            out["slamon_sla_objective_ratio"].append(("slamon_sla_objective_ratio", olab, target))
            out["slamon_sla_measure_ratio"].append(("slamon_sla_measure_ratio", olab, measure))
            out["slamon_breaches_open"].append(("slamon_breaches_open", olab, float(measure < target)))
            budget = 1 - (1 - measure) / (1 - target)
            worst_budget = budget if worst_budget is None else min(worst_budget, budget)
        out["slamon_sla_error_budget_remaining_ratio"].append(("slamon_sla_error_budget_remaining_ratio", lab, worst_budget))
        out["slamon_sla_burn_rate"].append(("slamon_sla_burn_rate", lab, 1 - worst_budget))
        out["slamon_sla_period_end_timestamp_seconds"].append(("slamon_sla_period_end_timestamp_seconds", lab, period_end))

    lifecycles: Counter = Counter()
    for svc in cat.services.values():
        out["slamon_service_info"].append(("slamon_service_info", {
            "office": svc.office, "service": svc.id, "tier": svc.tier or "", "lifecycle": svc.lifecycle.value,
            "category": svc.category, "owner_group": svc.owner.group}, 1.0))
        lifecycles[(svc.office, svc.lifecycle.value)] += 1
    for (office, lifecycle), n in sorted(lifecycles.items()):
        out["slamon_catalogue_services"].append(("slamon_catalogue_services", {"office": office, "lifecycle": lifecycle}, float(n)))

    offices = sorted(cat.offices)
    actual = {"automated-services": 3.0, "services-meeting-levels": 75.0, "iso-aligned-services": 2.0}
    for target_set in cat.indicators.targets:
        for office, per in target_set.offices.items():
            for ind, pair in per.items():
                ilab = {"office": office, "indicator": ind.value, "biennium": target_set.biennium}
                out["slamon_indicator_target"].append(("slamon_indicator_target", ilab, float(pair.target)))
                out["slamon_indicator_baseline"].append(("slamon_indicator_baseline", ilab, float(pair.baseline)))
    for ind, value in actual.items():
        for i, office in enumerate(offices):
            out["slamon_indicator_value"].append(("slamon_indicator_value", {"office": office, "indicator": ind}, value + i))
        total = sum(actual[ind] + i for i in range(len(offices)))
        out["slamon_indicator_value"].append((
            "slamon_indicator_value", {"office": "all", "indicator": ind},
            total / len(offices) if ind == "services-meeting-levels" else total))

    cs, sched, store = rt.catalogue_stats, rt.scheduler, rt.store
    out["slamon_catalogue_load_success"].append(("slamon_catalogue_load_success", {}, float(cs.load_success)))
    out["slamon_catalogue_loaded_timestamp_seconds"].append(("slamon_catalogue_loaded_timestamp_seconds", {}, cs.loaded_timestamp_seconds))
    for result in ("success", "failure"):
        out["slamon_catalogue_reloads_total"].append(("slamon_catalogue_reloads_total", {"result": result}, float(cs.reloads_total[result])))
    cumulative = 0
    for bound, n in zip((*sched.lag_buckets, float("inf")), sched.lag_bucket_counts, strict=True):
        cumulative += n
        out["slamon_scheduler_lag_seconds"].append(("slamon_scheduler_lag_seconds_bucket", {"le": floatToGoString(bound)}, float(cumulative)))
    out["slamon_scheduler_lag_seconds"] += [
        ("slamon_scheduler_lag_seconds_count", {}, float(sched.lag_seconds_count)),
        ("slamon_scheduler_lag_seconds_sum", {}, sched.lag_seconds_sum),
    ]
    for name, value in (
        ("slamon_scheduler_in_flight", sched.in_flight), ("slamon_scheduler_probes", sched.scheduled_probes),
        ("slamon_scheduler_runs_total", sched.runs_total), ("slamon_scheduler_overruns_total", sched.overruns_total),
        ("slamon_store_queue_length", store.queue_length), ("slamon_store_buffer_capacity", store.buffer_capacity),
        ("slamon_store_up", store.available), ("slamon_store_written_total", store.written_total),
        ("slamon_store_dropped_total", store.dropped_total), ("slamon_store_write_errors_total", store.write_errors_total),
    ):
        out[name].append((name, {}, float(value)))
    out["slamon_build_info"].append(("slamon_build_info", {"version": "0.0.0", "python": "3"}, 1.0))
    return out


def _agreed_name(family_name: str, family_type: str) -> str:
    return {"counter": f"{family_name}_total", "info": f"{family_name}_info"}.get(family_type, family_name)


class Series:
    """Samples by family (type, help) and by series, in time order."""

    def __init__(self) -> None:
        self.families: dict[str, tuple[str, str]] = {}
        self.samples: dict[str, dict[tuple[str, tuple], list[tuple[float, float]]]] = {}

    def add(self, family: str, kind: str, help_text: str, name: str, labels: dict[str, str], t: float, value: float) -> None:
        self.families.setdefault(family, (kind, help_text))
        key = (name, tuple(sorted({**labels, **JOB}.items())))
        self.samples.setdefault(family, {}).setdefault(key, []).append((t, value))

    def openmetrics(self) -> str:
        def esc(v: str) -> str:
            return v.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")

        lines = []
        for family in sorted(self.families):
            kind, help_text = self.families[family]
            lines += [f"# TYPE {family} {kind}", f"# HELP {family} {esc(help_text)}"]
            for (name, labels), points in sorted(self.samples[family].items()):
                text = ",".join(f'{k}="{esc(v)}"' for k, v in labels)
                lines += [f"{name}{{{text}}} {floatToGoString(v)} {t:.3f}" for t, v in points]
        return "\n".join([*lines, "# EOF", ""])


@functools.cache
def build_fixture() -> tuple[str, set[str], set[str]]:
    """OpenMetrics text with timestamps; names from the collector; names synthesized."""
    report = load_catalogue(CATALOGUE_DIR)
    assert report.catalogue is not None, report.diagnostics
    cat = report.catalogue
    rt = Runtime(catalogue=cat, vantages=("unhq", "unog"), started_timestamp_seconds=START - 7200)
    rt.catalogue_stats.load_success = True
    rt.catalogue_stats.loaded_timestamp_seconds = START - 3600
    rt.catalogue_stats.reloads_total.update({"success": 3, "failure": 1})
    rt.scheduler.scheduled_probes = len(PLANS)
    rt.store.buffer_capacity = 10_000
    rt.leases = LeaseStats(shards=8, held=frozenset(range(4)), evaluator=True, connected=True, daemons=2,
                           acquired_total=8)
    tally = Tally()
    for svc_id in {p.service for p in PLANS}:
        svc = cat.services[svc_id]
        sla = effective_sla(svc, cat.tiers[svc.tier])
        tally.targets[svc_id] = {"availability": sla.availability / 100}
        if sla.latency is not None:
            tally.targets[svc_id]["latency"] = sla.latency.percent / 100
            tally.thresholds[svc_id] = float(sla.latency.threshold)
    rng = random.Random(20261102)
    registry = CollectorRegistry()
    registry.register(SlamonCollector(rt))
    series = Series()
    from_collector: set[str] = set()
    synthesized: set[str] = set()
    next_run = {p: START + rng.random() * min(p.interval_seconds, 60) for p in PLANS}
    for scrape in range(WINDOW_SECONDS // SCRAPE_SECONDS + 1):
        now = START + scrape * SCRAPE_SECONDS
        for plan in PLANS:
            while next_run[plan] <= now:
                at = next_run[plan]
                next_run[plan] += plan.interval_seconds
                outcome = _outcome(plan, rng, (at - START) / 60)
                result = ProbeResult(plan.vantage, plan.service, plan.probe, plan.kind, at, outcome)
                rt.observations.record(result, in_scope=True)
                fast = outcome.duration_seconds <= tally.thresholds.get(plan.service, float("inf"))
                tally.latency_good[(plan.vantage, plan.service)] += int(outcome.success and fast)
                rt.scheduler.runs_total += 1
                rt.scheduler.observe_lag(rng.choice((0.0004, 0.002, 0.008, 0.03, 0.2)))
                rt.store.written_total += 1
        rt.scheduler.in_flight = rng.randint(0, 3)
        rt.scheduler.overruns_total += int(scrape % 40 == 39)
        rt.store.write_errors_total += int(scrape == 90)
        rt.store.queue_length = rng.randint(0, 50)
        rt.store.last_flush_timestamp_seconds = now

        produced: set[str] = set()
        text = generate_latest(registry).decode()
        for fam in text_string_to_metric_families(text):
            samples = [s for s in fam.samples if not s.name.endswith("_created")]
            if not samples:
                continue
            agreed = _agreed_name(fam.name, fam.type)
            produced.add(agreed)
            for s in samples:
                series.add(fam.name, fam.type, fam.documentation, s.name, s.labels, now, s.value)
        from_collector |= produced
        for name, samples in _synthesized(rt, tally, now).items():
            if name in produced or not samples:
                continue
            synthesized.add(name)
            kind, _labels = AGREED[name]
            family = name.removesuffix("_total") if kind == "counter" else name
            for sample_name, labels, value in samples:
                series.add(family, kind, f"{name} (test fixture)", sample_name, labels, now, value)
    series.add("up", "gauge", "scrape health", "up", {}, START, 1.0)
    for scrape in range(1, WINDOW_SECONDS // SCRAPE_SECONDS + 1):
        series.add("up", "gauge", "scrape health", "up", {}, START + scrape * SCRAPE_SECONDS, 1.0)
    return series.openmetrics(), from_collector, synthesized


def test_fixture_covers_every_agreed_name():
    text, from_collector, synthesized = build_fixture()
    assert {"probe_success", "slamon_catalogue_load_success"} <= from_collector
    assert from_collector | synthesized >= set(AGREED), set(AGREED) - from_collector - synthesized
    assert "# EOF" in text and f" {START + WINDOW_SECONDS}.000\n" in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, params: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}?{urllib.parse.urlencode(params, doseq=True)}", timeout=timeout) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    promtool = require_binary("promtool")
    binary = require_binary("prometheus")
    work = tmp_path_factory.mktemp("prometheus")
    text, _collected, _synth = build_fixture()
    (work / "fixture.om").write_text(text, encoding="utf-8")
    data = work / "data"
    done = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(work / "fixture.om"), str(data)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    (work / "prometheus.yml").write_text("global:\n  scrape_interval: 15s\n", encoding="utf-8")
    for attempt in range(3):  # another test may take the free port before Prometheus binds it
        port = _free_port()
        log_path = work / f"prometheus-{attempt}.log"
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                [binary, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={data}",
                 "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{port}",
                 "--log.level=warn"],
                stdout=subprocess.DEVNULL, stderr=log,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            if _wait_ready(proc, base, log_path):
                yield base
                return
        finally:
            _stop(proc)
    pytest.fail("prometheus could not bind a free port in 3 attempts")


def _wait_ready(proc: subprocess.Popen, base: str, log_path) -> bool:
    """True once Prometheus answers /-/ready; False if it exits because its port was taken."""
    deadline = time.monotonic() + 30
    while proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{base}/-/ready", timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        assert time.monotonic() < deadline, "prometheus did not become ready in 30 s"
        time.sleep(0.2)
    log = log_path.read_text()
    assert "address already in use" in log, log
    return False


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


LABEL_VALUES = re.compile(r"^label_values\((?:(.+),\s*)?(\w+)\)$")


def _substitute(text: str, values: dict[str, str]) -> str:
    def one(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name in MACROS:
            return MACROS[name]
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", one, text)


def _variable_values(base: str, model: dict[str, Any]) -> dict[str, str]:
    """Ask Prometheus for each variable's values, as Grafana does, and pick the planned one."""
    choices = CHOICES[model["uid"]]
    values: dict[str, str] = {}
    for v in model["templating"]["list"]:
        if v["type"] != "query":
            continue
        m = LABEL_VALUES.match(_substitute(v["definition"], values))
        assert m, v["definition"]
        params: dict[str, Any] = {"start": START, "end": START + WINDOW_SECONDS}
        if m.group(1):
            params["match[]"] = m.group(1)
        answer = _get(f"{base}/api/v1/label/{m.group(2)}/values", params)["data"]
        choice = choices[v["name"]]
        if choice == ".*":
            assert v.get("allValue") == ".*", f"{v['name']} has no All"
            assert answer, f"{model['uid']}: variable {v['name']} lists nothing"
        else:
            assert choice in answer, f"{model['uid']}: variable {v['name']} lists {answer}, not {choice}"
        values[v["name"]] = choice
    return values


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_panel_query_returns_data(prometheus, name):
    model = MODELS[name]
    values = _variable_values(prometheus, model)
    end = START + WINDOW_SECONDS
    empty = []
    for p, t in _expressions(model):
        expr = _substitute(t["expr"], values)
        if t["instant"]:
            answer = _get(f"{prometheus}/api/v1/query", {"query": expr, "time": end})
        else:
            answer = _get(f"{prometheus}/api/v1/query_range",
                          {"query": expr, "start": START + 600, "end": end, "step": 60})
        assert answer["status"] == "success", (p["title"], expr, answer)
        if not answer["data"]["result"]:
            empty.append(f"{p['title']} [{t['refId']}]: {expr}")
        for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", t["legendFormat"]):
            for series in answer["data"]["result"]:
                assert label in series["metric"], f"{name}: {p['title']}: legend {{{{{label}}}}} not in {series['metric']}"
    assert not empty, f"{name}: panels without data:\n" + "\n".join(empty)


@pytest.mark.integration
def test_panels_show_the_outage_and_the_open_breach(prometheus):
    """Figures, not only presence: the overview sees the down service and its breach."""
    overview = {p["title"]: p for p in _query_panels(MODELS["slamon-overview.json"])}
    end = START + WINDOW_SECONDS

    def instant(title: str) -> dict[str, float]:
        expr = _substitute(overview[title]["targets"][0]["expr"], {})
        result = _get(f"{prometheus}/api/v1/query", {"query": expr, "time": end})["data"]["result"]
        return {r["metric"].get("office", ""): float(r["value"][1]) for r in result}

    assert instant("Services down") == {"unhq": 0.0, "unog": 1.0}
    assert instant("Services up") == {"unhq": 1.0, "unog": 0.0}
    assert instant("Services with an open breach")["unog"] == 1.0
