"""The demo catalogue: the bundled one with every probe pointed at the loopback estate.

Offices, tiers, practices and indicators are copied as they are; each service file is
rewritten with its probes' URLs, hosts, ports and DNS servers replaced by the estate's
addresses, the demo CA as ``ca_file``, and intervals shortened so the demo is lively.
A ``tcp`` probe with ``tls: true`` is probed in clear (a ``tcp`` probe has no
``ca_file`` to trust the demo CA with); ``tls`` probes still check certificates.
A ``tcp`` dialogue is probed as its greeting (the first step, when it only listens)
or as a plain connect: the estate holds no SMTP or LDAP conversation. ``icmp`` probes
ping 127.0.0.1 for real (the daemon needs ICMP sockets: see docs/probes.md).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from slamon.core.model import TcpProbe
from slamon.demo.estate import Estate, banner_pattern

TOP_FILES = ("offices.yaml", "tiers.yaml", "practices.yaml", "indicators.yaml")
SECRET_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
DEFAULT_INTERVAL_SECONDS = 15.0

HEADER = (
    "# yaml-language-server: $schema=../../schema/service.schema.json\n"
    "# Demo copy written by `slamon demo`: probes point at the simulated estate on\n"
    "# 127.0.0.1. Edits are overwritten at the next `slamon demo`.\n"
)


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _rebase(url: str, base: str) -> str:
    parts = urlsplit(url)
    return base + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _intervals(kind: str, base: float) -> float:
    return {"journey": 2 * base, "tls": 4 * base}.get(kind, base)


def _timeout(raw: object, interval: float) -> float:
    from slamon.core.durations import parse_duration

    timeout = parse_duration(str(raw)) if raw is not None else 10.0
    return max(0.5, min(timeout, interval * 0.8))


def rewrite_probe(raw: dict, service_id: str, estate: Estate, base_interval: float) -> dict:
    probe = dict(raw)
    kind = probe["kind"]
    if kind == "heartbeat":
        return _rewrite_heartbeat(probe, base_interval)
    addr = estate.address(service_id, probe["id"])
    interval = _intervals(kind, base_interval)
    probe["interval"] = _seconds(interval)
    probe["timeout"] = _seconds(_timeout(probe.get("timeout"), interval))
    if kind == "http":
        probe["url"] = _rebase(probe["url"], addr.url_base)
        if addr.url_base.startswith("https:"):
            probe["ca_file"] = addr.ca_file
            probe["tls_verify"] = True
        probe.pop("ip_version", None)
    elif kind == "journey":
        probe["steps"] = [{**step, "url": _rebase(step["url"], addr.url_base)} for step in probe["steps"]]
        if addr.url_base.startswith("https:"):
            probe["ca_file"] = addr.ca_file
            probe["tls_verify"] = True
    elif kind == "tcp":
        probe.update(host=addr.host, port=addr.port)
        probe.pop("tls", None)
        probe.pop("ip_version", None)
        if "dialogue" in probe:  # the estate greets but holds no conversation
            model = next(p for p in estate.catalogue.services[service_id].probes if p.id == probe["id"])
            assert isinstance(model, TcpProbe)
            del probe["dialogue"]
            greeting = banner_pattern(model)
            if greeting:
                probe["expect"] = greeting
    elif kind == "icmp":
        probe["host"] = addr.host
        probe.pop("ip_version", None)
    elif kind == "tls":
        probe.update(host=addr.host, port=addr.port, ca_file=addr.ca_file, verify=True)
        probe.pop("server_name", None)
    elif kind == "dns":
        probe.update(server=addr.host, port=addr.port, transport="udp")
    return probe


def _rewrite_heartbeat(probe: dict, base_interval: float) -> dict:
    """A heartbeat is expected every four base intervals (the demo sends one every two),
    whatever its schedule in the bundled catalogue (a nightly cron would say nothing for
    a day)."""
    probe.pop("cron", None)
    probe.pop("timeout", None)
    probe["every"] = _seconds(4 * base_interval)
    probe["grace"] = _seconds(base_interval)
    probe["interval"] = _seconds(base_interval)
    return probe


def heartbeat_probes(catalogue_dir: Path) -> list[tuple[str, str, str]]:
    """``(service, probe, token variable)`` of each enabled heartbeat probe of a catalogue."""
    found: list[tuple[str, str, str]] = []
    for path in sorted(catalogue_dir.glob("services/*/*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if data.get("lifecycle") == "retired":
            continue
        for probe in data.get("probes") or []:
            if probe.get("kind") == "heartbeat" and probe.get("enabled", True):
                m = SECRET_REF.fullmatch(str(probe.get("token", "")))
                if m:
                    found.append((data["id"], probe["id"], m.group(1)))
    return found


def derive_catalogue(
    source: Path, target: Path, estate: Estate, base_interval: float = DEFAULT_INTERVAL_SECONDS
) -> Path:
    """Write the demo catalogue for ``estate`` into ``target`` (replacing it); returns it."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in TOP_FILES:
        shutil.copyfile(source / name, target / name)
    if (source / "schema").is_dir():
        shutil.copytree(source / "schema", target / "schema")
    for path in sorted((source / "services").glob("*/*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["probes"] = [
            rewrite_probe(p, data["id"], estate, base_interval) for p in data.get("probes") or []
        ]
        out = target / "services" / path.parent.name / path.name
        out.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
        out.write_text(HEADER + text, encoding="utf-8")
    return target


def secret_names(catalogue_dir: Path) -> list[str]:
    """The ``${env:NAME}`` references of a catalogue (the demo gives each a value)."""
    names: set[str] = set()
    for path in catalogue_dir.glob("services/*/*.yaml"):
        names.update(SECRET_REF.findall(path.read_text(encoding="utf-8")))
    return sorted(names)
