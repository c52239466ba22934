"""Reading the catalogue directory: every file, every rule, every problem in one pass.

Order of work: the four top-level files; then each service file on its own (YAML,
schema, secrets and references, its office, tier and calendar, its SLA against the tier,
its own warnings); then the rules across service files (duplicate ids, dependencies,
cycles, retired dependencies). A file that fails never stops the others from being
checked. The ``Catalogue`` is built only when no error was found.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from slamon.core.catalogue import Catalogue
from slamon.core.model import (
    IndicatorsFile,
    Lifecycle,
    Office,
    OfficesFile,
    PracticesFile,
    Service,
    Tier,
    TiersFile,
)
from slamon.loader import advisories, catalogue_rules, top_rules
from slamon.loader.catalogue_rules import ServiceSource
from slamon.loader.diagnostics import Diagnostic, Severity, without_shadowed
from slamon.loader.findings import Finding
from slamon.loader.messages import render_path, translate_all
from slamon.loader.service_rules import check_service_data
from slamon.loader.yaml_nodes import DocPath, Document, YamlError, read_document

TOP_FILES: dict[str, type[BaseModel]] = {
    "offices.yaml": OfficesFile,
    "tiers.yaml": TiersFile,
    "practices.yaml": PracticesFile,
    "indicators.yaml": IndicatorsFile,
}
SERVICES_DIR = "services"


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


class _Pass:
    """The state of one load: the documents being checked, and the diagnostics so far.

    A service file's YAML nodes (about 75 KB for a typical file) are dropped as soon as the
    file itself is checked; only the places the rules across files may point at (its id
    and its depends_on entries) are kept."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._base = str(root)
        self.docs: dict[str, Document] = {}
        self.places: dict[str, dict[DocPath, tuple[int, int]]] = {}
        self.diagnostics: list[Diagnostic] = []

    def forget(self, rel: str, keep: list[DocPath]) -> None:
        doc = self.docs.pop(rel, None)
        if doc is not None:
            self.places[rel] = {path: doc.position(path) for path in keep}

    def _file(self, rel: str) -> str:
        return f"{self._base}/{rel}" if rel else self._base

    def shown(self, rel: str) -> str:
        if rel and self._base not in (".", "/"):
            return f"{self._base}/{rel}"  # the same text as str(root / rel), without a path object
        return str(self.root / rel)

    def add(self, rel: str, line: int, column: int, code: str, path: str, message: str,
            found: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(self.shown(rel), line, column, code, path, message, found))

    def finding(self, f: Finding) -> None:
        doc = self.docs.get(f.file)
        if doc is not None:
            line, col = doc.position(f.path, at_key=f.at_key)
        else:
            line, col = self.places.get(f.file, {}).get(f.path, (1, 1))
        self.diagnostics.append(
            Diagnostic(self.shown(f.file), line, col, f.code, render_path(f.path), f.message, f.found,
                       f.severity, f.affects)
        )

    def read(self, rel: str) -> Document | None:
        try:
            doc = read_document(self._file(rel))
        except YamlError as exc:
            self.add(rel, exc.line, exc.column, exc.code, "", exc.message, exc.found)
            return None
        self.docs[rel] = doc
        for p in doc.problems:
            self.add(rel, p.line, p.column, p.code, render_path(p.path), p.message, p.found)
        return doc

    def validate(self, rel: str, doc: Document, model: type[BaseModel]) -> Any:
        try:
            return model.model_validate(doc.data)
        except ValidationError as exc:
            seen: set[tuple[str, tuple, str]] = set()
            translated = translate_all(exc, doc, model)
            # a misspelt field shows as unknown + missing: report it once, with the did-you-mean
            meant = {(*t.path[:-1], t.suggests) for t in translated if t.suggests}
            for t in translated:
                if t.code == "E101" and (*t.path, t.message.rsplit("'", 2)[-2]) in meant:
                    continue
                key = (t.code, t.path, t.message)
                if key in seen:  # unions can report one mistake more than once
                    continue
                seen.add(key)
                line, col = doc.position(t.anchor, at_key=t.at_key)
                self.add(rel, line, col, t.code, render_path(t.path), t.message, t.found)
            return None


def _service_files(p: _Pass) -> list[str]:
    """Catalogue-relative paths of service files; misplaced YAML files are reported.

    The entries ``Path.rglob("*")`` would give (symlinked folders listed, not entered), in
    the order of sorting their paths, found with ``os.scandir``: the file type comes with
    the folder listing, no ``stat`` and no path object per file."""
    base = p.root / SERVICES_DIR
    if not base.is_dir():
        return []
    out: list[str] = []
    for rel_parts, entry in sorted(_entries(str(base), (SERVICES_DIR,)), key=_first):
        if any(part.startswith(".") for part in rel_parts) or not _is_file(entry):
            continue
        rel = "/".join(rel_parts)
        suffix = _suffix(rel_parts[-1])
        if suffix == ".yml":
            p.add(rel, 1, 1, "E014", "", "service files end in .yaml; rename the file")
        elif suffix == ".yaml":
            if len(rel_parts) != 3:
                p.add(rel, 1, 1, "E014", "",
                      "a service file lives at services/<office>/<service-id>.yaml")
            else:
                out.append(rel)
    return out


def _entries(folder: str, rel: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], os.DirEntry[str]]]:
    """(catalogue-relative parts, entry) of everything below ``folder``, as ``rglob("*")``."""
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except PermissionError:
        return
    for entry in entries:
        parts = (*rel, entry.name)
        yield parts, entry
        try:
            descend = entry.is_dir() and not entry.is_symlink()
        except OSError:
            descend = False
        if descend:
            yield from _entries(entry.path, parts)


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()  # follows a symlink, as Path.is_file
    except OSError:
        return Path(entry.path).is_file()


