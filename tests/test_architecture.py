"""Imports flow one way: core <- adapters <- daemon/CLI; the engine never imports an exporter."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# the composition root: only these may know every part (including exporters)
COMPOSITION_ROOT = ("slamon.daemon", "slamon.cli", "slamon.demo", "slamon.__main__")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(pkg: str):
    for path in sorted((ROOT / pkg).rglob("*.py")):
        yield _module(path), _imports(path)


def test_core_imports_only_core():
    for mod, imports in _modules("slamon/core"):
        bad = {i for i in imports if i.startswith(("slamon", "exporters")) and not i.startswith("slamon.core")}
        assert not bad, f"{mod} (pure core) imports {sorted(bad)}"
        net = {i for i in imports if i.split(".")[0] in {"aiohttp", "asyncio", "socket", "sqlmodel", "sqlalchemy", "requests"}}
        assert not net, f"{mod} (pure core) does I/O through {sorted(net)}"


def test_adapters_do_not_import_the_composition_root_or_exporters():
    for mod, imports in _modules("slamon"):
        if mod.startswith(COMPOSITION_ROOT) or mod.startswith("slamon.core"):
            continue
        bad = {i for i in imports if i.startswith(COMPOSITION_ROOT) or i.startswith("exporters")}
        assert not bad, f"{mod} imports {sorted(bad)} against the flow"


def test_exporters_do_not_import_the_composition_root():
    for mod, imports in _modules("exporters"):
        bad = {i for i in imports if i.startswith(COMPOSITION_ROOT)}
        assert not bad, f"{mod} imports {sorted(bad)}"


def test_the_checks_see_modules():
    # guard against the walks above silently finding nothing
    assert any(m.startswith("slamon.core") for m, _ in _modules("slamon/core"))
