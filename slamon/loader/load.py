"""Reading the catalogue directory: every file, every rule, every problem in one pass.

Order of work: the four top-level files; then each service file on its own (YAML,
schema, secrets and references, its office, tier and calendar, its SLA against the tier,
its own warnings); then the rules across service files (duplicate ids, dependencies,
cycles, retired dependencies). A file that fails never stops the others from being
checked. The ``Catalogue`` is built only when no error was found.

``CatalogueLoader`` keeps, for each service file, what checking it on its own gave (its
validated service, its diagnostics, the places the rules across files may point at),
keyed by the file's path and a hash of its content. Loading again re-reads every file's
bytes but parses and validates only the files whose content changed (all of them when a
top-level file or the date changed, since the per-file checks read those), then runs the
rules across files over all of them. The daemon keeps one loader for its catalogue, so a
reload after an edit costs a directory walk and the rules across files, not a full load.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
import time
from collections.abc import Iterator
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
from slamon.loader.yaml_nodes import (
    DocPath,
    Document,
    YamlError,
    decode,
    parse_document,
    read_bytes,
)

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

    A service file's YAML nodes (many times the size of its data) are dropped as soon as the
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

    def path(self, rel: str) -> str:
        return self._file(rel)

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

    def read_raw(self, rel: str) -> bytes | None:
        """The file's bytes, or None after reporting why they cannot be read."""
        try:
            return read_bytes(self._file(rel))
        except YamlError as exc:
            self.add(rel, exc.line, exc.column, exc.code, "", exc.message, exc.found)
            return None

    def read(self, rel: str, raw: bytes | None = None) -> Document | None:
        if raw is None:
            raw = self.read_raw(rel)
            if raw is None:
                return None
        try:
            doc = parse_document(decode(raw))
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


@dataclass(slots=True)
class _FileResult:
    """What checking one service file on its own gave, for as long as its content stays."""

    digest: bytes
    signature: tuple[int, int, int, int]  # the file's (inode, size, mtime, ctime) when read
    source: ServiceSource | None  # None: the file is not YAML the rules can read
    service: Service | None  # None: the file has an error of its own
    diagnostics: tuple[Diagnostic, ...]
    places: dict[DocPath, tuple[int, int]]


@dataclass(frozen=True, slots=True)
class _Context:
    """What the checks of one service file read besides the file itself."""

    today: dt.date
    top: tuple[bytes | None, ...]  # the content hashes of the top-level files


_NO_SIGNATURE = (0, 0, 0, 0)


def _signature(path: str) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _digest(raw: bytes) -> bytes:
    return hashlib.blake2b(raw, digest_size=16).digest()


@dataclass
class LoadStats:
    """How the last load went: service files parsed and validated, and files reused."""

    files_checked: int = 0
    files_reused: int = 0
    files_read: int = 0  # service files whose bytes were read (the others' status was unchanged)