def _suffix(name: str) -> str:
    """``Path(name).suffix``."""
    i = name.rfind(".")
    return name[i:] if 0 < i < len(name) - 1 else ""


def _first(item: tuple[tuple[str, ...], Any]) -> tuple[str, ...]:
    return item[0]


def _first_by_id(items: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        out.setdefault(item.id, item)  # a duplicate is reported (E115); the first one counts
    return out


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Loading builds many small, acyclic objects that all stay alive until the end;
    the cyclic collector would rescan them again and again (measured: it nearly doubles
    the load time of a 2,000-service catalogue). Nothing here forms cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            _settle()
            gc.enable()


def _settle() -> None:
    """Count what the load allocated as old, without scanning it.

    With the collector paused, every object of the load sits in the youngest generation,
    and the first allocation after ``gc.enable()`` would scan them all at once (a tenth of
    a second for 10,000 services) only to find them alive. ``freeze`` + ``unfreeze`` moves
    them, and everything else tracked, to the oldest generation: they are scanned with it,
    at the next full collection, as if they had already survived. Objects another part of
    the process froze stay frozen."""
    if gc.get_freeze_count():
        return  # unfreeze would thaw them too
    gc.freeze()
    gc.unfreeze()


def load_catalogue(root: Path | str, today: dt.date | None = None) -> LoadReport:
    """Validate the catalogue at ``root``; ``today`` dates the practice-review warnings
    (default: the current UTC date)."""
    with _gc_paused():
        return _load(Path(root), today)


def _load(root: Path, today: dt.date | None) -> LoadReport:
    today = today or dt.datetime.now(dt.UTC).date()
    p = _Pass(root)
    if not root.is_dir():
        p.add("", 1, 1, "E013", "", "the catalogue directory does not exist")
        return LoadReport(None, p.diagnostics)

    top: dict[str, Any] = {}
    for name, model in TOP_FILES.items():
        if not (root / name).is_file():
            p.add(name, 1, 1, "E013", "", f"the catalogue needs {name}")
            continue
        doc = p.read(name)
        if doc is not None:
            top[name] = p.validate(name, doc, model)

    offices_file: OfficesFile | None = top.get("offices.yaml")
    tiers_file: TiersFile | None = top.get("tiers.yaml")
    practices: PracticesFile | None = top.get("practices.yaml")
    indicators: IndicatorsFile | None = top.get("indicators.yaml")
    offices: dict[str, Office] | None = _first_by_id(offices_file.offices) if offices_file else None
    tiers: dict[str, Tier] | None = _first_by_id(tiers_file.tiers) if tiers_file else None

    findings: list[Finding] = []
    if offices_file:
        findings += top_rules.offices_rules("offices.yaml", offices_file)
    if tiers_file:
        findings += top_rules.tiers_rules("tiers.yaml", tiers_file, offices)
    if practices:
        findings += top_rules.practices_rules("practices.yaml", practices)
    if indicators:
        findings += top_rules.indicators_rules("indicators.yaml", indicators, offices)
    for f in findings:
        p.finding(f)

    # each service file on its own (and against the top-level files), then let go of its nodes
    sources: list[ServiceSource] = []
    valid: list[tuple[ServiceSource, Service]] = []
    unreadable: list[str] = []
    for rel in _service_files(p):
        doc = p.read(rel)
        if doc is None:
            unreadable.append(rel)
            continue
        src = ServiceSource(rel, doc.data)
        sources.append(src)
        local: list[Finding] = [
            *check_service_data(rel, doc.data),
            *catalogue_rules.layout(src),
            *catalogue_rules.references(src, offices, tiers),
        ]
        tier = tiers.get(src.text("tier") or "") if tiers else None
        if tier is not None:
            local += catalogue_rules.sla_against_tier(src, tier)
        service = p.validate(rel, doc, Service)
        if service is not None:
            valid.append((src, service))
            local += advisories.service_warnings(rel, service, practices, today)
        for f in local:
            p.finding(f)
        p.forget(rel, [("id",), *(("depends_on", i) for i, _ in src.depends_on())])
        src.slim()

    # rules across service files
    # a file that could not be read still names its service: do not call its dependants wrong
    known_ids = {sid for s in sources if (sid := s.text("id")) is not None}
    known_ids |= {Path(rel).stem for rel in unreadable}
    known_ids |= {s.stem for s in sources if s.text("id") is None}
    across: list[Finding] = [*catalogue_rules.duplicate_ids(sources), *catalogue_rules.cycles(sources)]
    for src in sources:
        if "depends_on" in src.data:  # the rule reads nothing else
            across += catalogue_rules.dependencies(src, known_ids)
    lifecycles: dict[str, Lifecycle] = {svc.id: svc.lifecycle for _, svc in valid}
    for src, svc in valid:
        if svc.depends_on:  # the rule reads nothing else
            across += advisories.retired_dependencies(src.file, svc, lifecycles)
    for f in across:
        p.finding(f)
    diagnostics = without_shadowed(sorted(p.diagnostics, key=Diagnostic.sort_key))

    catalogue = None
    if not any(d.severity is Severity.error for d in diagnostics):
        assert offices is not None and tiers is not None and practices and indicators
        catalogue = Catalogue(
            offices=offices,
            tiers=tiers,
            practices=practices,
            indicators=indicators,
            services={svc.id: svc for _, svc in valid},
            sources={svc.id: p.shown(src.file) for src, svc in valid},
        )
    return LoadReport(catalogue, diagnostics)
