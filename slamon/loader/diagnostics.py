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
    code: str  # stable: E... errors, W... warnings (see slamon.loader.codes)
    path: str  # dotted path inside the document, e.g. probes[0].timeout
    message: str
    found: str | None = None
    severity: Severity = Severity.error
    # indicators a warning keeps the service out of, e.g. ("(a)(i)",)
    affects: tuple[str, ...] = ()

    def __str__(self) -> str:
        found = f" (found {self.found})" if self.found is not None else ""
        path = f" {self.path}:" if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {self.code}{path} {self.message}{found}"

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.column, self.code)

    def log_fields(self) -> dict[str, object]:
        """The fields of a ``catalogue_diagnostic`` log event (``as_dict`` with names a
        ``logging.LogRecord`` does not reserve: ``message`` becomes ``detail``)."""
        fields = self.as_dict()
        fields["detail"] = fields.pop("message")
        return {k: v for k, v in fields.items() if v not in (None, [])}

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "severity": self.severity.value,
            "path": self.path,
            "message": self.message,
            "found": self.found,
            "affects": list(self.affects),
        }


# a reference to something that does not exist (tier, office, calendar) says more than
# the format rule the same value also breaks ('Gold': "unknown tier; tiers: gold, ...")
_SHADOWING = frozenset({"E204", "E205", "E208"})
_SHADOWED = frozenset({"E105"})


def without_shadowed(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """``diagnostics`` less a format error at a place that also has an "unknown ..."
    error: one clear message per mistake."""
    places = {(d.file, d.line, d.column, d.path) for d in diagnostics if d.code in _SHADOWING}
    if not places:
        return diagnostics
    return [d for d in diagnostics
            if not (d.code in _SHADOWED and (d.file, d.line, d.column, d.path) in places)]
