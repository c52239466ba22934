"""The bundled global service catalogue (catalogue/) is valid and holds what it promises."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from slamon.core.catalogue import Catalogue
from slamon.core.classify import is_automated, is_iso_aligned
from slamon.core.model import BUILTIN_CALENDAR, Lifecycle
from slamon.loader import load_catalogue

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "catalogue"
OFFICES = ["unhq", "unog", "unov", "unon"]
SERVICE_MODELINE = "# yaml-language-server: $schema=../../schema/service.schema.json\n"
# The date the bundled practices' review dates and indicator targets were set against.
CATALOGUE_DATE = dt.date(2026, 11, 29)
CURRENT_BIENNIUM = "2026-2027"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    report = load_catalogue(CATALOGUE)
    assert not report.errors, "\n".join(str(d) for d in report.errors)
    assert report.catalogue is not None
    return report.catalogue


def production(cat: Catalogue, office: str):
    return [s for s in cat.services_of(office) if s.lifecycle == Lifecycle.production]


def test_loads_without_errors(catalogue: Catalogue) -> None:
    assert sorted(catalogue.offices) == sorted(OFFICES)
    assert {"platinum", "gold", "silver", "bronze"} <= set(catalogue.tiers)
    assert 65 <= len(catalogue.services) <= 80


@pytest.mark.parametrize("office", OFFICES)
def test_each_office_has_a_full_catalogue(catalogue: Catalogue, office: str) -> None:
    assert len(production(catalogue, office)) >= 12
    lifecycles = Counter(s.lifecycle for s in catalogue.services_of(office))
    for stage in (Lifecycle.pipeline, Lifecycle.deprecated, Lifecycle.retired):
        assert lifecycles[stage] >= 1, f"{office} has no {stage.value} service"


def test_every_probe_kind_is_used(catalogue: Catalogue) -> None:
    kinds = {p.kind for s in catalogue.services.values() for p in s.probes}
    assert kinds >= {"http", "tcp", "dns", "tls", "journey", "icmp", "heartbeat"}
    dialogues = {(s.id, p.id) for s in catalogue.services.values() for p in s.probes if getattr(p, "dialogue", None)}
    assert {("unon-mail-relay", "smtp"), ("unhq-identity", "ldap")} <= dialogues


def test_erp_holds_the_ten_second_step_objective(catalogue: Catalogue) -> None:
    erp = catalogue.services["unhq-erp"]
    sla = catalogue.sla(erp)
    assert sla.steps is not None and sla.steps.max_duration == 10.0
    journeys = [p for p in erp.probes if p.kind == "journey"]
    assert journeys, "the ERP needs a journey probe"
    for probe in journeys:
        assert set(erp.vantages(probe)) == set(OFFICES)
        assert all(step.max_duration == 10.0 for step in probe.steps)


def test_financial_systems_allow_no_unplanned_outage(catalogue: Catalogue) -> None:
    finance = [s for s in catalogue.services.values() if s.category == "finance" and s.lifecycle == Lifecycle.production]
    assert [s.id for s in finance] == ["unhq-finance"]
    assert catalogue.sla(finance[0]).unplanned_outages == 0


@pytest.mark.parametrize(
    "service_id",
    ["unhq-erp", "unhq-talent", "unhq-servicedesk", "unhq-identity", "unhq-email", "unhq-documents",
     "unhq-intranet", "unhq-website", "unhq-video", "unhq-remote-access", "unhq-finance"],
)
def test_enterprise_services_are_measured_from_every_office(catalogue: Catalogue, service_id: str) -> None:
    svc = catalogue.services[service_id]
    vantages = {v for p in svc.probes if p.enabled for v in svc.vantages(p)}
    assert vantages == set(OFFICES)


def test_every_file_carries_the_modeline() -> None:
    files = sorted((CATALOGUE / "services").glob("*/*.yaml"))
    assert files
    for path in files:
        assert path.read_text(encoding="utf-8").startswith(SERVICE_MODELINE), path
        assert path.stem.startswith(path.parent.name + "-"), path
    for name in ("offices", "tiers", "practices", "indicators"):
        text = (CATALOGUE / f"{name}.yaml").read_text(encoding="utf-8")
        assert text.startswith(f"# yaml-language-server: $schema=schema/{name}.schema.json\n"), name


def test_cross_references_hold(catalogue: Catalogue) -> None:
    """The rules the full validator enforces, checked on the bundled data directly."""
    for sid, svc in catalogue.services.items():
        path = Path(catalogue.sources[sid])
        assert path.parent.name == svc.office and path.stem == sid and sid.startswith(svc.office + "-")
        tier = catalogue.tiers[svc.tier]
        office = catalogue.offices[svc.office]
        sla = catalogue.sla(svc)
        for schedule in {tier.schedule, sla.schedule}:
            assert schedule == BUILTIN_CALENDAR or schedule in office.calendars, (sid, schedule)
        assert sla.availability >= tier.availability, sid
        if tier.latency and sla.latency:
            assert sla.latency.threshold <= tier.latency.threshold, sid
            assert sla.latency.percent >= tier.latency.percent, sid
        for dep in svc.depends_on:
            assert dep in catalogue.services, (sid, dep)
            if svc.lifecycle == Lifecycle.production:
                assert catalogue.services[dep].lifecycle != Lifecycle.retired, (sid, dep)
        for probe in svc.probes:
            assert set(svc.vantages(probe)) <= set(catalogue.offices), (sid, probe.id)
            assert probe.timeout < probe.interval, (sid, probe.id)
        if svc.lifecycle == Lifecycle.retired:
            assert not svc.probes, sid
        elif svc.lifecycle == Lifecycle.production:
            assert any(p.enabled for p in svc.probes), sid


def test_dependencies_form_no_cycle(catalogue: Catalogue) -> None:
    done: set[str] = set()

    def visit(sid: str, path: tuple[str, ...]) -> None:
        assert sid not in path, " -> ".join((*path, sid))
        if sid in done:
            return
        for dep in catalogue.services[sid].depends_on:
            visit(dep, (*path, sid))
        done.add(sid)

    for sid in catalogue.services:
        visit(sid, ())
    assert len(done) == len(catalogue.services)


def test_endpoints_are_public_or_placeholders(catalogue: Catalogue) -> None:
    """Internal hosts use <office>.example; the rest are real public UN sites."""
    public = re.compile(r"(^|\.)(un\.org|ungeneva\.org|unog\.ch|unov\.org|unvienna\.org|unodc\.org|unoosa\.org|unon\.org|unep\.org|unhabitat\.org)$")
    internal = re.compile(r"\.(unhq|unog|unov|unon)\.example$|^(unhq|unog|unov|unon)\.example$")
    for svc in catalogue.services.values():
        for probe in svc.probes:
            hosts = []
            if probe.kind == "http":
                hosts.append(re.sub(r"^https?://([^/:]+).*$", r"\1", probe.url))
            elif probe.kind == "journey":
                hosts += [re.sub(r"^https?://([^/:]+).*$", r"\1", s.url) for s in probe.steps]
            elif probe.kind in ("tcp", "tls", "icmp"):
                hosts.append(probe.host)
            elif probe.kind == "heartbeat":
                continue  # pushed to the daemon: no endpoint
            else:
                hosts.append(probe.name)
            for host in hosts:
                assert public.search(host) or internal.search(host), (svc.id, probe.id, host)
    assert catalogue.services["unhq-website"].probes[0].url.startswith("https://www.un.org/")


def test_secrets_are_environment_references_only() -> None:
    for path in sorted((CATALOGUE / "services").glob("*/*.yaml")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.search(r"(password|secret|token)\W*:", line, re.I) or "Bearer" in line:
                assert "${env:" in line, f"{path.name}: {line.strip()}"


def test_indicator_targets_cover_every_biennium_and_office(catalogue: Catalogue) -> None:
    ind = catalogue.indicators
    assert [i.code for i in ind.indicators] == ["(a)(i)", "(a)(ii)", "(b)"]
    bienniums = [t.biennium for t in ind.targets]
    assert bienniums == [f"{y}-{y + 1}" for y in range(2012, 2028, 2)]
    for t in ind.targets:
        assert sorted(t.offices) == sorted(OFFICES), t.biennium
        for office, values in t.offices.items():
            assert len(values) == 3, (t.biennium, office)
            for v in values.values():
                assert v.target >= v.baseline, (t.biennium, office)


@pytest.mark.parametrize("office", OFFICES)
def test_current_targets_match_the_bundled_counts(catalogue: Catalogue, office: str) -> None:
    """For the current biennium, each office sits between its baseline and its target."""
    current = next(t for t in catalogue.indicators.targets if t.biennium == CURRENT_BIENNIUM)
    values = current.offices[office]
    prod = production(catalogue, office)
    automated = sum(is_automated(s) for s in prod)
    aligned = sum(is_iso_aligned(s, catalogue.practices, CATALOGUE_DATE) for s in prod)
    auto_t = values["automated-services"]
    iso_t = values["iso-aligned-services"]
    assert auto_t.baseline <= automated < auto_t.target
    assert iso_t.baseline <= aligned < iso_t.target
    # not every service is ISO-aligned: the indicator has room to rise
    assert 0 < aligned < len(prod)


def test_design_example_fits_the_bundled_catalogue(tmp_path: Path) -> None:
    """The contract example of DESIGN.md loads beside the bundled services."""
    copy = tmp_path / "catalogue"
    shutil.copytree(CATALOGUE, copy, ignore=shutil.ignore_patterns("schema"))
    shutil.copy(ROOT / "tests" / "data" / "design_example_service.yaml", copy / "services" / "unog" / "unog-email.yaml")
    report = load_catalogue(copy)
    assert not report.errors, "\n".join(str(d) for d in report.errors)
    assert report.catalogue is not None and "unog-email" in report.catalogue.services
