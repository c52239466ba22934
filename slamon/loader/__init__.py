"""Reading the catalogue directory into a validated ``Catalogue``.

Public API (used by the daemon, the CLI and tests):

    report = load_catalogue(Path("catalogue"), today=None)  # today: ages practice reviews
    loader = CatalogueLoader(Path("catalogue"))  # kept by the daemon: a reload re-checks
    report = loader.load()                       # only the files whose content changed
    report.catalogue      # Catalogue, or None when any error was found
    report.diagnostics    # every problem found, errors and warnings, in file/line order
    report.errors, report.warnings, report.ok

A diagnostic prints as ``file:line:column: CODE path: message (found ...)``; the codes
are stable and listed in ``slamon.loader.codes.CODES``. The modules:

- ``yaml_nodes``: safe YAML reading that keeps every node's place (hostile input refused)
- ``messages``: pydantic errors -> codes, places and friendly messages
- ``service_rules``: secrets in clear, ${...} references, journey variables (one file)
- ``catalogue_rules`` / ``top_rules``: rules across files; ``advisories``: the warnings
- ``schema``: the JSON Schemas for editors; ``load``: the orchestration and the per-file
  cache of ``CatalogueLoader``
"""

from __future__ import annotations

from slamon.loader.codes import CODES
from slamon.loader.diagnostics import Diagnostic, Severity
from slamon.loader.load import CatalogueLoader, LoadReport, LoadStats, load_catalogue

__all__ = ["CODES", "CatalogueLoader", "Diagnostic", "LoadReport", "LoadStats", "Severity", "load_catalogue"]
