"""Rules on the top-level files (offices, tiers, practices, indicators) beyond their schema."""

from __future__ import annotations

from collections.abc import Iterator

from slamon.core.model import (
    BUILTIN_CALENDAR,
    IndicatorId,
    IndicatorsFile,
    Office,
    OfficesFile,
    PracticesFile,
    TiersFile,
)
from slamon.loader.findings import Finding


def _duplicates(file: str, items: list[str], list_name: str, key: str, what: str) -> Iterator[Finding]:
    seen: dict[str, int] = {}
    for i, value in enumerate(items):
        if value in seen:
            yield Finding(file, (list_name, i, key), "E115",
                          f"{what} {value!r} is already defined at {list_name}[{seen[value]}]")
        else:
            seen[value] = i


def offices_rules(file: str, offices: OfficesFile) -> Iterator[Finding]:
    yield from _duplicates(file, [o.id for o in offices.offices], "offices", "id", "office")


def tiers_rules(file: str, tiers: TiersFile, offices: dict[str, Office] | None) -> Iterator[Finding]:
    yield from _duplicates(file, [t.id for t in tiers.tiers], "tiers", "id", "tier")
    if offices is None:
        return
    calendars = {BUILTIN_CALENDAR} | {c for o in offices.values() for c in o.calendars}
    for i, tier in enumerate(tiers.tiers):
        if tier.schedule not in calendars:
            yield Finding(file, ("tiers", i, "schedule"), "E208",
                          f"no office defines calendar {tier.schedule!r}; known: {', '.join(sorted(calendars))}",
                          repr(tier.schedule))


def practices_rules(file: str, practices: PracticesFile) -> Iterator[Finding]:
    yield from _duplicates(file, [c.clause for c in practices.clauses], "clauses", "clause", "clause")


def indicators_rules(file: str, indicators: IndicatorsFile, offices: dict[str, Office] | None) -> Iterator[Finding]:
    yield from _duplicates(file, [d.id.value for d in indicators.indicators], "indicators", "id", "indicator")
    yield from _duplicates(file, [t.biennium for t in indicators.targets], "targets", "biennium", "biennium")
    for i, d in enumerate(indicators.indicators):
        if d.method is not None and d.id is not IndicatorId.services_meeting_levels:
            yield Finding(file, ("indicators", i, "method"), "E114",
                          "method applies to services-meeting-levels only", repr(d.method), at_key=True)
    if offices is None:
        return
    for i, block in enumerate(indicators.targets):
        for office in block.offices:
            if office not in offices:
                yield Finding(file, ("targets", i, "offices", office), "E204",
                              f"unknown office; known: {', '.join(offices)}", repr(office), at_key=True)
