"""Keeps the benchmark harness from rotting: the farm answers as configured, the
blackbox_exporter wrapper starts, and a tiny run of the whole harness writes a
RESULTS-style report. Structure only; timings are never asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from benchmarks.farm import Farm
from benchmarks.measure import percentile, proc_cpu_seconds
from benchmarks.synth import write_catalogue
from slamon.loader import load_catalogue

ROOT = Path(__file__).resolve().parents[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_farm_serves_distinct_endpoints_with_failures_and_latency():
    with Farm(workers=2, fail_every=10) as farm:
        assert farm.port > 0
        assert _get(farm.url(1)) == (200, b"OK\n")
        assert _get(farm.url(9999)) == (200, b"OK\n")
        assert _get(farm.url(20))[0] == 500  # every tenth endpoint fails
        assert _get(farm.url(3, status=503))[0] == 503
        assert _get(farm.url(4, fail=1))[0] == 500
        assert _get(farm.url(5, latency_ms=20))[0] == 200
        assert _get(f"{farm.base_url}/nothing")[0] == 404
        pid = farm.pid
        assert proc_cpu_seconds(pid) >= 0
    assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_synthetic_catalogue_is_valid(tmp_path):
    root = write_catalogue(tmp_path / "cat", 12, "http://127.0.0.1:1")
    report = load_catalogue(root)
    assert report.errors == []
    assert report.catalogue is not None and len(report.catalogue.services) == 12
    assert {s.office for s in report.catalogue.services.values()} == {"unhq", "unog", "unov", "unon"}


def test_percentile_nearest_rank():
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0], 99) == 3.0


def test_tiny_harness_run_writes_a_report(tmp_path):
    out = tmp_path / "RESULTS.md"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SLAMON_TEST_PG_URL", None)  # keep the smoke run local and short
    proc = subprocess.run(
        [
            sys.executable, "-m", "benchmarks.run",
            "--sizes", "8", "--runs", "1", "--seconds", "0.3",
            "--saturation-services", "20", "--store-results", "200",
            "--no-profile", "--out", str(out),
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text()
    for heading in (
        "# Benchmark results",
        "## Machine and build",
        "## Targets (issue 7)",
        "## 1. Probe throughput and cost on one core",
        "## 2. Scale",
        "## 3. Reporting cost over a biennium",
        "## 3b. `slamon report` as a user runs it",
    ):
        assert heading in text
    assert "bare aiohttp probe, uvloop" in text
    raw = json.loads(out.with_suffix(".json").read_text())
    bare = raw["runs"]["bare_uvloop"][0]
    assert "error" not in bare, bare
    assert bare["probes"] > 0 and bare["success_ratio"] == pytest.approx(1.0)
    load = raw["runs"]["load_8"][0]
    assert load["loaded_services"] == 8 and load["errors"] == 0
    assert load["reload_files_checked"] == 1 and load["reload_seconds"] > 0
    # every target has a row, whatever its result
    assert len(raw["targets"]) == 9
    for target in raw["targets"].values():
        assert target["text"] in text
