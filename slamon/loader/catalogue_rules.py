"""Rules across the whole catalogue: layout, cross-references, dependencies, SLA vs tier.

Each rule reads the raw data of every service file that could be parsed (so one broken
file does not hide the problems of another, nor make its dependants look wrong) and
the validated top-level files where they loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from slamon.core.durations import format_duration
from slamon.core.model import BUILTIN_CALENDAR, SLA, Office, Period, Tier
from slamon.loader.findings import Finding
from slamon.loader.messages import did_you_mean

# how long a measurement period is; a longer period than the tier's averages outages away
_PERIOD_RANK = {Period.month: 1, Period.rolling_30d: 1, Period.quarter: 2, Period.year: 3, Period.biennium: 4}


@dataclass
class ServiceSource:
    """One service file that parsed as YAML: its catalogue-relative path and raw data."""

    file: str  # e.g. services/unog/unog-email.yaml
    data: dict[str, Any]

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        return value if isinstance(value, str) else None

    # plain string work: the same as PurePosixPath(file).parent.name and .stem, which cost
    # a path object each, for every file
    @property
    def folder(self) -> str:
        parts = self.file.split("/")
        return parts[-2] if len(parts) > 1 else ""

    @property
    def stem(self) -> str:
        name = self.file.rsplit("/", 1)[-1]
        i = name.rfind(".")
        return name[:i] if 0 < i < len(name) - 1 else name

    # what the rules across files need once the rest of the file has been checked
    KEPT = ("id", "office", "depends_on")

    def slim(self) -> None:
        """Drop the data no rule across files needs (a large catalogue is loaded at once)."""
        self.data = {k: self.data[k] for k in self.KEPT if k in self.data}

    def depends_on(self) -> list[tuple[int, str]]:
        deps = self.data.get("depends_on")
        if not isinstance(deps, list):
            return []
        return [(i, d) for i, d in enumerate(deps) if isinstance(d, str)]


def layout(src: ServiceSource) -> Iterator[Finding]:
    """services/<office>/<id>.yaml: folder, office, id prefix and file name agree."""
    office, sid = src.text("office"), src.text("id")
    if office is not None and office != src.folder:
        yield Finding(
            src.file, ("office",), "E200",
            f"office must match the folder services/{src.folder}/; move the file or fix the office",
            repr(office),
        )
    if sid is not None and office is not None and not sid.startswith(office + "-"):
        yield Finding(src.file, ("id",), "E201", f"a service id starts with its office: {office}-...", repr(sid))
    if sid is not None and sid != src.stem:
        yield Finding(src.file, ("id",), "E202", f"the file must be named {sid}.yaml, after the service id",
                      f"{src.stem}.yaml")


def duplicate_ids(sources: list[ServiceSource]) -> Iterator[Finding]:
    first: dict[str, str] = {}
    for src in sources:
        sid = src.text("id")
        if sid is None:
            continue
        if sid in first:
            yield Finding(src.file, ("id",), "E203", f"service id {sid!r} is already used by {first[sid]}")
        else:
            first[sid] = src.file


def references(
    src: ServiceSource,
    offices: dict[str, Office] | None,
    tiers: dict[str, Tier] | None,
) -> Iterator[Finding]:
    """Offices, tiers, calendars and vantage offices that must exist."""
    office_id = src.text("office")
    office = offices.get(office_id) if offices is not None and office_id is not None else None
    if offices is not None and office_id is not None and office is None:
        yield Finding(src.file, ("office",), "E204", _unknown("office", office_id, list(offices)), repr(office_id))

    tier_id = src.text("tier")
    tier = tiers.get(tier_id) if tiers is not None and tier_id is not None else None
    if tiers is not None and tier_id is not None and tier is None:
        yield Finding(src.file, ("tier",), "E205", _unknown("tier", tier_id, list(tiers)), repr(tier_id))

    if office is not None:
        yield from _calendar(src, office, tier)

    probes = src.data.get("probes")
    if offices is not None and isinstance(probes, list):
        for i, probe in enumerate(probes):
            vantages = probe.get("from") if isinstance(probe, dict) else None
            if isinstance(vantages, list):
                for j, v in enumerate(vantages):
                    if isinstance(v, str) and v not in offices:
                        yield Finding(src.file, ("probes", i, "from", j), "E204",
                                      _unknown("vantage office", v, list(offices)), repr(v))


def dependencies(src: ServiceSource, known_ids: set[str]) -> Iterator[Finding]:
    """Every service named in depends_on exists."""
    for i, dep in src.depends_on():
        if dep not in known_ids:
            yield Finding(src.file, ("depends_on", i), "E206",
                          _unknown("service", dep, sorted(known_ids), listed=False), repr(dep))


def _unknown(what: str, value: str, known: list[str], *, listed: bool = True) -> str:
    guess = did_you_mean(value, known)
    if guess is None and value.lower() in known:
        guess = value.lower()
    hint = f"; did you mean {guess!r}?" if guess else ""
    if guess and guess == value.lower() and guess != value:
        hint += " (ids are lowercase)"
    if not listed or not known:
        return f"unknown {what}{hint}"
    shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
    return f"unknown {what}; known: {shown}{hint}"


def _calendar(src: ServiceSource, office: Office, tier: Tier | None) -> Iterator[Finding]:
    known = [BUILTIN_CALENDAR, *office.calendars]
    sla = src.data.get("sla")
    own = sla.get("schedule") if isinstance(sla, dict) else None
    if isinstance(own, str):
        if own not in known:
            yield Finding(src.file, ("sla", "schedule"), "E208",
                          f"{_unknown('calendar', own, known)} (calendars of office {office.id})", repr(own))
    elif tier is not None and tier.schedule not in known:
        yield Finding(
            src.file, ("tier",), "E208",
            f"tier {tier.id!r} measures on calendar {tier.schedule!r}, which office {office.id} does not "
            f"define; add it to offices.yaml or set sla.schedule (known: {', '.join(known)})",
        )


def sla_against_tier(src: ServiceSource, tier: Tier) -> Iterator[Finding]:
    """An SLA may tighten its tier, never loosen it."""
    raw = src.data.get("sla")
    if not isinstance(raw, dict):
        return
    try:
        sla = SLA.model_validate(raw)
    except ValidationError:
        return  # its own errors are reported by the schema
    if sla.availability is not None and sla.availability < tier.availability:
        yield Finding(src.file, ("sla", "availability"), "E209",
                      f"availability may not be lower than tier {tier.id!r} ({tier.availability:g}%)",
                      f"{sla.availability:g}")
    if sla.latency is not None and tier.latency is not None:
        if sla.latency.threshold > tier.latency.threshold:
            yield Finding(src.file, ("sla", "latency", "threshold"), "E210",
                          f"latency threshold may not be higher than tier {tier.id!r} "
                          f"({format_duration(tier.latency.threshold)})",
                          format_duration(sla.latency.threshold))
        if sla.latency.percent < tier.latency.percent:
            yield Finding(src.file, ("sla", "latency", "percent"), "E210",
                          f"latency percent may not be lower than tier {tier.id!r} ({tier.latency.percent:g}%)",
                          f"{sla.latency.percent:g}")
    if sla.period is not None and _PERIOD_RANK[sla.period] > _PERIOD_RANK[tier.period]:
        yield Finding(src.file, ("sla", "period"), "E211",
                      f"period may not be longer than tier {tier.id!r} ({tier.period.value}): "
                      "a longer period averages outages away",
                      repr(sla.period.value))


def cycles(sources: list[ServiceSource]) -> Iterator[Finding]:
    """Every dependency cycle, reported at the edge that closes it in each member."""
    by_id: dict[str, ServiceSource] = {}
    for src in sources:
        sid = src.text("id")
        if sid is not None:
            by_id.setdefault(sid, src)
    graph = {sid: [d for _, d in src.depends_on() if d in by_id] for sid, src in by_id.items()}
    # a service that depends on nothing is in no cycle: leave it out of the search (most are)
    linked = {sid: [d for d in deps if graph[d]] for sid, deps in graph.items() if deps}
    for component in _strongly_connected(linked):
        members = set(component)
        if len(component) == 1 and component[0] not in linked[component[0]]:
            continue
        for sid in sorted(members):
            src = by_id[sid]
            for i, dep in src.depends_on():
                if dep in members:
                    loop = _loop(graph, sid, dep, members)
                    yield Finding(src.file, ("depends_on", i), "E207",
                                  "dependency cycle: " + " -> ".join(loop), repr(dep))
                    break


def _loop(graph: dict[str, list[str]], start: str, first: str, members: set[str]) -> list[str]:
    """A path start -> first -> ... -> start inside one strongly connected component."""
    path = [start, first]
    seen = {first}
    node = first
    while node != start:
        nxt = next((d for d in graph[node] if d == start), None) or next(
            (d for d in graph[node] if d in members and d not in seen), None
        )
        if nxt is None:
            break
        path.append(nxt)
        seen.add(nxt)
        node = nxt
    return path


def _strongly_connected(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (a long chain of dependencies must not overflow)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            recurse = False
            edges = graph[node]
            while i < len(edges):
                nxt = edges[i]
                i += 1
                if nxt not in index:
                    work.append((node, i))
                    work.append((nxt, 0))
                    recurse = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if recurse:
                continue
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                out.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return out
