"""/metrics: series, labels and values from a Runtime filled with real ProbeResults;
promtool's lint; OpenMetrics; the cached renderer against prometheus_client's own."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

import exporters.metrics
from exporters.exposition import (
    ExpositionRegistry,
    go_float,
    metrics_renderer,
    render,
    render_async,
)
from exporters.metrics import SlamonCollector
from slamon.core.catalogue import Catalogue
from slamon.core.indicators import SlaVerdicts, compute_indicators
from slamon.core.results import ProbeOutcome, ProbeResult, Reason, StepOutcome
from slamon.runtime import ObjectiveSnapshot, Runtime, SlaSnapshot
from tests.conftest import require_binary
from tests.exporters_estate import catalogue, service

T0 = 1_780_000_000.0
LEAKY = "https://erp.unhq.example/login?user=probe failed: Connection refused by 10.0.0.1:443 \"quoted\"\n"
OPENMETRICS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)  # what Prometheus sends


def result(vantage, sid, pid, kind, at, **outcome) -> ProbeResult:
    outcome.setdefault("success", True)
    outcome.setdefault("duration_seconds", 0.25)
    return ProbeResult(vantage, sid, pid, kind, at, ProbeOutcome(**outcome))


def fill(rt: Runtime) -> None:
    obs = rt.observations
    for task in rt.catalogue.probe_tasks():
        obs.configure(task.key, task.probe.failure_threshold, task.probe.success_threshold)
    phases = {"resolve": 0.002, "connect": 0.004, "tls": 0.03, "processing": 0.1, "transfer": 0.001}
    # a journey that succeeds from unhq, with TLS and steps
    obs.record(result("unhq", "unhq-erp", "login", "journey", T0, status_code=200, phases=phases,
                      cert_expiry_timestamp=T0 + 30 * 86400, tls_version="TLSv1.3", ip_protocol=4, http_version="HTTP/1.1",
                      steps=(StepOutcome("open", True, 0.2, 200), StepOutcome("sign-in", True, 0.5, 302))),
               in_scope=True, fast=True)
    # ... and fails a step from unog, twice (down), with a detail full of URL and error text
    for i in range(2):
        obs.record(result("unog", "unhq-erp", "login", "journey", T0 + i, success=False, duration_seconds=12.5,
                          reason=Reason.step_timeout, status_code=200, detail=LEAKY, tls_version="TLSv1.3",
                          steps=(StepOutcome("open", True, 0.3, 200),
                                 StepOutcome("sign-in", False, 12.2, None, Reason.step_timeout))),
                   in_scope=True, fast=False)
    # unon never reported (unknown)
    # tcp refused twice, the second outside service hours
    obs.record(result("unog", "unog-email", "smtp", "tcp", T0, success=False, reason=Reason.refused, detail=LEAKY, ip_protocol=6))
    obs.record(result("unog", "unog-email", "smtp", "tcp", T0 + 60, success=False, reason=Reason.refused, detail=LEAKY), in_scope=False)
    obs.record(result("unog", "unog-email", "cert", "tls", T0, cert_expiry_timestamp=T0 + 10 * 86400, tls_version="TLSv1.2"))
    # http: one success, one body failure; plain http (no TLS)
    obs.record(result("unhq", "unhq-identity", "web", "http", T0, status_code=200, phases=phases), fast=True)
    obs.record(result("unhq", "unhq-identity", "web", "http", T0 + 60, success=False, status_code=200,
                      reason=Reason.body, phases=phases, detail=LEAKY), fast=False)
    obs.record(result("unon", "unon-dns", "resolve", "dns", T0, dns_lookup_seconds=0.004, duration_seconds=0.005))
    # icmp: 3 of 4 echo requests answered
    obs.record(result("unov", "unov-network", "ping", "icmp", T0, phases={"resolve": 0.001}, ip_protocol=6,
                      packets_sent=4, packets_received=3, rtt_seconds=0.0025))
    rt.sla[("unhq", "unhq-erp")] = SlaSnapshot(
        "unhq", "unhq-erp", "unhq", T0 + 86400,
        (ObjectiveSnapshot("availability", 0.999, 0.9995), ObjectiveSnapshot("latency", 0.95)),
        error_budget_remaining_ratio=0.4, burn_rate=1.5, open_breaches=frozenset({"latency", "steps"}),
    )
    rt.indicators = compute_indicators(
        rt.catalogue.services.values(), SlaVerdicts.simple({"unog-email": {"unog": True}}),
        rt.catalogue.practices, rt.catalogue.indicators,
        period_end=dt.date(2026, 11, 30), today=dt.date(2026, 11, 29), offices=sorted(rt.catalogue.offices),
    )
    rt.catalogue_stats.load_success = True
    rt.catalogue_stats.loaded_timestamp_seconds = T0
    rt.catalogue_stats.reloads_total["success"] += 2
    rt.catalogue_stats.reloads_total["failure"] += 1
    for lag in (0.0005, 0.02, 0.02, 7.0):
        rt.scheduler.observe_lag(lag)
    rt.scheduler.in_flight, rt.scheduler.scheduled_probes, rt.scheduler.runs_total = 3, 15, 100
    rt.store.queue_length, rt.store.buffer_capacity, rt.store.dropped_total = 12, 1000, 4


@pytest.fixture
def runtime() -> Runtime:
    rt = Runtime(catalogue=catalogue())
    fill(rt)
    return rt


@pytest.fixture
def registry(runtime) -> CollectorRegistry:
    reg = ExpositionRegistry()
    reg.register(SlamonCollector(runtime))
    return reg


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, f"duplicate series {key}"
            out[key] = s.value
    return out


def get(series, name, **labels):
    return series.get((name, frozenset(labels.items())))


def test_probe_series_are_blackbox_compatible(registry):
    body, ctype = render(registry, "text/plain")
    assert ctype == "text/plain; version=0.0.4; charset=utf-8"
    s = samples(body.decode())
    erp = dict(office="unhq", service="unhq-erp", probe="login")
    assert get(s, "probe_success", vantage="unhq", **erp) == 1
    assert get(s, "probe_success", vantage="unog", **erp) == 0
    assert get(s, "probe_success", vantage="unon", **erp) is None  # no result yet
    assert get(s, "probe_duration_seconds", vantage="unog", **erp) == 12.5
    assert get(s, "probe_http_status_code", vantage="unhq", **erp) == 200
    assert get(s, "probe_http_duration_seconds", vantage="unhq", phase="tls", **erp) == 0.03
    assert get(s, "probe_http_duration_seconds", vantage="unog", phase="connect", **erp) == 0.0
    assert get(s, "probe_http_ssl", vantage="unhq", **erp) == 1
    assert get(s, "probe_ssl_earliest_cert_expiry", vantage="unhq", **erp) == T0 + 30 * 86400
    assert get(s, "probe_ip_protocol", vantage="unhq", **erp) == 4
    assert get(s, "probe_http_version", vantage="unhq", **erp) == 1.1
    assert get(s, "probe_tls_version_info", vantage="unhq", version="TLS 1.3", **erp) == 1
    assert get(s, "probe_dns_lookup_time_seconds", vantage="unhq", **erp) == 0.002  # resolve phase
    assert get(s, "slamon_journey_step_duration_seconds", vantage="unog", step="sign-in", **erp) == 12.2
    assert get(s, "slamon_journey_step_success", vantage="unog", step="sign-in", **erp) == 0
    assert get(s, "slamon_journey_step_success", vantage="unog", step="open", **erp) == 1
    assert get(s, "slamon_probe_failures_total", vantage="unog", reason="step_timeout", **erp) == 2
    assert get(s, "slamon_probe_results_total", vantage="unon", **erp) == 0

    idw = dict(vantage="unhq", office="unhq", service="unhq-identity", probe="web")
    assert get(s, "probe_failed_due_to_regex", **idw) == 1
    assert get(s, "probe_http_ssl", **idw) == 0
    assert get(s, "slamon_probe_results_total", **idw) == 2
    assert get(s, "slamon_probe_failures_total", reason="body", **idw) == 1

    smtp = dict(vantage="unog", office="unog", service="unog-email", probe="smtp")
    assert get(s, "slamon_probe_failures_total", reason="refused", **smtp) == 2
    assert get(s, "probe_ip_protocol", **smtp) is None  # the last result did not say
    assert get(s, "probe_failed_due_to_regex", **smtp) == 0
    assert get(s, "probe_http_status_code", **smtp) is None  # not an HTTP probe
    cert = dict(vantage="unog", office="unog", service="unog-email", probe="cert")
    assert get(s, "probe_ssl_earliest_cert_expiry", **cert) == T0 + 10 * 86400
    assert get(s, "probe_tls_version_info", version="TLS 1.2", **cert) == 1
    dns = dict(vantage="unon", office="unon", service="unon-dns", probe="resolve")
    assert get(s, "probe_dns_lookup_time_seconds", **dns) == 0.004
    ping = dict(vantage="unov", office="unov", service="unov-network", probe="ping")
    assert get(s, "probe_icmp_duration_seconds", phase="rtt", **ping) == 0.0025
    assert get(s, "probe_icmp_duration_seconds", phase="resolve", **ping) == 0.001
    assert get(s, "slamon_probe_icmp_packet_loss_ratio", **ping) == 0.25  # 1 of 4 lost
    assert get(s, "probe_ip_protocol", **ping) == 6
    assert get(s, "slamon_probe_icmp_packet_loss_ratio", **smtp) is None  # not an icmp probe


def test_service_state_and_sli_counters(registry):
    s = samples(render(registry, "")[0].decode())
    erp = dict(office="unhq", service="unhq-erp")
    assert get(s, "slamon_service_up", vantage="unhq", **erp) == 1
    assert get(s, "slamon_service_up", vantage="unog", **erp) == 0  # two failures: threshold 2
    assert get(s, "slamon_service_up", vantage="unon", **erp) is None  # unknown: absent
    assert get(s, "slamon_service_state", vantage="unon", state="unknown", **erp) == 1
    assert get(s, "slamon_service_state", vantage="unon", state="up", **erp) == 0
    assert get(s, "slamon_service_state", vantage="unog", state="down", **erp) == 1
    email = dict(vantage="unog", office="unog", service="unog-email")
    assert get(s, "slamon_service_state", state="down", **email) == 1  # worst of smtp, cert
    assert get(s, "slamon_sli_events_total", objective="availability", **email) == 2  # 1 smtp + 1 cert in scope
    assert get(s, "slamon_sli_good_events_total", objective="availability", **email) == 1
    idw = dict(vantage="unhq", office="unhq", service="unhq-identity")
    assert get(s, "slamon_sli_events_total", objective="latency", **idw) == 2  # gold tier has latency
    assert get(s, "slamon_sli_good_events_total", objective="latency", **idw) == 1
    assert get(s, "slamon_sli_events_total", objective="latency", vantage="unog", **erp) == 2
    assert get(s, "slamon_sli_good_events_total", objective="latency", vantage="unog", **erp) == 0


def test_sla_indicator_catalogue_and_daemon_series(registry):
    s = samples(render(registry, "")[0].decode())
    erp = dict(vantage="unhq", office="unhq", service="unhq-erp")
    assert get(s, "slamon_sla_objective_ratio", objective="availability", **erp) == 0.999
    assert get(s, "slamon_sla_measure_ratio", objective="availability", **erp) == 0.9995
    assert get(s, "slamon_sla_objective_ratio", objective="latency", **erp) == 0.95
    assert get(s, "slamon_sla_measure_ratio", objective="latency", **erp) is None  # unobserved
    assert get(s, "slamon_sla_error_budget_remaining_ratio", **erp) == 0.4
    assert get(s, "slamon_sla_burn_rate", **erp) == 1.5
    assert get(s, "slamon_sla_period_end_timestamp_seconds", **erp) == T0 + 86400
    assert get(s, "slamon_breaches_open", objective="availability", **erp) == 0
    assert get(s, "slamon_breaches_open", objective="latency", **erp) == 1
    assert get(s, "slamon_breaches_open", objective="steps", **erp) == 1

    assert get(s, "slamon_indicator_value", office="all", indicator="automated-services") == 4
    assert get(s, "slamon_indicator_value", office="unog", indicator="services-meeting-levels") == 100
    assert get(s, "slamon_indicator_value", office="unov", indicator="services-meeting-levels") is None
    assert get(s, "slamon_indicator_value", office="unov", indicator="iso-aligned-services") == 0
    assert get(s, "slamon_indicator_target", office="unog", indicator="iso-aligned-services", biennium="2026-2027") == 3
    assert get(s, "slamon_indicator_baseline", office="unhq", indicator="automated-services", biennium="2024-2025") == 0
    assert get(s, "slamon_indicator_target", office="all", indicator="services-meeting-levels", biennium="2026-2027") == 70

    assert get(s, "slamon_service_info", office="unhq", service="unhq-erp", tier="gold", lifecycle="production",
               category="enterprise-applications", owner_group="unhq-ict") == 1
    assert get(s, "slamon_catalogue_services", office="unog", lifecycle="production") == 4
    assert get(s, "slamon_catalogue_services", office="unog", lifecycle="retired") == 1
    assert get(s, "slamon_catalogue_services", office="unov", lifecycle="production") == 0
    assert get(s, "slamon_catalogue_load_success") == 1
    assert get(s, "slamon_catalogue_loaded_timestamp_seconds") == T0
    assert get(s, "slamon_catalogue_reloads_total", result="failure") == 1
    assert get(s, "slamon_scheduler_lag_seconds_bucket", le="0.001") == 1
    assert get(s, "slamon_scheduler_lag_seconds_bucket", le="0.025") == 3
    assert get(s, "slamon_scheduler_lag_seconds_bucket", le="5.0") == 3
    assert get(s, "slamon_scheduler_lag_seconds_bucket", le="+Inf") == 4
    assert get(s, "slamon_scheduler_lag_seconds_count") == 4
    assert get(s, "slamon_scheduler_in_flight") == 3
    assert get(s, "slamon_scheduler_probes") == 15
    assert get(s, "slamon_scheduler_runs_total") == 100
    assert get(s, "slamon_store_queue_length") == 12
    assert get(s, "slamon_store_dropped_total") == 4
    assert get(s, "slamon_store_up") == 1
    assert any(n == "slamon_build_info" for n, _ in s)


def test_label_values_are_bounded(registry):
    s = samples(render(registry, "")[0].decode())
    allowed = re.compile(r"^(\+Inf|TLS 1\.[0-3]|[A-Za-z0-9][A-Za-z0-9_.+\-]*)$")
    for name, labels in s:
        for label, value in labels:
            assert allowed.match(value), f"{name}{{{label}={value!r}}}"
            for fragment in ("://", "Connection", "10.0.0.1", "erp.unhq.example", "quoted"):
                assert fragment not in value, f"{name}{{{label}={value!r}}}"
            if label == "reason":
                assert value in {r.value for r in Reason}


def test_promtool_check_metrics_is_silent(registry):
    promtool = require_binary("promtool")
    body, _ = render(registry, "")
    proc = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr.decode() + proc.stdout.decode()
    assert proc.stdout.strip() == b"" and proc.stderr.strip() == b""


def test_openmetrics_when_asked(registry):
    body, ctype = render(registry, OPENMETRICS_ACCEPT)
    assert ctype == choose_encoder(OPENMETRICS_ACCEPT)[1]
    assert ctype.startswith("application/openmetrics-text; version=1.0.0")
    text = body.decode()
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in parse_openmetrics(text)}
    assert families["slamon_probe_results"].type == "counter"
    assert families["slamon_service"].type == "info"
    assert families["slamon_scheduler_lag_seconds"].type == "histogram"
    assert body == generate_openmetrics(registry)
    # anything else gets the text format
    for accept in ("", "text/plain", "*/*", "text/plain;version=0.0.4"):
        body, ctype = render(registry, accept)
        assert ctype == "text/plain; version=0.0.4; charset=utf-8"
        assert body == generate_latest(registry)
        assert list(text_string_to_metric_families(body.decode()))


def _same(reg: CollectorRegistry, collector: SlamonCollector | None = None) -> int:
    """Cached and plain renderings agree in both formats; parts re-rendered by the first."""
    assert render(reg, "")[0] == generate_latest(reg)
    rerendered = collector.rerendered if collector else -1
    assert render(reg, OPENMETRICS_ACCEPT)[0] == generate_openmetrics(reg)
    return rerendered


def test_cached_renderer_matches_prometheus_client_as_state_changes(runtime):
    reg = ExpositionRegistry()
    collector = SlamonCollector(runtime)
    reg.register(collector)
    assert _same(reg, collector) > 0
    assert _same(reg, collector) == 0  # nothing changed: nothing re-rendered
    assert render(collector, "") == render(reg, "")  # a collector alone renders the same

    # one new result: that probe and its service only
    runtime.observations.record(result("unhq", "unhq-erp", "login", "journey", T0 + 120, success=False,
                                       reason=Reason.status, status_code=503, phases={"connect": 0.5}))
    assert _same(reg, collector) == 2

    # a first result for a probe that had none; a replaced SLA snapshot; a new snapshot
    runtime.observations.record(result("unon", "unhq-erp", "login", "journey", T0 + 130))
    runtime.sla[("unhq", "unhq-erp")] = SlaSnapshot("unhq", "unhq-erp", "unhq", T0 + 86400)
    runtime.sla[("unog", "unog-email")] = SlaSnapshot(
        "unog", "unog-email", "unog", T0, (ObjectiveSnapshot("availability", 0.99, 0.5),),
        open_breaches=frozenset({"availability"}))
    assert _same(reg, collector) == 4

    # a probe leaves (reload), a new one arrives
    runtime.observations.retain({k for k in runtime.observations.probes if k[2] != "cert"})
    runtime.observations.record(result("unov", "unog-conference", "portal", "http", T0, status_code=200))
    _same(reg)

    # a reload: a service changes tier (latency objective goes away), another appears
    cat = runtime.catalogue
    services = dict(cat.services)
    services["unhq-identity"] = service("unhq-identity", tier="bronze")
    services["unov-library"] = service("unov-library")
    runtime.catalogue = Catalogue(cat.offices, cat.tiers, cat.practices, cat.indicators, services)
    _same(reg)
    s = samples(render(reg, "")[0].decode())
    assert get(s, "slamon_sli_events_total", vantage="unhq", office="unhq", service="unhq-identity", objective="latency") == 2
    assert get(s, "slamon_service_info", office="unov", service="unov-library", tier="gold",
               lifecycle="production", category="infrastructure", owner_group="unov-ict") == 1

    # the daemon's stats move
    runtime.store.available = False
    runtime.scheduler.observe_lag(0.3)
    _same(reg)


def test_without_a_catalogue(runtime):
    runtime.catalogue = None
    reg = ExpositionRegistry()
    reg.register(SlamonCollector(runtime))
    _same(reg)
    s = samples(render(reg, "")[0].decode())
    # the office comes from the service id when there is no catalogue
    assert get(s, "probe_success", vantage="unog", office="unog", service="unog-email", probe="cert") == 1


def test_other_collectors_in_the_registry_are_rendered_too(registry):
    from prometheus_client import Counter

    c = Counter("extra_events", "Something else.", registry=registry)
    c.inc(3)
    _same(registry)
    assert b"extra_events_total 3.0" in render(registry, "")[0]


@given(st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from([0, 1, 999_999, 1_000_000, 1e6, 1.8e9, 1e16, 1e-7, -0.0, 123456.7]),
))
def test_go_float_is_prometheus_clients_formatting(value):
    expected = floatToGoString(value)
    assert go_float(value) == expected or (math.isnan(float(value)) and go_float(value) == "NaN")


def test_latency_events_count_only_results_a_latency_objective_applies_to():
    from slamon.core.observed import Observations

    obs = Observations()
    obs.record(result("unog", "unog-web", "web", "http", T0), fast=True)
    obs.record(result("unog", "unog-web", "web", "http", T0 + 1, success=False, reason=Reason.timeout), fast=True)
    obs.record(result("unog", "unog-web", "web", "http", T0 + 2), fast=None)  # no latency objective
    obs.record(result("unog", "unog-web", "web", "http", T0 + 3), in_scope=False, fast=True)
    rec = obs.probes["unog", "unog-web", "web"]
    assert (rec.in_scope_total, rec.in_scope_good_total) == (3, 2)
    assert (rec.in_scope_timed_total, rec.in_scope_fast_total) == (2, 1)  # a failure is never fast


AGREED = """
probe_success probe_duration_seconds probe_http_status_code probe_http_duration_seconds
probe_http_ssl probe_ssl_earliest_cert_expiry probe_dns_lookup_time_seconds probe_ip_protocol
probe_failed_due_to_regex slamon_probe_results_total slamon_probe_failures_total
slamon_service_up slamon_service_state slamon_sli_events_total slamon_sli_good_events_total
slamon_service_info slamon_sla_objective_ratio slamon_sla_measure_ratio
slamon_sla_error_budget_remaining_ratio slamon_sla_burn_rate slamon_sla_period_end_timestamp_seconds
slamon_breaches_open slamon_indicator_value slamon_indicator_target slamon_indicator_baseline
slamon_catalogue_load_success slamon_catalogue_loaded_timestamp_seconds slamon_catalogue_reloads_total
slamon_catalogue_services slamon_scheduler_lag_seconds_bucket slamon_scheduler_lag_seconds_sum
slamon_scheduler_lag_seconds_count slamon_scheduler_in_flight slamon_scheduler_probes
slamon_scheduler_runs_total slamon_scheduler_overruns_total slamon_store_queue_length
slamon_store_buffer_capacity slamon_store_up slamon_store_written_total slamon_store_dropped_total
slamon_store_write_errors_total slamon_build_info
""".split()  # every series of the agreed list (METRICS.md), which the generated rules rely on


def test_every_agreed_series_is_exposed(registry):
    exposed = {name for name, _ in samples(render(registry, "")[0].decode())}
    assert set(AGREED) - exposed == set()
    labels = {}
    for name, pairs in samples(render(registry, "")[0].decode()):
        labels.setdefault(name, set()).update(k for k, _ in pairs)
    assert labels["slamon_sli_events_total"] == {"vantage", "office", "service", "objective"}
    assert labels["slamon_service_info"] == {"office", "service", "tier", "lifecycle", "category", "owner_group"}
    assert labels["slamon_indicator_target"] == {"office", "indicator", "biennium"}
    assert labels["probe_success"] == {"vantage", "office", "service", "probe"}
    assert labels["slamon_probe_failures_total"] == {"vantage", "office", "service", "probe", "reason"}


async def test_async_render_gives_the_same_bytes_and_lets_the_loop_run(runtime, monkeypatch):
    monkeypatch.setattr(exporters.metrics, "BLOCK_GROUPS", 1)  # many short steps on a small estate
    reg = ExpositionRegistry()
    reg.register(SlamonCollector(runtime))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        for accept, expected in (("", generate_latest), (OPENMETRICS_ACCEPT, generate_openmetrics)):
            before = ticks
            body, ctype = await render_async(reg, accept, step_seconds=0)
            assert (body, ctype) == render(reg, accept)
            assert body == expected(reg)
            assert ticks - before >= 5  # the loop ran between the steps
        assert await metrics_renderer(reg)(OPENMETRICS_ACCEPT) == render(reg, OPENMETRICS_ACCEPT)
    finally:
        task.cancel()


async def test_async_renders_stay_right_while_results_land_between_steps(runtime, monkeypatch):
    """Results, SLA snapshots and a reload land between the steps of two interleaved
    scrapes: each scrape is a valid exposition, and the caches they leave are right."""
    monkeypatch.setattr(exporters.metrics, "BLOCK_GROUPS", 1)
    reg = ExpositionRegistry()
    collector = SlamonCollector(runtime)
    reg.register(collector)
    render(reg, "")  # warm caches, then change them under the scrapes
    keys = list(runtime.observations.probes)
    cat = runtime.catalogue
    stop = False

    async def churn() -> None:
        i = 0
        while not stop:
            key = keys[i % len(keys)]
            runtime.observations.record(result(*key, "http", T0 + 1000 + i, success=i % 3 != 0,
                                               reason=None if i % 3 else Reason.timeout, status_code=200))
            if i % 4 == 0:
                runtime.sla[("unhq", "unhq-erp")] = SlaSnapshot("unhq", "unhq-erp", "unhq", T0 + i)
            if i == 6:  # a reload: new layout while a scrape is under way
                services = dict(cat.services)
                services["unhq-identity"] = service("unhq-identity", tier="bronze")
                runtime.catalogue = Catalogue(cat.offices, cat.tiers, cat.practices, cat.indicators, services)
            i += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(churn())
    try:
        bodies = await asyncio.gather(*(render_async(reg, a, step_seconds=0) for a in ("", OPENMETRICS_ACCEPT, "")))
    finally:
        stop = True
        await task
    samples(bodies[0][0].decode())  # parses, no duplicate series
    assert list(parse_openmetrics(bodies[1][0].decode()))
    _same(reg)  # nothing left stale in the caches


def test_labels_split_puts_an_extra_label_anywhere():
    from exporters.exposition import LineFormatter, Spec

    for labels in (("b", "c", "a"), ("a", "c", "b"), ("a", "b", "c"), ("a",)):
        spec = Spec("x", "gauge", "X.", labels)
        fmt = LineFormatter([spec])
        base = labels[:-1]
        values = [f'v"{n}\\' for n in labels]
        (text,) = fmt.part(fmt.labels(base, values[:-1]), [(0, (values[-1],), 1.5)], 0, 1)
        assert text.decode() == fmt.line(0, values, 1.5)


def test_a_plain_registry_is_rendered_by_prometheus_client_itself(runtime):
    """Only an ExpositionRegistry lists its collectors (prometheus_client has no public
    way to): any other registry gets prometheus_client's encoders, the same bytes."""
    from exporters.exposition import fast_path_available

    plain = CollectorRegistry()
    collector = SlamonCollector(runtime)
    plain.register(collector)
    assert not fast_path_available(plain)
    assert render(plain, "")[0] == generate_latest(plain)
    assert collector.rerendered == 0  # its cache was never used

    ours = ExpositionRegistry()
    assert fast_path_available(ours)
    ours.register(collector)
    assert ours.collectors == [collector]
    assert render(ours, "")[0] == generate_latest(plain)
    ours.unregister(collector)
    assert ours.collectors == [] and render(ours, "")[0] == b""


def test_the_fast_path_gauge_says_which_paths_are_off():
    from exporters.fast_paths import FastPathCollector

    reg = ExpositionRegistry()
    reg.register(FastPathCollector({"libyaml": True, "heap_trim": False}))
    s = samples(render(reg, "")[0].decode())
    assert get(s, "slamon_fast_path_enabled", path="libyaml") == 1
    assert get(s, "slamon_fast_path_enabled", path="heap_trim") == 0
    assert render(reg, "")[0] == generate_latest(reg)
