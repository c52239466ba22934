"""A small test estate built in code, shared by the indicator and /metrics tests.

Four offices (unov has no services), services in every lifecycle, automation with
and without evidence, an unprobed service, ISO gaps (missing clause, no evidence,
stale review), and probes from several vantages.
"""

from __future__ import annotations

from typing import Any

from slamon.core.catalogue import Catalogue
from slamon.core.model import IndicatorsFile, Office, PracticesFile, Service, Tier

OFFICES = {
    "unhq": ("New York", "America/New_York"),
    "unog": ("Geneva", "Europe/Zurich"),
    "unov": ("Vienna", "Europe/Vienna"),
    "unon": ("Nairobi", "Africa/Nairobi"),
}

GOOD_REVIEWS = [
    {"clause": "8.3.3", "evidence": "https://docs.example/sla", "reviewed": "2026-06-01"},
    {"clause": "8.6.1", "evidence": "https://docs.example/desk", "reviewed": "2026-05-01"},
]


def http(pid: str = "web", **extra: Any) -> dict:
    return {"id": pid, "kind": "http", "url": "https://svc.example/healthz", "interval": "60s", "timeout": "5s", **extra}


def service(
    sid: str,
    lifecycle: str = "production",
    fulfilment: str = "automated",
    evidence: str | None = "https://git.example/automation",
    practices: list | None = None,
    probes: list | None = None,
    tier: str = "gold",
    sla: dict | None = None,
    category: str = "infrastructure",
    extra: dict | None = None,
) -> Service:
    office = sid.split("-", 1)[0]
    doc: dict[str, Any] = {
        "apiVersion": "slamon/v1",
        "kind": "Service",
        "id": sid,
        "name": sid.replace("-", " ").title(),
        "office": office,
        "description": f"Test service {sid}.",
        "owner": {
            "group": f"{office}-ict",
            "contacts": [{"role": "service-owner", "name": "Owner", "email": f"owner@{office}.example"}],
        },
        "category": category,
        "lifecycle": lifecycle,
        "tier": tier,
        "automation": {"fulfilment": fulfilment, **({"evidence": evidence} if evidence else {})},
        "practices": GOOD_REVIEWS if practices is None else practices,
        "probes": [http()] if probes is None else probes,
    }
    if sla:
        doc["sla"] = sla
    doc.update(extra or {})
    return Service.model_validate(doc)


def estate_services() -> list[Service]:
    return [
        # unhq
        service("unhq-erp", probes=[http("login", **{"from": ["unhq", "unog", "unon"]})],
                sla={"latency": {"threshold": "2s", "percent": 95}}, category="enterprise-applications"),
        service("unhq-identity", evidence=None, practices=GOOD_REVIEWS[:1]),
        service("unhq-intranet", fulfilment="manual", evidence=None, practices=[
            {"clause": "8.3.3", "evidence": "https://docs.example/a", "reviewed": "2025-09-01"},
            {"clause": "8.6.1", "evidence": "https://docs.example/b", "reviewed": "2025-10-01"},
        ]),
        service("unhq-newportal", lifecycle="pipeline"),
        # unog
        service("unog-email", probes=[
            {"id": "smtp", "kind": "tcp", "host": "smtp.unog.example", "port": 25, "interval": "60s", "timeout": "5s"},
            {"id": "cert", "kind": "tls", "host": "mail.unog.example", "interval": "1h", "timeout": "10s"},
        ]),
        service("unog-library", probes=[], practices=[
            {"clause": "8.3.3", "reviewed": "2026-06-01"},
            GOOD_REVIEWS[1],
        ]),
        service("unog-conference", fulfilment="partial",
                probes=[http("portal", **{"from": ["unog", "unov"]})], category="conference-services"),
        service("unog-web", fulfilment="manual", evidence=None, practices=[]),
        service("unog-oldweb", lifecycle="retired"),
        # unon
        service("unon-network"),
        service("unon-hosting", lifecycle="deprecated", category="hosting"),
        service("unon-dns", probes=[
            {"id": "resolve", "kind": "dns", "name": "www.unon.example", "interval": "60s", "timeout": "2s"},
        ]),
    ]


def practices_file() -> PracticesFile:
    return PracticesFile.model_validate({
        "apiVersion": "slamon/v1",
        "kind": "Practices",
        "review_max_age_days": 365,
        "clauses": [
            {"clause": "8.3.3", "title": "Service level management"},
            {"clause": "8.6.1", "title": "Incident management"},
            {"clause": "8.7.1", "title": "Service availability", "required": False},
        ],
    })


def indicators_file() -> IndicatorsFile:
    def bt(b: float, t: float) -> dict:
        return {"baseline": b, "target": t}

    return IndicatorsFile.model_validate({
        "apiVersion": "slamon/v1",
        "kind": "Indicators",
        "indicators": [
            {"id": "automated-services", "code": "(a)(i)", "title": "Automated services", "unit": "count"},
            {"id": "services-meeting-levels", "code": "(a)(ii)", "title": "Services meeting levels", "unit": "percent"},
            {"id": "iso-aligned-services", "code": "(b)", "title": "ISO-aligned services", "unit": "count"},
        ],
        "targets": [
            {"biennium": "2024-2025", "offices": {
                "unhq": {"automated-services": bt(0, 1)},
            }},
            {"biennium": "2026-2027", "offices": {
                "unhq": {"automated-services": bt(1, 2), "services-meeting-levels": bt(50, 75),
                         "iso-aligned-services": bt(0, 2)},
                "unog": {"automated-services": bt(0, 2), "services-meeting-levels": bt(40, 70),
                         "iso-aligned-services": bt(1, 3)},
                "unon": {"automated-services": bt(1, 1), "services-meeting-levels": bt(20, 50),
                         "iso-aligned-services": bt(0, 1)},
                "all": {"services-meeting-levels": bt(45, 70)},
            }},
        ],
    })


def tiers() -> dict[str, Tier]:
    gold = Tier.model_validate({
        "id": "gold", "name": "Gold", "benchmark": "test", "availability": 99.9,
        "latency": {"threshold": "1s", "percent": 90},
    })
    bronze = Tier.model_validate({"id": "bronze", "name": "Bronze", "benchmark": "test", "availability": 99.0})
    return {"gold": gold, "bronze": bronze}


def catalogue(services: list[Service] | None = None) -> Catalogue:
    services = estate_services() if services is None else services
    offices = {
        oid: Office.model_validate({"id": oid, "name": name, "city": name, "timezone": tz})
        for oid, (name, tz) in OFFICES.items()
    }
    return Catalogue(
        offices=offices,
        tiers=tiers(),
        practices=practices_file(),
        indicators=indicators_file(),
        services={s.id: s for s in services},
    )
