"""Provisional loader: plain YAML + pydantic, without line-accurate locations.

Replaced by the full validator (issue 2); the API (``load_catalogue`` and
``LoadReport``) stays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from slamon.core.catalogue import Catalogue
from slamon.core.model import IndicatorsFile, OfficesFile, PracticesFile, Service, TiersFile
from slamon.loader.diagnostics import Diagnostic, Severity


@dataclass
class LoadReport:
    catalogue: Catalogue | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.warning]

    @property
    def ok(self) -> bool:
        return not self.errors


def _read(path: Path, model, diags: list[Diagnostic]):
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return model.model_validate(data)
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        diags.append(Diagnostic(str(path), 1, 1, "E001", "", f"cannot read: {exc}"))
    except ValidationError as exc:
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            diags.append(Diagnostic(str(path), 1, 1, "E100", loc, err["msg"]))
    return None


def load_catalogue(root: Path) -> LoadReport:
    root = Path(root)
    diags: list[Diagnostic] = []
    offices = _read(root / "offices.yaml", OfficesFile, diags)
    tiers = _read(root / "tiers.yaml", TiersFile, diags)
    practices = _read(root / "practices.yaml", PracticesFile, diags)
    indicators = _read(root / "indicators.yaml", IndicatorsFile, diags)
    services: dict[str, Service] = {}
    sources: dict[str, str] = {}
    for path in sorted((root / "services").glob("*/*.yaml")):
        svc = _read(path, Service, diags)
        if svc is not None:
            services[svc.id] = svc
            sources[svc.id] = str(path)
    if diags or not (offices and tiers and practices and indicators):
        return LoadReport(None, diags)
    cat = Catalogue(
        offices={o.id: o for o in offices.offices},
        tiers={t.id: t for t in tiers.tiers},
        practices=practices,
        indicators=indicators,
        services=services,
        sources=sources,
    )
    return LoadReport(cat, diags)
