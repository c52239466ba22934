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


# the one owner of process-wide runtime policy (the collector, the C heap)
TUNING = "slamon.tuning"
PROCESS_WIDE = ("gc", "ctypes")


def test_only_the_tuning_module_touches_the_collector_or_the_c_heap():
    found = []
    for pkg in ("slamon", "exporters"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            mod = _module(path)
            if mod == TUNING:
                continue
            text = path.read_text(encoding="utf-8")
            bad = {i for i in _imports(path) if i.split(".")[0] in PROCESS_WIDE}
            if "malloc_trim" in text or "mallopt" in text:
                bad.add("malloc functions")
            if bad:
                found.append(f"{mod}: {sorted(bad)}")
    assert not found, f"process-wide switches outside {TUNING}: {found}"
    assert PROCESS_WIDE[0] in _imports(ROOT / "slamon" / "tuning.py")  # the check sees imports


def _imported_names(path: Path) -> set[str]:
    """Modules imported, with ``from a import b`` also as ``a.b`` (b may be a module)."""
    names = _imports(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_only_the_composition_root_calls_the_tuning_module():
    callers = []
    for pkg in ("slamon", "exporters"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            mod = _module(path)
            if TUNING in _imported_names(path):
                callers.append(mod)
                assert mod.startswith(COMPOSITION_ROOT), f"{mod} imports {TUNING}: only the composition root may"
    assert callers  # the daemon does
