"""Reading the catalogue directory into a validated ``Catalogue``.

Public API (used by the daemon, the CLI and tests):

    report = load_catalogue(Path("catalogue"))
    report.catalogue      # Catalogue, or None when any error was found
    report.diagnostics    # every problem found, errors and warnings, in file/line order
    report.errors, report.warnings

A diagnostic prints as ``file:line:column: CODE path: message (found ...)``.
"""

from __future__ import annotations

from slamon.loader.diagnostics import Diagnostic, Severity
from slamon.loader.load import LoadReport, load_catalogue

__all__ = ["Diagnostic", "LoadReport", "Severity", "load_catalogue"]
