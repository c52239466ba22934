"""One problem found in the catalogue, located at file:line:column."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    error = "error"
    warning = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    file: str
    line: int  # 1-based
    column: int  # 1-based
    code: str  # stable: E... errors, W... warnings
    path: str  # dotted path inside the document, e.g. probes[0].timeout
    message: str
    found: str | None = None
    severity: Severity = Severity.error

    def __str__(self) -> str:
        found = f" (found {self.found})" if self.found is not None else ""
        path = f" {self.path}:" if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {self.code}{path} {self.message}{found}"
