"""The web adapter and the minimal metrics collector, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
import subprocess

import aiohttp
import pytest

from exporters.exposition import ExpositionRegistry, metrics_renderer
from exporters.metrics import SlamonCollector
from slamon.core.results import ProbeOutcome, ProbeResult, Reason
from slamon.loader import load_catalogue
from slamon.runtime import Runtime
from slamon.web import WebServer, admin_exposure_problem, build_app, is_loopback
from tests.conftest import require_binary
from tests.daemon_support import service_doc, write_catalogue


@pytest.fixture
def runtime(tmp_path) -> Runtime:
    root = write_catalogue(tmp_path / "catalogue", [
        service_doc("unhq-erp", [{"id": "login", "kind": "http", "url": "https://erp.unhq.example/",
                                  "from": ["unhq", "unog"]}]),
    ])
    rt = Runtime()
    rt.catalogue = load_catalogue(root).catalogue
    assert rt.catalogue is not None
    rt.catalogue_stats.load_success = True
    rt.catalogue_stats.loaded_timestamp_seconds = 1.7e9
    rt.catalogue_stats.reloads_total["failure"] += 1
    rt.observations.record(ProbeResult("unhq", "unhq-erp", "login", "http", 1.7e9,
                                       ProbeOutcome(success=True, duration_seconds=0.25)))
    rt.observations.record(ProbeResult("unog", "unhq-erp", "login", "http", 1.7e9,
                                       ProbeOutcome(success=False, duration_seconds=5.0, reason=Reason.timeout)))
    return rt


def render(runtime: Runtime, accept: str = "") -> tuple[str, str]:
    registry = ExpositionRegistry()
    registry.register(SlamonCollector(runtime))
    body, content_type = asyncio.run(metrics_renderer(registry)(accept))
    return body.decode(), content_type


def test_collector_yields_probe_series_per_vantage_office_service_probe(runtime):
    text, content_type = render(runtime)
    assert content_type.startswith("text/plain")
    assert 'probe_success{office="unhq",probe="login",service="unhq-erp",vantage="unhq"} 1.0' in text
    assert 'probe_success{office="unhq",probe="login",service="unhq-erp",vantage="unog"} 0.0' in text
    assert 'probe_duration_seconds{office="unhq",probe="login",service="unhq-erp",vantage="unog"} 5.0' in text
    assert re.search(r'^slamon_build_info\{python="[\d.]+",version="[\d.]+\w*"\} 1\.0$', text, re.M)
    assert "slamon_catalogue_load_success 1.0" in text
    assert 'slamon_catalogue_reloads_total{result="failure"} 1.0' in text
    # a private registry: none of the library's process collectors
    assert "process_cpu_seconds_total" not in text and "python_gc" not in text


def test_openmetrics_on_request(runtime):
    text, content_type = render(runtime, "application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert text.rstrip().endswith("# EOF")


def test_promtool_finds_nothing_to_lint(runtime):
    promtool = require_binary("promtool")
    text, _ = render(runtime)
    out = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert not (out.stdout + out.stderr).strip()


async def test_endpoints(runtime):
    runtime.ready = False
    registry = ExpositionRegistry()
    registry.register(SlamonCollector(runtime))
    server = WebServer(build_app(runtime, metrics_renderer(registry)), "127.0.0.1", 0)
    host, port = await server.start()
    assert host == "127.0.0.1" and port > 0
    base = f"http://{host}:{port}"
    timeout = aiohttp.ClientTimeout(total=5)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as s:
            async with s.get(f"{base}/healthz") as r:
                assert r.status == 200
            async with s.get(f"{base}/readyz") as r:
                assert r.status == 503 and "scheduler" in await r.text()
            runtime.ready = True
            async with s.get(f"{base}/readyz") as r:
                assert r.status == 200
            cat, runtime.catalogue = runtime.catalogue, None
            async with s.get(f"{base}/readyz") as r:
                assert r.status == 503 and "catalogue" in await r.text()
            runtime.catalogue = cat
            async with s.get(f"{base}/metrics") as r:
                assert r.status == 200
                assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                assert "probe_success{" in await r.text()
            async with s.get(f"{base}/metrics", headers={"Accept": "application/openmetrics-text"}) as r:
                assert r.content_type == "application/openmetrics-text"
            async with s.get(f"{base}/nothing") as r:
                assert r.status == 404
    finally:
        await server.close()


async def test_metrics_after_sent_runs_once_the_whole_body_is_sent(runtime):
    """The daemon's post-scrape policy (heap trim) runs after the response, once per
    scrape; the body and its headers are what the renderer gave."""
    registry = ExpositionRegistry()
    registry.register(SlamonCollector(runtime))
    render = metrics_renderer(registry)
    expected, _ = await render("")
    calls: list[int] = []
    app = build_app(runtime, render, after_metrics=lambda: calls.append(1))
    server = WebServer(app, "127.0.0.1", 0)
    host, port = await server.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s:
            for n in (1, 2):
                async with s.get(f"http://{host}:{port}/metrics") as r:
                    body = await r.read()
                    assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
                    assert int(r.headers["Content-Length"]) == len(body)
                assert body == expected
                assert len(calls) == n
    finally:
        await server.close()


def test_listen_policy():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")
    # no admin route yet: any address is fine
    assert admin_exposure_problem("0.0.0.0", admin_routes=False, token_set=False) is None
    # the hook the API uses once it has admin actions
    assert "refusing" in admin_exposure_problem("0.0.0.0", admin_routes=True, token_set=False)
    assert admin_exposure_problem("0.0.0.0", admin_routes=True, token_set=True) is None
    assert admin_exposure_problem("127.0.0.1", admin_routes=True, token_set=False) is None
