"""What a rule reports: a code and a path in one file; ``load`` turns it into a located
``Diagnostic`` (line and column come from the file's YAML nodes)."""

from __future__ import annotations

from dataclasses import dataclass

from slamon.loader.diagnostics import Severity
from slamon.loader.yaml_nodes import DocPath


@dataclass(frozen=True, slots=True)
class Finding:
    file: str  # the source key (catalogue-relative path) of the file
    path: DocPath
    code: str
    message: str
    found: str | None = None
    severity: Severity = Severity.error
    affects: tuple[str, ...] = ()
    at_key: bool = False


def warning(file: str, path: DocPath, code: str, message: str, affects: tuple[str, ...]) -> Finding:
    return Finding(file, path, code, message, None, Severity.warning, affects)
