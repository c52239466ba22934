"""Grafana dashboards: committed files current, wired to the provisioned data source,
and every panel query accepted by a real Prometheus."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from exporters.dashboards import DATASOURCE, build_dashboards, panel_queries
from slamon.cli.dashboards import dashboard_files
from tests.conftest import require_binary

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
VARIABLES = {"$office": "unog", "$service": "unog-email", "$vantage": "unog"}


def test_committed_dashboards_are_current():
    assert dashboard_files(DASHBOARDS).stale() == []


def test_dashboards_use_the_provisioned_datasource_and_unique_ids():
    provisioned = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/slamon.yaml").read_text())
    uid = provisioned["datasources"][0]["uid"]
    assert DATASOURCE["uid"] == uid
    boards = build_dashboards()
    assert len({b["uid"] for b in boards.values()}) == len(boards) == 5
    for name, board in boards.items():
        assert json.loads((DASHBOARDS / name).read_text()) == board
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids))
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == uid and panel["targets"], panel["title"]
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


@pytest.mark.integration
def test_every_panel_query_parses_in_prometheus(tmp_path):
    prometheus = require_binary("prometheus")
    config = tmp_path / "prometheus.yml"
    config.write_text("global: {scrape_interval: 15s}\n")
    port = _free_port()
    proc = subprocess.Popen(
        [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "prometheus did not start"
            time.sleep(0.2)
        status, _ = _get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": "sum(up"}))
        assert status == 400  # the check below can fail
        checked = 0
        for board in build_dashboards().values():
            for expr in panel_queries(board):
                for variable, value in VARIABLES.items():
                    expr = expr.replace(variable, value)
                status, body = _get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
                assert status == 200 and body["status"] == "success", (board["uid"], expr, body)
                checked += 1
        assert checked >= 30
    finally:
        proc.terminate()
        proc.wait(timeout=10)
