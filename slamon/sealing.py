"""Sealing closed SLA periods: their measures written once as sealed period aggregates.

An adapter beside ``slamon.assess``: it measures a closed period from the day rollups
(``assess_period(..., use_sealed=False)``), turns each (service, vantage) measure into
a ``SealedPeriod`` (``slamon.core.sla.sealed.seal``, with the outage runs) and writes
them (``Store.seal_periods``: write-once; a period already sealed is left alone).

- the daemon's evaluator seals each service's previous period once it has been closed
  for ``SEAL_GRACE`` (results still buffered at the close reach the store first);
- ``seal_backlog`` seals every closed period already in a store (``slamon store seal``
  and the daemon at start): resumable and idempotent, a period at a time.

Blocking (database reads and writes): the daemon calls it from a worker thread.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable

from slamon.assess import Assessment, assess_period
from slamon.core.catalogue import Catalogue
from slamon.core.indicators import probed_from
from slamon.core.model import Period
from slamon.core.sla.masks import MaskCache
from slamon.core.sla.periods import PeriodWindow, local_midnight, period_containing
from slamon.core.sla.sealed import SealedPeriod, seal
from slamon.store import Store

log = logging.getLogger("slamon.sla")

SEAL_GRACE = dt.timedelta(hours=1)
"""How long after its end a period is sealed: results of its last minutes still waiting
in a daemon's buffer (at most about half an hour at the default bound) are stored by then."""


def sealable(window: PeriodWindow, now: dt.datetime, grace: dt.timedelta = SEAL_GRACE) -> bool:
    return window.kind != Period.rolling_30d and window.end + grace <= now


def seal_label(
    store: Store,
    catalogue: Catalogue,
    label: str,
    now: dt.datetime,
    *,
    service_ids: Iterable[str],
    vantages: Iterable[str] | None = None,
    cache: MaskCache | None = None,
    grace: dt.timedelta = SEAL_GRACE,
    progress: Callable[[int], None] | None = None,
) -> tuple[Assessment, int]:
    """Measure ``label`` (each service's own window of that label) from the rollups and
    seal what is closed (for ``grace``). Returns the assessment and how many periods
    were sealed now (those sealed before are left as they were)."""
    cache = cache if cache is not None else MaskCache()
    records: list[SealedPeriod] = []

    def keep(context, m, series, dependency_bad) -> None:
        if sealable(m.period, now, grace):
            records.append(seal(m, context, series, cache, now, dependency_bad))

    a = assess_period(
        store, catalogue, label, now, service_ids=service_ids, vantages=vantages, cache=cache,
        use_sealed=False, on_measured=keep, progress=progress,
    )  # fmt: skip
    return a, store.seal_periods(records)


def backlog(
    store: Store,
    catalogue: Catalogue,
    now: dt.datetime,
    *,
    service_ids: Iterable[str] | None = None,
    vantages: Iterable[str] | None = None,
    grace: dt.timedelta = SEAL_GRACE,
) -> list[tuple[str, list[str]]]:
    """The closed periods not yet sealed, oldest first: (label, service ids). Periods from
    the start of the biennium holding the store's first rollup (so that a report of any
    period in it reads sealed records from its start, even before data began); a period
    counts as sealed when it is sealed at every vantage its service is probed from
    (``vantages``: only these)."""
    first = store.first_rollup_day()
    if first is None:
        return []
    first_year = dt.date(first.year - first.year % 2, 1, 1)
    done = store.sealed_keys(dt.datetime.combine(first_year, dt.time(), dt.UTC) - dt.timedelta(days=1), now)
    wanted_ids = set(service_ids) if service_ids is not None else None
    only = set(vantages) if vantages is not None else None
    due: dict[tuple[dt.datetime, str], list[str]] = defaultdict(list)
    for s in catalogue.services.values():
        if (wanted_ids is not None and s.id not in wanted_ids) or s.office not in catalogue.offices:
            continue
        if s.tier not in catalogue.tiers:
            continue
        kind = catalogue.sla(s).period
        if kind == Period.rolling_30d:
            continue
        tz = catalogue.offices[s.office].timezone
        at = probed_from(s) if only is None else probed_from(s) & only
        window = period_containing(kind, local_midnight(first_year, tz), tz)
        while sealable(window, now, grace):
            if not at or any((s.id, v, window.start) not in done for v in at):
                due[(window.start, window.label)].append(s.id)
            window = period_containing(kind, window.end, tz)
    by_label: dict[str, list[str]] = {}
    for (_start, label), ids in sorted(due.items()):
        by_label.setdefault(label, []).extend(ids)
    return list(by_label.items())


def seal_backlog(
    store: Store,
    catalogue: Catalogue,
    now: dt.datetime,
    *,
    service_ids: Iterable[str] | None = None,
    vantages: Iterable[str] | None = None,
    grace: dt.timedelta = SEAL_GRACE,
    progress: Callable[[int], Callable[[int], None]] | None = None,
    stop: Callable[[], bool] | None = None,
) -> int:
    """Seal every closed period already in the store from its rollups; returns how many
    periods were sealed. Resumable (each label is committed as it is done; a run after
    an interruption starts from what is left) and idempotent (a sealed period is never
    written again). ``progress(total)`` gives the callback advanced by each service
    measured; ``stop()`` true ends the run between two labels."""
    todo = backlog(store, catalogue, now, service_ids=service_ids, vantages=vantages, grace=grace)
    advance = progress(sum(len(ids) for _label, ids in todo)) if progress is not None else None
    cache = MaskCache()
    sealed = 0
    for label, ids in todo:
        if stop is not None and stop():
            break
        _a, n = seal_label(
            store, catalogue, label, now, service_ids=ids, vantages=vantages, cache=cache, grace=grace,
            progress=advance,
        )  # fmt: skip
        sealed += n
    if sealed:
        log.info("sla_periods_sealed periods=%d labels=%d", sealed, len(todo))
    return sealed
