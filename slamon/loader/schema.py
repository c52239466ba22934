"""JSON Schemas of the catalogue files, generated from the pydantic models.

Editors (the YAML language server behind VS Code, IntelliJ, Neovim...) read them through
the modeline at the top of each file and then complete and check fields as you type.
``slamon schema`` writes them to ``catalogue/schema/``; a test keeps them in step with
the models.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from slamon.core.model import IndicatorsFile, OfficesFile, PracticesFile, Service, TiersFile

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
MODELS: dict[str, type[BaseModel]] = {
    "service": Service,
    "offices": OfficesFile,
    "tiers": TiersFile,
    "practices": PracticesFile,
    "indicators": IndicatorsFile,
}


def schema_file(name: str) -> str:
    return f"{name}.schema.json"


def modeline(name: str) -> str:
    """The first line of a catalogue file of this kind (services sit two folders down)."""
    where = f"../../schema/{schema_file(name)}" if name == "service" else f"schema/{schema_file(name)}"
    return f"# yaml-language-server: $schema={where}"


def json_schema(name: str) -> dict:
    body = MODELS[name].model_json_schema(by_alias=True, mode="validation")
    return {"$schema": SCHEMA_DIALECT, "$id": schema_file(name), **body}


def rendered() -> dict[str, str]:
    """File name -> exact text of every schema (stable: same models, same bytes)."""
    return {
        schema_file(name): json.dumps(json_schema(name), indent=2, ensure_ascii=False) + "\n"
        for name in MODELS
    }


def write(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fname, text in rendered().items():
        path = out_dir / fname
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale(out_dir: Path) -> list[str]:
    """Names of schema files that are missing or differ from the models."""
    out = []
    for fname, text in rendered().items():
        path = out_dir / fname
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            out.append(fname)
    return out
