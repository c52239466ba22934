"""A success with a warning: a good result everywhere the SLA looks, its own series,
alert and marks elsewhere."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from exporters import rules as R
from exporters.exposition import render
from exporters.metrics import SlamonCollector
from exporters.rules_plan import plan_service
from slamon.core.observed import Observations
from slamon.core.results import ProbeOutcome, ProbeResult, Reason, WarningReason
from slamon.core.sla.rollup import RollupBuilder
from slamon.core.state import State
from slamon.probes import ProbeContext, run_probe
from slamon.runtime import Runtime
from tests.exporters_estate import catalogue
from tests.probe_helpers import make_probe
from tests.test_metrics_exporter import _same, get, samples

pytest_plugins = ["tests.servers"]

T0 = 1_779_926_420.0  # 2026-05-28 00:00:20 UTC: minute 0 of a UTC day


def warned(at: float, warning=WarningReason.cert_expiry_soon, duration=0.2) -> ProbeResult:
    return ProbeResult(
        "unog", "unog-email", "cert", "tls", at,
        ProbeOutcome(True, duration, cert_expiry_timestamp=at + 5 * 86400, warning=warning,
                     warning_detail="certificate expires in 5.0 days, fewer than min_days_left 21"),
    )  # fmt: skip


def test_a_warning_is_a_good_fast_result_and_keeps_the_probe_up():
    obs = Observations()
    obs.configure(("unog", "unog-email", "cert"), failure_threshold=1, success_threshold=1)
    changes = [obs.record(warned(T0 + 60 * i), in_scope=True, fast=True) for i in range(5)]
    assert changes[0] is not None and changes[0].state is State.up
    assert changes[1:] == [None] * 4
    rec = obs.probes[("unog", "unog-email", "cert")]
    assert rec.in_scope_total == rec.in_scope_good_total == 5
    assert rec.in_scope_timed_total == rec.in_scope_fast_total == 5
    assert not rec.failures_total

    builder = RollupBuilder()
    for i in range(5):
        builder.add(warned(T0 + 60 * i, WarningReason.slow, duration=0.4), latency_threshold_seconds=0.5)
    (day,) = builder.rollups()
    assert day.observed == day.good == day.fast == 0b11111
    assert bytes(day.good_counts[:5]) == bytes(day.total_counts[:5]) == b"\x01" * 5


def test_a_warning_only_goes_with_a_success():
    from slamon.probes.attempt import Attempt
    from slamon.probes.secrets import Secrets

    attempt = Attempt(Secrets({}))
    failed = attempt.outcome(Reason.tls, "bad", WarningReason.cert_expiry_soon, "soon")
    assert failed.warning is None and failed.warning_detail == ""
    ok = attempt.outcome(None, "", WarningReason.cert_expiry_soon, "soon")
    assert ok.success and ok.warning is WarningReason.cert_expiry_soon


def test_warning_series_in_both_renderings():
    runtime = Runtime()
    runtime.catalogue = catalogue()
    reg = CollectorRegistry()
    collector = SlamonCollector(runtime)
    reg.register(collector)
    runtime.observations.record(warned(T0))
    _same(reg, collector)
    s = samples(render(reg, "")[0].decode())
    cert = {"vantage": "unog", "office": "unog", "service": "unog-email", "probe": "cert"}
    assert get(s, "slamon_probe_warning", reason="cert_expiry_soon", **cert) == 1
    assert get(s, "probe_ssl_earliest_cert_expiry", **cert) == T0 + 5 * 86400
    assert get(s, "probe_success", **cert) == 1
    assert get(s, "slamon_probe_local_faults_total") == 0
    # the next result carries no warning: the series goes (the alert resolves)
    runtime.observations.record(
        ProbeResult("unog", "unog-email", "cert", "tls", T0 + 60, ProbeOutcome(True, 0.2, cert_expiry_timestamp=T0))
    )
    _same(reg, collector)
    names = {name for name, _ in samples(render(reg, "")[0].decode())}
    assert "slamon_probe_warning" not in names
    # a local fault counts for the daemon only
    runtime.observations.record(
        ProbeResult("unog", "unog-email", "cert", "tls", T0 + 120,
                    ProbeOutcome(False, 0.0, reason=Reason.local, detail="Too many open files"))
    )  # fmt: skip
    _same(reg, collector)
    s = samples(render(reg, "")[0].decode())
    assert get(s, "slamon_probe_local_faults_total") == 1
    assert get(s, "probe_success", **cert) == 1


@pytest_asyncio.fixture
async def ctx():
    c = ProbeContext.create(max_body_bytes=4096, env={})
    yield c
    await c.close()


async def test_warn_latency_gives_a_slow_warning(ctx, http_server):
    slow = make_probe(kind="http", url=f"{http_server.url}/delay/300", warn_latency="100ms")
    out = await run_probe(slow, ctx)
    assert out.success and out.reason is None
    assert out.warning is WarningReason.slow and "over warn_latency 0.1 s" in out.warning_detail
    quick = make_probe(kind="http", url=f"{http_server.url}/ok", warn_latency="2s")
    out = await run_probe(quick, ctx)
    assert out.success and out.warning is None
    # past the timeout it is a failure, never a warning
    late = make_probe(kind="http", url=f"{http_server.url}/delay/2000", warn_latency="100ms", timeout="300ms")
    out = await run_probe(late, ctx)
    assert out.reason is Reason.timeout and out.warning is None


async def test_https_probe_with_min_days_left_warns(ctx, https_servers, pki):
    url = f"{https_servers['expiring'].url}/ok"
    out = await run_probe(make_probe(kind="http", url=url, ca_file=str(pki.ca_file), min_days_left=21), ctx)
    assert out.success and out.warning is WarningReason.cert_expiry_soon, out
    assert "fewer than min_days_left 21" in out.warning_detail
    out = await run_probe(make_probe(kind="http", url=url, ca_file=str(pki.ca_file)), ctx)
    assert out.success and out.warning is None  # without min_days_left: no opinion
    out = await run_probe(make_probe(kind="http", url=url, ca_file=str(pki.ca_file), min_days_left=3), ctx)
    assert out.success and out.warning is None
    # an expired certificate stays a failure
    out = await run_probe(
        make_probe(kind="http", url=f"{https_servers['expired'].url}/ok", ca_file=str(pki.ca_file), min_days_left=21),
        ctx,
    )
    assert not out.success and out.reason is Reason.tls and out.warning is None


def test_warn_latency_must_be_below_the_timeout():
    with pytest.raises(ValidationError, match="warn_latency"):
        make_probe(kind="http", url="https://a.example/", timeout="1s", warn_latency="1s")


def test_the_warning_alert_is_generated_for_probes_that_can_warn():
    cat = catalogue()
    plans = [p for p in (plan_service(cat, s) for s in cat.services.values()) if p is not None]
    for plan in plans:
        alerts = [r for r in R.service_group(plan, R.RuleOptions())["rules"] if r.get("alert") == R.PROBE_WARNING]
        can = any(R.can_warn(p) for p in plan.service.probes)
        assert len(alerts) == (1 if can else 0), plan.id
        if alerts:
            (rule,) = alerts
            assert rule["labels"]["severity"] == "ticket"
            assert f'service="{plan.id}"' in rule["expr"] and "slamon_probe_warning" in rule["expr"]
    assert any(any(R.can_warn(p) for p in plan.service.probes) for plan in plans)
    health = {r["alert"]: r for r in R.daemon_group(R.RuleOptions())["rules"]}
    assert "slamon_probe_local_faults_total" in health[R.LOCAL_FAULTS]["expr"]
    assert health[R.LOCAL_FAULTS]["labels"]["severity"] == "ticket"


async def test_slamon_probe_shows_the_warning_and_exits_0(tmp_path, capsys, https_servers, pki):
    from tests.test_probe_cli import slamon_in_process, write_catalogue

    port = https_servers["expiring"].port
    probes = (
        f"  - {{id: cert, kind: tls, host: 127.0.0.1, port: {port}, min_days_left: 21,"
        f" ca_file: '{pki.ca_file}', timeout: 3s}}"
    )
    cat = write_catalogue(tmp_path / "catalogue", {"unog-mail": probes})
    code, out, err = await slamon_in_process(capsys, "probe", "unog-mail", "--catalogue", str(cat))
    assert code == 0, (out, err)
    assert "ok   cert (tls) from unog" in out
    assert "warning cert_expiry_soon: certificate expires in 5.0 days, fewer than min_days_left 21" in out
    code, out, err = await slamon_in_process(capsys, "probe", "unog-mail", "--catalogue", str(cat), "--format", "json")
    (found,) = json.loads(out)
    assert found["success"] is True and found["reason"] is None
    assert found["warning"] == "cert_expiry_soon"
