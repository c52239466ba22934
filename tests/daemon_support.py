"""A small valid catalogue written into a directory, for the daemon and scheduler tests."""

from __future__ import annotations

from pathlib import Path

import yaml
from aiohttp import web

OFFICES = ("unhq", "unog", "unov", "unon")
ZONES = {
    "unhq": "America/New_York",
    "unog": "Europe/Zurich",
    "unov": "Europe/Vienna",
    "unon": "Africa/Nairobi",
}


def _write(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def service_doc(service_id: str, probes: list[dict], lifecycle: str = "production") -> dict:
    office = service_id.split("-", 1)[0]
    return {
        "apiVersion": "slamon/v1",
        "kind": "Service",
        "id": service_id,
        "name": f"Service {service_id}",
        "office": office,
        "description": "A test service.",
        "owner": {
            "group": f"{office}-ict",
            "contacts": [{"role": "service-owner", "name": "Owner", "email": f"ict@{office}.example"}],
        },
        "category": "infrastructure",
        "lifecycle": lifecycle,
        "tier": "silver",
        "automation": {"fulfilment": "manual"},
        "probes": probes,
    }


def write_base(root: Path) -> None:
    _write(
        root / "offices.yaml",
        {
            "apiVersion": "slamon/v1",
            "kind": "Offices",
            "offices": [
                {"id": o, "name": o.upper(), "city": o, "timezone": ZONES[o], "headquarters": o == "unhq"}
                for o in OFFICES
            ],
        },
    )
    _write(
        root / "tiers.yaml",
        {
            "apiVersion": "slamon/v1",
            "kind": "Tiers",
            "tiers": [{"id": "silver", "name": "Silver", "benchmark": "test", "availability": 99.5}],
        },
    )
    _write(
        root / "practices.yaml",
        {
            "apiVersion": "slamon/v1",
            "kind": "Practices",
            "clauses": [{"clause": "8.3.3", "title": "Service level management"}],
        },
    )
    _write(
        root / "indicators.yaml",
        {
            "apiVersion": "slamon/v1",
            "kind": "Indicators",
            "indicators": [
                {"id": "automated-services", "code": "(a)(i)", "title": "Automated", "unit": "count"}
            ],
        },
    )


def write_service(root: Path, doc: dict) -> Path:
    path = root / "services" / doc["office"] / f"{doc['id']}.yaml"
    _write(path, doc)
    return path


def write_catalogue(root: Path, services: list[dict]) -> Path:
    write_base(root)
    for doc in services:
        write_service(root, doc)
    return root


def estate(n_per_office: int = 12) -> list[dict]:
    """A bundled-style estate: local services, enterprise ones probed from every office,
    a retired one and a disabled probe (neither scheduled)."""
    docs: list[dict] = []
    for office in OFFICES:
        for i in range(n_per_office):
            probes: list[dict] = [
                {"id": "web", "kind": "http", "url": f"https://svc{i}.{office}.example/healthz",
                 "interval": "60s", "timeout": "5s"},
            ]
            if i % 3 == 0:
                probes.append({"id": "tcp", "kind": "tcp", "host": f"svc{i}.{office}.example",
                               "port": 443, "interval": "30s", "timeout": "5s"})
            if i % 4 == 0:
                probes.append({"id": "everywhere", "kind": "http",
                               "url": f"https://svc{i}.{office}.example/", "from": list(OFFICES),
                               "interval": "5m", "timeout": "10s"})
            if i % 5 == 0:
                probes.append({"id": "off", "kind": "tcp", "host": "x.example", "port": 1,
                               "enabled": False})
            docs.append(service_doc(f"{office}-svc{i}", probes))
        docs.append(service_doc(f"{office}-old", [
            {"id": "web", "kind": "http", "url": f"https://old.{office}.example/"}], "retired"))
    return docs


class LoopbackServer:
    """An aiohttp app on 127.0.0.1 at a free port for the length of an ``async with``;
    subclasses add their routes in ``routes`` and find their address in ``base``."""

    base = ""

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def __aenter__(self):
        app = web.Application()
        self.routes(app)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        host, port = self.runner.addresses[0][:2]
        self.base = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc) -> None:
        await self.runner.cleanup()
