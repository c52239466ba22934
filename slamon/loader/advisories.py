"""Warnings: what loads, but keeps a service out of an indicator (and says which)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from slamon.core.model import Fulfilment, Lifecycle, PracticesFile, Service
from slamon.loader.codes import INDICATOR_AUTOMATED, INDICATOR_ISO, INDICATOR_LEVELS
from slamon.loader.findings import Finding, warning


def service_warnings(
    file: str,
    service: Service,
    practices: PracticesFile | None,
    today: dt.date,
) -> Iterator[Finding]:
    """Warnings that one service file and practices.yaml decide."""
    if service.lifecycle == Lifecycle.retired:
        return
    auto = service.automation
    if auto.fulfilment == Fulfilment.automated and not auto.evidence:
        yield warning(file, ("automation", "fulfilment"), "W001",
                      f"fulfilment is automated but automation.evidence is missing: not counted in {INDICATOR_AUTOMATED}",
                      (INDICATOR_AUTOMATED,))

    profile = _clauses(practices) if practices else None
    max_age = practices.review_max_age_days if practices else 365
    oldest = today - dt.timedelta(days=max_age)
    for i, p in enumerate(service.practices):
        if profile is not None and p.clause not in profile:
            yield warning(file, ("practices", i, "clause"), "W005",
                          f"clause {p.clause} is not in practices.yaml: it counts for nothing in {INDICATOR_ISO}",
                          (INDICATOR_ISO,))
        if not p.evidence:
            yield warning(file, ("practices", i), "W002",
                          f"clause {p.clause} has no evidence: not counted in {INDICATOR_ISO}", (INDICATOR_ISO,))
        elif p.reviewed is None:
            yield warning(file, ("practices", i), "W003",
                          f"clause {p.clause} has no review date: not counted in {INDICATOR_ISO}", (INDICATOR_ISO,))
        elif p.reviewed < oldest:
            yield warning(file, ("practices", i, "reviewed"), "W003",
                          f"clause {p.clause} was last reviewed more than {max_age} days before {today.isoformat()}: "
                          f"not counted in {INDICATOR_ISO}", (INDICATOR_ISO,))
        elif p.reviewed > today:
            yield warning(file, ("practices", i, "reviewed"), "W003",
                          f"clause {p.clause} review date is after {today.isoformat()}: not counted in {INDICATOR_ISO}",
                          (INDICATOR_ISO,))

    if practices and service.practices and service.lifecycle == Lifecycle.production:
        required = [c.clause for c in practices.clauses if c.required]
        listed = {p.clause for p in service.practices}
        missing = [c for c in required if c not in listed]
        if missing:
            yield warning(file, ("practices",), "W007",
                          f"missing required clause(s) {', '.join(missing)} (practices.yaml requires "
                          f"{', '.join(required)}): not counted in {INDICATOR_ISO}", (INDICATOR_ISO,))

    if service.lifecycle == Lifecycle.production and not any(p.enabled for p in service.probes):
        yield warning(file, ("probes",), "W006",
                      f"production service with no enabled probe: not monitored, so not counted in "
                      f"{INDICATOR_AUTOMATED} nor {INDICATOR_LEVELS}", (INDICATOR_AUTOMATED, INDICATOR_LEVELS))


_last_clauses: tuple[PracticesFile | None, frozenset[str]] = (None, frozenset())


def _clauses(practices: PracticesFile) -> frozenset[str]:
    """The clauses of practices.yaml, worked out once for all the services of a load."""
    global _last_clauses
    if _last_clauses[0] is not practices:
        _last_clauses = (practices, frozenset(c.clause for c in practices.clauses))
    return _last_clauses[1]


def retired_dependencies(file: str, service: Service, lifecycles: dict[str, Lifecycle]) -> Iterator[Finding]:
    """A production service that relies on a retired one (needs the whole catalogue)."""
    if service.lifecycle != Lifecycle.production:
        return
    for i, dep in enumerate(service.depends_on):
        if lifecycles.get(dep) == Lifecycle.retired:
            yield warning(file, ("depends_on", i), "W004",
                          f"production service depends on retired service {dep!r}: what it relies on is no "
                          f"longer monitored, which puts it at risk in {INDICATOR_LEVELS}", (INDICATOR_LEVELS,))
