"""Shared fixtures.

Integration tests need real programs (PostgreSQL, Prometheus, promtool, Alertmanager,
Chromium). Locally they skip with a clear reason when a program is absent; in CI
(``SLAMON_REQUIRE_INTEGRATION=1``, set by ``.ci/run``) an absent program fails the test.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE_DIR = ROOT / "catalogue"
DATA_DIR = Path(__file__).resolve().parent / "data"


def integration_required() -> bool:
    return os.environ.get("SLAMON_REQUIRE_INTEGRATION") == "1"


def missing(reason: str) -> None:
    """Skip locally, fail in CI: a missing real dependency is never a silent pass."""
    if integration_required():
        pytest.fail(f"required for integration tests: {reason}", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str, *candidates: str) -> str:
    """Path of a program, from PATH or the given candidate paths."""
    found = shutil.which(name)
    if found:
        return found
    for c in candidates:
        if os.access(c, os.X_OK):
            return c
    missing(f"{name} is not installed (Debian package; .ci/run installs it)")
    raise AssertionError("unreachable")


@pytest.fixture
def catalogue_dir() -> Path:
    return CATALOGUE_DIR
