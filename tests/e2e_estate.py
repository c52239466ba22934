"""A small estate for the end-to-end test: three services probed every second.

``write_estate(root, target, ca_file)`` writes a valid catalogue into ``root`` whose
probes point at ``target`` (a ``tests.stack.TargetServer``):

- ``unhq-portal`` (gold: availability and latency objectives), probe ``web`` over
  HTTPS to ``localhost`` (so certificate and DNS-lookup series exist), automated with
  evidence and ISO-aligned, so it counts in every indicator;
- ``unog-wiki`` (silver), probe ``home`` over HTTPS at ``/wiki``: the service the test
  breaks (HTTPS so that its office and service dashboards have certificate panels);
- ``unog-library`` (bronze), probe ``home`` over plain HTTP at ``/library``.

Every probe: interval 1 s, timeout 0.5 s, failure threshold 2, always in service
hours (no schedule, no maintenance), so the in-scope SLI counters always count.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import yaml

DATA = Path(__file__).resolve().parent / "data" / "rules_catalogue"
BROKEN_SERVICE = ("unog", "unog-wiki", "/wiki")  # office, service, path on the target


def _biennium(today: dt.date) -> str:
    first = today.year if today.year % 2 == 0 else today.year - 1
    return f"{first}-{first + 1}"


def _probe(probe_id: str, url: str, **extra) -> dict:
    return {"id": probe_id, "kind": "http", "url": url, "interval": "1s", "timeout": "500ms",
            "failure_threshold": 2, **extra}


def _service(service_id: str, tier: str, probes: list[dict], *, automated: bool = False,
             practices: list[dict] | None = None) -> dict:
    office = service_id.split("-", 1)[0]
    automation = {"fulfilment": "automated", "evidence": f"https://git.{office}.example/ict/{service_id}"} \
        if automated else {"fulfilment": "manual"}
    doc = {
        "apiVersion": "slamon/v1",
        "kind": "Service",
        "id": service_id,
        "name": f"Service {service_id}",
        "office": office,
        "description": "End-to-end test service.",
        "owner": {"group": f"{office}-ict-e2e",
                  "contacts": [{"role": "service-owner", "name": "Team lead", "email": f"lead@{office}.example"}]},
        "category": "infrastructure",
        "lifecycle": "production",
        "tier": tier,
        "automation": automation,
        "probes": probes,
    }
    if practices:
        doc["practices"] = practices
    return doc


def write_estate(root: Path, target, ca_file: Path, today: dt.date | None = None) -> list[dict]:
    today = today or dt.datetime.now(dt.UTC).date()
    root.mkdir(parents=True, exist_ok=True)
    for name in ("offices.yaml", "tiers.yaml", "practices.yaml"):
        shutil.copy(DATA / name, root / name)
    indicators = yaml.safe_load((DATA / "indicators.yaml").read_text(encoding="utf-8"))
    figures = {"automated-services": {"baseline": 0, "target": 2},
               "services-meeting-levels": {"baseline": 50, "target": 90},
               "iso-aligned-services": {"baseline": 0, "target": 1}}
    indicators["targets"] = [{"biennium": _biennium(today), "offices": {"unhq": figures, "unog": figures}}]
    (root / "indicators.yaml").write_text(yaml.safe_dump(indicators, sort_keys=False), encoding="utf-8")
    reviewed = (today - dt.timedelta(days=30)).isoformat()
    services = [
        _service("unhq-portal", "gold", [_probe(
            "web", f"https://localhost:{target.tls_port}/portal", ca_file=str(ca_file), ip_version="4",
            expect={"status": [200], "body": "OK"})],
            automated=True,
            practices=[{"clause": c, "evidence": f"https://docs.unhq.example/{c}", "reviewed": reviewed}
                       for c in ("8.3.3", "8.6.1")]),
        _service("unog-wiki", "silver", [_probe(
            "home", f"https://localhost:{target.tls_port}/wiki", ca_file=str(ca_file), ip_version="4")]),
        _service("unog-library", "bronze", [_probe("home", f"{target.url}/library")]),
    ]
    for doc in services:
        path = root / "services" / doc["office"] / f"{doc['id']}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return services