class CatalogueLoader:
    """Loads the catalogue at ``root`` again and again, checking only what changed.

    One load at a time (a lock); the results are the same as a full load's, in the same
    order (``tests/test_loader_incremental.py`` compares them)."""

    def __init__(self, root: Path | str, racy_seconds: float = 1.0) -> None:
        self.root = Path(root)
        self.racy_ns = int(racy_seconds * 1e9)
        self._files: dict[str, _FileResult] = {}
        self._context: _Context | None = None
        self._started_ns = 0  # when the last load started (time.time_ns)
        self._lock = threading.Lock()
        self.stats = LoadStats()

    def __call__(self, root: Path | str | None = None, today: dt.date | None = None) -> LoadReport:
        """``load``, callable as ``load_catalogue`` is (the monitor passes the root)."""
        if root is not None and Path(root) != self.root:
            raise ValueError(f"this loader reads {self.root}, not {root}")
        return self.load(today)

    def load(self, today: dt.date | None = None) -> LoadReport:
        """Validate the catalogue; ``today`` dates the practice-review warnings (default:
        the current UTC date)."""
        with self._lock:
            return self._load(today or dt.datetime.now(dt.UTC).date())

    def _load(self, today: dt.date) -> LoadReport:
        root = self.root
        p = _Pass(root)
        self.stats = stats = LoadStats()
        if not root.is_dir():
            p.add("", 1, 1, "E013", "", "the catalogue directory does not exist")
            self._files, self._context = {}, None
            return LoadReport(None, p.diagnostics)

        top: dict[str, Any] = {}
        top_digests: list[bytes | None] = []
        for name, model in TOP_FILES.items():
            if not (root / name).is_file():
                p.add(name, 1, 1, "E013", "", f"the catalogue needs {name}")
                top_digests.append(None)
                continue
            raw = p.read_raw(name)
            top_digests.append(_digest(raw) if raw is not None else None)
            doc = p.read(name, raw) if raw is not None else None
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

        context = _Context(today, tuple(top_digests))
        previous = self._files if context == self._context else {}
        kept: dict[str, _FileResult] = {}
        # a file whose status last changed well before the last load started, and is the
        # same now, still holds the content hashed then: no need to read it again (as
        # git's index does). Its ctime cannot be set back, so any write shows; a change
        # within a second of the last load is read again, whatever its times say.
        trusted_before_ns = self._started_ns - self.racy_ns
        self._started_ns = time.time_ns()

        # each service file on its own (and against the top-level files), unless its
        # content is the same as last time
        sources: list[ServiceSource] = []
        valid: list[tuple[ServiceSource, Service]] = []
        unreadable: list[str] = []
        for rel in _service_files(p):
            cached = previous.get(rel)
            signature = _signature(p.path(rel))
            if (
                cached is not None
                and signature is not None
                and cached.signature == signature
                and signature[3] < trusted_before_ns
            ):
                result = cached  # status unchanged since well before the last load
            else:
                raw = p.read_raw(rel)
                stats.files_read += 1
                if raw is None:
                    unreadable.append(rel)
                    continue
                digest = _digest(raw)
                if cached is not None and cached.digest == digest:
                    result = cached  # touched, same content
                else:
                    stats.files_checked += 1
                    result = _check_service_file(p, rel, raw, digest, offices, tiers, practices, today)
                result.signature = signature or _NO_SIGNATURE
            if result is cached:  # what checking it gave last time, unchanged
                stats.files_reused += 1
                p.diagnostics.extend(result.diagnostics)
                if result.places:
                    p.places[rel] = result.places
            kept[rel] = result
            if result.source is None:
                unreadable.append(rel)
                continue
            sources.append(result.source)
            if result.service is not None:
                valid.append((result.source, result.service))
        self._files, self._context = kept, context

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


def _check_service_file(
    p: _Pass,
    rel: str,
    raw: bytes,
    digest: bytes,
    offices: dict[str, Office] | None,
    tiers: dict[str, Tier] | None,
    practices: PracticesFile | None,
    today: dt.date,
) -> _FileResult:
    """One service file on its own (and against the top-level files); its YAML nodes are
    let go of at the end, keeping only the places the rules across files may point at."""
    start = len(p.diagnostics)
    doc = p.read(rel, raw)
    if doc is None:
        return _FileResult(digest, _NO_SIGNATURE, None, None, tuple(p.diagnostics[start:]), {})
    src = ServiceSource(rel, doc.data)
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
        local += advisories.service_warnings(rel, service, practices, today)
    for f in local:
        p.finding(f)
    p.forget(rel, [("id",), *(("depends_on", i) for i, _ in src.depends_on())])
    src.slim()
    return _FileResult(digest, _NO_SIGNATURE, src, service, tuple(p.diagnostics[start:]), p.places.get(rel, {}))


def load_catalogue(root: Path | str, today: dt.date | None = None) -> LoadReport:
    """Validate the catalogue at ``root`` once; ``today`` dates the practice-review
    warnings (default: the current UTC date). To load the same catalogue again, keep a
    ``CatalogueLoader``."""
    return CatalogueLoader(root).load(today)
