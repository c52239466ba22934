"""Synthetic catalogues for the scale benchmarks: N services from one template.

The offices, tiers, practices and indicators are the bundled catalogue's; the
services are copies of one realistic template spread over the four offices, each
with one HTTP probe pointing at its own endpoint of the target farm.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "catalogue"
OFFICES = ("unhq", "unog", "unov", "unon")
TIERS = ("gold", "silver", "bronze")

TEMPLATE = """\
# yaml-language-server: $schema=../../schema/service.schema.json
apiVersion: slamon/v1
kind: Service
id: {id}
name: Synthetic service {n}
office: {office}
description: Generated for the scale benchmarks from one template.
owner:
  group: {office}-ict-bench
  contacts:
    - {{role: service-owner, name: Bench owner, email: bench@{office}.example}}
category: infrastructure
lifecycle: production
tier: {tier}
automation:
  fulfilment: automated
  evidence: https://git.{office}.example/bench/{id}
practices:
  - {{clause: "8.3.3", evidence: https://docs.{office}.example/sla/{id}, reviewed: 2026-03-01}}
probes:
  - {{id: health, kind: http, url: "{base_url}/t/{n}", interval: {interval}, timeout: {timeout},
     expect: {{status: [200]}}}}
"""


def write_catalogue(
    dest: Path,
    services: int,
    base_url: str = "http://127.0.0.1:9/",
    interval: str = "60s",
    timeout: str = "5s",
) -> Path:
    """Write a catalogue of ``services`` services into ``dest`` (created); returns it."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("offices.yaml", "tiers.yaml", "practices.yaml", "indicators.yaml"):
        shutil.copy(BUNDLED / name, dest / name)
    base_url = base_url.rstrip("/")
    for office in OFFICES:
        (dest / "services" / office).mkdir(parents=True, exist_ok=True)
    for n in range(services):
        office = OFFICES[n % len(OFFICES)]
        sid = f"{office}-bench-{n:05d}"
        text = TEMPLATE.format(
            id=sid,
            n=n,
            office=office,
            tier=TIERS[n % len(TIERS)],
            base_url=base_url,
            interval=interval,
            timeout=timeout,
        )
        (dest / "services" / office / f"{sid}.yaml").write_text(text)
    return dest
