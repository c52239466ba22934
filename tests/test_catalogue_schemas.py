"""The committed JSON Schemas match the models, validate the catalogue's YAML files with a
standard JSON Schema validator, and every file names its schema in an editor modeline."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from slamon.loader import load_catalogue, schema
from slamon.loader.load import TOP_FILES

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "catalogue"
SCHEMA_DIR = CATALOGUE / "schema"
MINI = ROOT / "tests" / "data" / "mini_catalogue"
DESIGN_EXAMPLE = ROOT / "tests" / "data" / "design_example_service.yaml"


def test_committed_schemas_are_not_stale():
    assert schema.stale(SCHEMA_DIR) == [], "run: slamon schema (and commit catalogue/schema/)"


def _as_json(value: Any) -> Any:
    """YAML dates as the strings an editor's YAML language server sees."""
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _kind(rel: Path) -> str:
    return "service" if rel.parts[0] == "services" else rel.stem


def _yaml_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.yaml") if "schema" not in p.relative_to(root).parts)


def _check_tree(root: Path) -> int:
    validators = {
        name: jsonschema.Draft202012Validator(schema.json_schema(name)) for name in schema.MODELS
    }
    checked = 0
    for path in _yaml_files(root):
        rel = path.relative_to(root)
        kind = _kind(rel)
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == schema.modeline(kind), f"{rel}: first line must be {schema.modeline(kind)!r}"
        target = (path.parent / first.split("$schema=", 1)[1]).resolve()
        assert target == (root / "schema" / schema.schema_file(kind)).resolve(), f"{rel}: modeline points at {target}"
        errors = [
            f"{rel}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validators[kind].iter_errors(_as_json(yaml.safe_load(path.read_text(encoding="utf-8"))))
        ]
        assert errors == []
        checked += 1
    return checked


def test_schemas_validate_the_mini_catalogue():
    assert _check_tree(MINI) == len(TOP_FILES) + 2


def test_schemas_reject_what_the_loader_rejects():
    validator = jsonschema.Draft202012Validator(schema.json_schema("service"))
    data = _as_json(yaml.safe_load(DESIGN_EXAMPLE.read_text()))
    assert not list(validator.iter_errors(data))
    data["probes"][1]["timout"] = "5s"
    data["lifecycle"] = "live"
    messages = [e.message for e in validator.iter_errors(data)]
    assert any("live" in m for m in messages)
    assert len(messages) >= 2


def test_the_bundled_catalogue_files_match_their_schemas_and_modelines():
    assert _check_tree(CATALOGUE) >= len(TOP_FILES) + 4 * 12


def test_the_bundled_catalogue_passes_check():
    from slamon.cli import main

    assert main(["check", str(CATALOGUE)]) == 0
    report = load_catalogue(CATALOGUE)
    assert [str(d) for d in report.errors] == []
    assert report.catalogue is not None
    for office in ("unhq", "unog", "unov", "unon"):
        production = [s for s in report.catalogue.services_of(office) if s.lifecycle.value == "production"]
        assert len(production) >= 12, office


def test_the_design_example_loads_valid(tmp_path):
    root = tmp_path / "catalogue"
    shutil.copytree(MINI, root)
    shutil.copyfile(DESIGN_EXAMPLE, root / "services" / "unog" / "unog-email.yaml")
    report = load_catalogue(root, today=dt.date(2026, 6, 1))
    assert report.diagnostics == []
    svc = report.catalogue.services["unog-email"]
    assert svc.probes[3].steps[1].form["password"] == "${env:UNOG_PROBE_PASSWORD}"
    assert svc.maintenance[0].duration == 7200.0
    assert report.catalogue.sla(svc).availability == 99.9


def test_every_code_is_documented_for_office_ict_units():
    from slamon.loader.codes import CODES

    doc = (ROOT / "docs" / "catalogue.md").read_text(encoding="utf-8")
    assert [c for c in CODES if f"| {c} |" not in doc] == []
