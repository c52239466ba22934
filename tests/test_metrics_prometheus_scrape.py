"""A real Prometheus scrapes the rendered /metrics (it asks for OpenMetrics) and the
series arrive with their labels: the output is valid for the consumer that matters."""

from __future__ import annotations

import asyncio
import os
import signal
import socket

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from exporters.exposition import ExpositionRegistry, render
from exporters.metrics import SlamonCollector
from slamon.runtime import Runtime
from tests.conftest import require_binary
from tests.exporters_estate import catalogue
from tests.test_metrics_exporter import fill

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _query(session: aiohttp.ClientSession, base: str, expr: str) -> list:
    async with session.get(f"{base}/api/v1/query", params={"query": expr}) as resp:
        body = await resp.json()
    return body.get("data", {}).get("result", []) if body.get("status") == "success" else []


async def test_prometheus_scrapes_openmetrics_and_stores_every_series_name(tmp_path):
    prometheus = require_binary("prometheus")
    rt = Runtime(catalogue=catalogue())
    fill(rt)
    registry = ExpositionRegistry()
    registry.register(SlamonCollector(rt))
    accepts: list[str] = []
    exposed = {
        sample.name
        for family in text_string_to_metric_families(render(registry, "")[0].decode())
        for sample in family.samples
    }

    async def metrics(request: web.Request) -> web.Response:
        accepts.append(request.headers.get("Accept", ""))
        body, content_type = render(registry, request.headers.get("Accept"))
        return web.Response(body=body, headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    target_port = runner.addresses[0][1]

    prom_port = _free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 900ms}\n"
        "scrape_configs:\n"
        f"  - job_name: slamon\n    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
    )
    proc = await asyncio.create_subprocess_exec(
        prometheus,
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    base = f"http://127.0.0.1:{prom_port}"
    try:
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            up: list = []
            for _ in range(60):  # at most about 30 s on a busy machine
                await asyncio.sleep(0.5)
                try:
                    up = await _query(session, base, 'up{job="slamon"}')
                except (TimeoutError, aiohttp.ClientError):
                    continue
                if up:
                    break
            assert up and up[0]["value"][1] == "1", f"scrape failed: {up}"
            success = await _query(session, base, 'probe_success{service="unhq-erp"}')
            assert {r["metric"]["vantage"]: r["value"][1] for r in success} == {"unhq": "1", "unog": "0"}
            failures = await _query(session, base, 'slamon_probe_failures_total{reason="refused"}')
            assert failures and failures[0]["value"][1] == "2"
            info = await _query(session, base, 'slamon_service_info{service="unog-email"}')
            assert info and info[0]["metric"]["tier"] == "gold"
            lag = await _query(session, base, "slamon_scheduler_lag_seconds_count")
            assert lag and lag[0]["value"][1] == "4"
            stored = await _query(session, base, 'group by (__name__) ({job="slamon"})')
            names = {r["metric"]["__name__"] for r in stored} - {"up"}
            names = {n for n in names if not n.startswith("scrape_")}
            assert names == exposed
        assert accepts and accepts[0].startswith("application/openmetrics-text")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await runner.cleanup()
