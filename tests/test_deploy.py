"""deploy/: the configuration files, checked by the real tools that consume them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from exporters.rules import DAEMON_JOB, RuleOptions
from slamon.cli.rules import generated_files
from slamon.config import DEFAULT_LISTEN, Config
from slamon.loader import load_catalogue
from tests.conftest import require_binary

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
TEST_CATALOGUE = ROOT / "tests" / "data" / "rules_catalogue"
OFFICES = ("unhq", "unog", "unov", "unon")


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=60)


# --------------------------------------------------------------------------- Prometheus


def test_prometheus_config_scrapes_the_daemon_and_loads_the_rules():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    slamon = jobs[DAEMON_JOB]  # the job the daemon-health alerts look for
    assert slamon.get("metrics_path", "/metrics") == "/metrics"
    assert slamon["static_configs"][0]["targets"] == [DEFAULT_LISTEN]
    assert config["rule_files"] == ["rules/*.rules.yml"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:9093"]


@pytest.mark.integration
def test_promtool_checks_the_config_with_generated_rules(tmp_path):
    promtool = require_binary("promtool")
    prom = tmp_path / "prometheus"
    prom.mkdir()
    shutil.copy(DEPLOY / "prometheus" / "prometheus.yml", prom / "prometheus.yml")
    catalogue = load_catalogue(TEST_CATALOGUE).catalogue
    generated_files(catalogue, prom / "rules", prom / "tests", RuleOptions()).write()
    done = _run(promtool, "check", "config", "prometheus.yml", cwd=prom)
    assert done.returncode == 0, done.stdout + done.stderr
    # the rule_files glob found and checked every generated file
    out = done.stdout + done.stderr
    for office in OFFICES:
        assert f"slamon-{office}.rules.yml" in out
    assert "slamon-daemon-health.rules.yml" in out


# --------------------------------------------------------------------------- Alertmanager

AM_CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"


@pytest.mark.integration
def test_amtool_accepts_the_alertmanager_config():
    done = _run(require_binary("amtool"), "check-config", str(AM_CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def _route(*labels: str) -> list[str]:
    done = _run(require_binary("amtool"), "config", "routes", "test", f"--config.file={AM_CONFIG}", *labels)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().split(",")


@pytest.mark.integration
@pytest.mark.parametrize("office", OFFICES)
def test_alerts_route_to_their_office(office):
    labels = (f"office={office}", f"service={office}-email", "owner=x", "tier=gold")
    assert _route(*labels, "severity=page") == ["central-ops-page", f"{office}-page"]
    assert _route(*labels, "severity=ticket") == [f"{office}-ticket"]
    assert _route(*labels, "severity=info") == [f"{office}-ticket"]


@pytest.mark.integration
def test_daemon_health_goes_to_central_operations():
    assert _route("component=slamon", "severity=page", "alertname=SlamonDaemonDown") == ["central-ops-page"]
    assert _route("component=slamon", "severity=ticket") == ["central-ops-ticket"]


def test_every_catalogue_office_has_a_route_and_tickets_are_inhibited_by_pages():
    config = yaml.safe_load(AM_CONFIG.read_text())
    routed = {
        m.group(1)
        for route in config["route"]["routes"]
        for matcher in route.get("matchers", [])
        if (m := re.fullmatch(r'office="(\w+)"', matcher))
    }
    catalogues = [TEST_CATALOGUE] + ([ROOT / "catalogue"] if (ROOT / "catalogue" / "offices.yaml").exists() else [])
    for path in catalogues:
        catalogue = load_catalogue(path).catalogue
        assert catalogue is not None
        assert set(catalogue.offices) <= routed, path
    assert config["route"]["group_by"] == ["office", "service"]
    inhibit = config["inhibit_rules"][0]
    assert inhibit["source_matchers"] == ['severity="page"']
    assert {"office", "service"} <= set(inhibit["equal"])


# --------------------------------------------------------------------------- systemd

UNIT = DEPLOY / "systemd" / "slamon.service"


def _unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_systemd_unit_is_hardened_and_outlasts_the_drain():
    s = _unit_settings()
    assert s["DynamicUser"] == ["yes"] and s["StateDirectory"] == ["slamon"]
    assert "sqlite:////var/lib/slamon/slamon.db" in s["ExecStart"][0]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["Restart"] == ["on-failure"]
    stop_seconds = int(s["TimeoutStopSec"][0])
    assert stop_seconds > Config().shutdown_timeout_seconds
    for key in ("NoNewPrivileges", "ProtectSystem", "PrivateTmp", "ProtectHome", "RestrictNamespaces"):
        assert key in s, key
    assert s["CapabilityBoundingSet"] == [""]


@pytest.mark.integration
def test_systemd_analyze_verifies_the_unit(tmp_path):
    analyze = require_binary("systemd-analyze")
    # verify insists that ExecStart's program exists: stand in an executable at a
    # temporary path for /usr/local/bin/slamon (nothing else in the unit changes)
    program = tmp_path / "slamon"
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    unit = tmp_path / "slamon.service"
    text = UNIT.read_text()
    assert "ExecStart=/usr/local/bin/slamon " in text
    unit.write_text(text.replace("/usr/local/bin/slamon", str(program)))
    done = _run(analyze, "verify", str(unit))
    problems = [line for line in (done.stdout + done.stderr).splitlines() if "slamon.service" in line]
    assert done.returncode == 0 and not problems, done.stdout + done.stderr


# --------------------------------------------------------------------------- container and compose

COMPOSE = DEPLOY / "compose.yaml"


def test_containerfile_is_non_root_with_a_healthcheck():
    text = (DEPLOY / "container" / "Containerfile").read_text()
    assert re.search(r"^FROM \S*python:3\.1\d-slim$", text, re.M)
    user = re.findall(r"^USER (\S+)$", text, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert "HEALTHCHECK" in text and "/healthz" in text
    assert re.search(r"^RUN pip install \.", text, re.M)
    for source in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for item in source.split():
            assert (ROOT / item).exists(), item


def test_compose_file_parses_and_references_existing_files():
    compose = yaml.safe_load(COMPOSE.read_text())
    assert set(compose["services"]) == {"slamon", "prometheus", "alertmanager", "grafana"}
    build = compose["services"]["slamon"]["build"]
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).is_file()
    named = set(compose.get("volumes", {}))
    mounts = 0
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith("."):
                assert source in named, (name, source)
                continue
            path = (COMPOSE.parent / source).resolve()
            if path == ROOT / "catalogue" and not path.exists():
                continue  # the bundled catalogue lands with its own change
            assert path.exists(), (name, volume)
            mounts += 1
    assert mounts >= 5
    grafana = {v.split(":")[1]: v.split(":")[0] for v in compose["services"]["grafana"]["volumes"]}
    assert "/etc/grafana/provisioning" in grafana
    home = compose["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    folder, _, name = home.rpartition("/")
    assert (COMPOSE.parent / grafana[folder] / name).is_file(), home


def test_grafana_provisioning_points_at_prometheus_and_the_dashboards():
    sources = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    assert sources["datasources"][0]["type"] == "prometheus"
    assert sources["datasources"][0]["url"] == "http://127.0.0.1:9090"
    providers = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/slamon.yaml").read_text())
    compose = yaml.safe_load(COMPOSE.read_text())
    mounted = {v.split(":")[1] for v in compose["services"]["grafana"]["volumes"]}
    assert providers["providers"][0]["options"]["path"] in mounted


# --------------------------------------------------------------------------- several daemons

FLEET = DEPLOY / "prometheus" / "prometheus-fleet.yml"
TARGETS_UNIT = DEPLOY / "systemd" / "slamon-targets.service"


def test_fleet_prometheus_reads_the_file_slamon_targets_writes():
    config = yaml.safe_load(FLEET.read_text())
    slamon = {job["job_name"]: job for job in config["scrape_configs"]}[DAEMON_JOB]
    [files] = [sd["files"] for sd in slamon["file_sd_configs"]]
    exec_start = next(line for line in TARGETS_UNIT.read_text().splitlines() if line.startswith("ExecStart="))
    argv = exec_start.split()
    assert argv[1:3] == ["targets", "--db"]
    assert files == [argv[argv.index("-o") + 1]]  # the unit writes what Prometheus reads
    assert config["remote_write"][0]["url"].endswith("/api/v1/push")
    timer = (DEPLOY / "systemd" / "slamon-targets.timer").read_text()
    assert "OnUnitActiveSec=1min" in timer


@pytest.mark.integration
@pytest.mark.parametrize("name", ["prometheus-fleet.yml", "federation.yml"])
def test_promtool_checks_the_several_daemon_configs(tmp_path, name):
    promtool = require_binary("promtool")
    prom = tmp_path / "prometheus"
    prom.mkdir()
    shutil.copy(DEPLOY / "prometheus" / name, prom / name)
    catalogue = load_catalogue(TEST_CATALOGUE).catalogue
    generated_files(catalogue, prom / "rules", prom / "tests", RuleOptions()).write()
    done = _run(promtool, "check", "config", name, cwd=prom)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "slamon-daemon-health.rules.yml" in done.stdout + done.stderr
