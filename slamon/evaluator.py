"""The daemon's SLA evaluation loop: current-period measures, breaches, period records,
indicators.

Every ``interval_seconds`` (and soon after each catalogue load) one evaluation runs in
a worker thread of its own, against the store:

1. the catalogue is recorded as a revision if this load is not recorded yet;
2. ``assess_period(..., "current", ...)`` measures the services this daemon probes,
   from its vantages;
3. ``evaluate_breaches`` against the breaches open in the store; opened and resolved
   breaches are stored, then handed to ``on_breach`` (the alert notifier) on the loop;
4. the SLA of each service's previous period, once closed (for ``SEAL_GRACE``), is
   written as period records and sealed as period aggregates (``slamon.sealing``; both
   write-once: what is already there is left alone); the first evaluation also seals
   every closed period of the store not sealed yet (the backlog of an older store);
5. ``Runtime.sla`` is replaced by fresh snapshots (unchanged ones keep their identity,
   so the metrics cache re-renders only what changed);
6. less often (``indicators_interval_seconds``), the indicators for the current biennium
   go to ``Runtime.indicators``.

A failing database makes an evaluation fail (logged); the last snapshots stay.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from slamon.assess import CURRENT, Assessment, assess_indicators, assess_period
from slamon.core.alert_events import BreachChange
from slamon.core.catalogue import Catalogue
from slamon.core.indicators import IndicatorValue
from slamon.core.model import Period
from slamon.core.sla.breaches import Breach, BreachEvent, apply_events, evaluate_breaches
from slamon.core.sla.exclusions import Exclusion
from slamon.core.sla.in_scope import ScopedExclusion
from slamon.core.sla.masks import MaskCache
from slamon.core.sla.measure import UNPLANNED_OUTAGES, Measures
from slamon.core.sla.periods import PeriodError, parse_period, previous_period
from slamon.runtime import ObjectiveSnapshot, Runtime, SlaSnapshot
from slamon.sealing import SEAL_GRACE, seal_backlog, seal_label
from slamon.store import PeriodRecordExists, PeriodRecordRow, Store

log = logging.getLogger("slamon.sla")


@dataclass
class Evaluation:
    """What one evaluation found (returned from the worker thread to the loop)."""

    now: dt.datetime
    assessment: Assessment
    snapshots: dict[tuple[str, str], SlaSnapshot]
    events: list[BreachEvent]
    open_breaches: list[Breach]
    exclusions: tuple[ScopedExclusion, ...]
    records_written: int = 0
    periods_sealed: int = 0
    indicators: list[IndicatorValue] | None = None
    changes: list[BreachChange] = field(default_factory=list)


def ratios(m: Measures | None, objective: str, target: float, actual: float | None) -> tuple[float, float | None]:
    """(target, measure) of an objective as ratios 0..1. An ``unplanned_outages`` limit
    is shown as a target of 1 (no bad time) against the share of good observed time."""
    if objective == UNPLANNED_OUTAGES:
        measure = (m.good_minutes / m.observed_minutes) if m is not None and m.observed_minutes else None
        return 1.0, measure
    return float(Decimal(str(target)) / 100), actual  # 99.9 -> 0.999, not 0.9990000000000001


def snapshot_of(m: Measures, office: str, open_objectives: Iterable[str]) -> SlaSnapshot:
    objectives = []
    for name, o in m.objectives.items():
        target, measure = ratios(m, name, o.target, o.actual)
        objectives.append(ObjectiveSnapshot(name, target, measure))
    observed = m.observed_minutes > 0
    return SlaSnapshot(
        vantage=m.vantage,
        service_id=m.service_id,
        office=office,
        period_end_timestamp_seconds=m.period.end.timestamp(),
        objectives=tuple(objectives),
        # no budget (a 100 % target, or nothing observed): no figure, as in every output
        error_budget_remaining_ratio=m.remaining_ratio if observed and m.budget_seconds > 0 else None,
        burn_rate=m.burn_rate if observed else None,
        open_breaches=frozenset(open_objectives),
    )


class SlaEvaluator:
    def __init__(
        self,
        store: Store,
        runtime: Runtime,
        service_ids: Callable[[], set[str]],
        *,
        vantages: Iterable[str] | None = None,
        interval_seconds: float = 60.0,
        indicators_interval_seconds: float = 600.0,
        on_breach: Callable[[BreachChange], None] | None = None,
        on_exclusions: Callable[[tuple[ScopedExclusion, ...]], None] | None = None,
        clock: Callable[[], float] = time.time,
        may_evaluate: Callable[[], bool] | None = None,
    ) -> None:
        self.store = store
        self.may_evaluate = may_evaluate  # leases: only the evaluator lease holder evaluates
        self.runtime = runtime
        self.service_ids = service_ids
        self.vantages = tuple(vantages) if vantages else None
        self.interval_seconds = interval_seconds
        self.indicators_interval_seconds = indicators_interval_seconds
        self.on_breach = on_breach
        self.on_exclusions = on_exclusions
        self.clock = clock
        self.evaluations_total = 0
        self.failures_total = 0
        self._wake = asyncio.Event()
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="slamon-sla")
        self._recorded: Catalogue | None = None  # the catalogue load last recorded as revisions
        self._cache: MaskCache = MaskCache()
        self._cache_for: Catalogue | None = None
        self._records_done: set[tuple[str, str]] = set()  # (service, period label) written or checked
        self._backlog: asyncio.Future | None = None  # sealing the store's closed periods, once per start
        self._backlog_executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="slamon-seal")
        self._stopping = False
        self._exclusions: tuple[ScopedExclusion, ...] | None = None
        self._indicators_at: float | None = None
        self._running: asyncio.Future | None = None
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ the loop

    def wake(self) -> None:
        """Evaluate soon (a catalogue was loaded)."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="slamon-sla-evaluator")

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            await self.evaluate_once()
            if self._backlog is None and self.runtime.catalogue is not None:
                self._backlog = asyncio.get_running_loop().run_in_executor(
                    self._backlog_executor, self.seal_backlog, self.runtime.catalogue, self.service_ids()
                )
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval_seconds)
            except TimeoutError:
                pass

    def seal_backlog(self, catalogue: Catalogue, ids: set[str]) -> int:
        """In its own thread, once after the first evaluation: seal every closed period
        already in the store (an older store's history; resumable, so a stop half-way
        loses nothing). Evaluations go on meanwhile."""
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        try:
            return seal_backlog(
                self.store, catalogue, now, service_ids=ids, vantages=self.vantages, stop=lambda: self._stopping
            )
        except Exception as exc:
            log.warning("sla_sealing_failed error=%s", _short(exc))
            return 0

    async def close(self, timeout_seconds: float = 5.0) -> None:
        """Stop the loop; wait for an evaluation in progress at most ``timeout_seconds``."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._running is not None and not self._running.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._running), timeout_seconds)
            except (TimeoutError, Exception):
                log.warning("sla_evaluation_abandoned")
        if self._backlog is not None and not self._backlog.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._backlog), timeout_seconds)
            except (TimeoutError, Exception):
                log.warning("sla_sealing_abandoned")
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._backlog_executor.shutdown(wait=False, cancel_futures=True)

    async def evaluate_once(self) -> Evaluation | None:
        catalogue = self.runtime.catalogue
        if catalogue is None:
            return None
        if self.may_evaluate is not None and not self.may_evaluate():
            # another daemon evaluates, seals and alerts: no stale snapshots exported here,
            # but results are still classified against the recorded exclusions
            self.runtime.sla = {}
            await self._follow_exclusions()
            return None
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        ids = self.service_ids()
        want_indicators = (
            self._indicators_at is None or self.clock() - self._indicators_at >= self.indicators_interval_seconds
        )
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        self._running = loop.run_in_executor(self._executor, self._evaluate, catalogue, ids, now, want_indicators)
        try:
            ev = await asyncio.shield(self._running)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.failures_total += 1
            log.warning("sla_evaluation_failed", extra={"error": _short(exc)})
            return None
        self.evaluations_total += 1
        self._apply(ev)
        if ev.indicators is not None:
            self._indicators_at = self.clock()
        log.debug(
            "sla_evaluated services=%d measures=%d events=%d records=%d seconds=%.3f",
            len(ev.assessment.levels), len(ev.assessment.measures), len(ev.events), ev.records_written,
            time.monotonic() - started,
        )
        return ev

    async def _follow_exclusions(self) -> None:
        """Exclusions in force now, for a daemon that probes but does not evaluate."""
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        try:
            rows = await asyncio.get_running_loop().run_in_executor(
                self._executor, lambda: self.store.exclusions(start=now - dt.timedelta(minutes=5))
            )
        except Exception as exc:
            log.warning("sla_exclusions_read_failed", extra={"error": _short(exc)})
            return
        exclusions = tuple(
            (r.service_id, r.vantage, Exclusion(r.starts_at, r.ends_at, r.reason, r.approver)) for r in rows
        )
        if exclusions != self._exclusions:
            self._exclusions = exclusions
            if self.on_exclusions is not None:
                self.on_exclusions(exclusions)

    def _apply(self, ev: Evaluation) -> None:
        """On the loop: replace the snapshots, hand over breaches and exclusions."""
        old = self.runtime.sla
        fresh = {}
        for key, snap in ev.snapshots.items():
            before = old.get(key)
            fresh[key] = before if before == snap else snap
        self.runtime.sla = fresh
        if ev.indicators is not None:
            self.runtime.indicators = ev.indicators
        for event in ev.events:
            b = event.breach
            log.info(
                "sla_breach_%s service=%s vantage=%s objective=%s period=%s reason=%s",
                event.kind, b.service_id, b.vantage, b.objective, b.period, event.reason,
            )
        if self.on_breach is not None:
            for change in ev.changes:
                try:
                    self.on_breach(change)
                except Exception:
                    log.exception("breach_hook_failed")
        if ev.exclusions != self._exclusions:
            self._exclusions = ev.exclusions
            if self.on_exclusions is not None:
                self.on_exclusions(ev.exclusions)

    # ------------------------------------------------------------------ in the thread

    def _evaluate(self, catalogue: Catalogue, ids: set[str], now: dt.datetime, want_indicators: bool) -> Evaluation:
        store = self.store
        if self._recorded is not catalogue:
            store.record_catalogue(catalogue, now)
            self._recorded = catalogue
        if self._cache_for is not catalogue:
            self._cache, self._cache_for = MaskCache(), catalogue
        a = assess_period(store, catalogue, CURRENT, now, service_ids=ids, vantages=self.vantages, cache=self._cache)

        open_before = self._open_breaches(catalogue, a, now)
        events = evaluate_breaches(a.measures.values(), open_before, now)
        for event in events:
            b = event.breach
            m = a.measures.get((b.service_id, b.vantage))
            obj = m.objectives.get(b.objective) if m is not None else None
            if event.kind == "opened":
                store.open_breach(
                    b.service_id, b.vantage, b.objective, b.period, event.at,
                    b.measure if b.measure is not None else 0.0, b.target,
                )
            else:
                current = obj.actual if obj is not None and b.period == m.period.label else None  # type: ignore[union-attr]
                store.resolve_breach(b.service_id, b.vantage, b.objective, b.period, event.at, current)
        still_open = apply_events(open_before, events)

        written, sealed = self._write_period_records(catalogue, a, now)

        by_key: dict[tuple[str, str], set[str]] = defaultdict(set)
        for b in still_open:
            m = a.measures.get((b.service_id, b.vantage))
            if m is not None and m.period.label == b.period:
                by_key[(b.service_id, b.vantage)].add(b.objective)
        snapshots = {}
        for (sid, vantage), m in a.measures.items():
            office = catalogue.services[sid].office
            snapshots[(vantage, sid)] = snapshot_of(m, office, by_key.get((sid, vantage), ()))

        changes = [self._change(a, e.breach, e.kind == "opened", e.at) for e in events]
        # breaches still open are re-announced each time: the notifier de-duplicates,
        # and a restarted daemon picks up what was firing before
        just_opened = {e.breach.key for e in events if e.kind == "opened"}
        changes += [self._change(a, b, True, b.opened_at) for b in still_open if b.key not in just_opened]

        exclusions = tuple(
            (r.service_id, r.vantage, Exclusion(r.starts_at, r.ends_at, r.reason, r.approver))
            for rows in a.exclusions.values()
            for r in rows
        )
        indicators = assess_indicators(store, CURRENT, now, catalogue=catalogue, cache=self._cache) if want_indicators else None
        return Evaluation(now, a, snapshots, events, still_open, exclusions, written, sealed, indicators, changes)

    def _change(self, a: Assessment, b: Breach, opened: bool, at: dt.datetime) -> BreachChange:
        m = a.measures.get((b.service_id, b.vantage))
        obj = m.objectives.get(b.objective) if m is not None and m.period.label == b.period else None
        actual = obj.actual if obj is not None else b.measure
        target, measure = ratios(m, b.objective, b.target, actual)
        return BreachChange(
            b.service_id, b.vantage, b.objective, opened, at.astimezone(dt.UTC),
            measure if measure is not None and math.isfinite(measure) else 0.0, target,
        )

    def _open_breaches(self, catalogue: Catalogue, a: Assessment, now: dt.datetime) -> list[Breach]:
        """Open breaches in the store that this daemon evaluates (its services and vantages)."""
        out = []
        for row in self.store.breaches(open_only=True):
            if (row.service_id, row.vantage) not in a.measures:
                continue
            svc = catalogue.services[row.service_id]
            try:
                window = parse_period(row.period, catalogue.offices[svc.office].timezone, now)
            except PeriodError:
                continue
            end = None if window.kind == Period.rolling_30d else window.end
            out.append(
                Breach(row.service_id, row.vantage, row.objective, row.period, end, row.opened_at, row.target, row.measure)
            )
        return out

    def _write_period_records(self, catalogue: Catalogue, a: Assessment, now: dt.datetime) -> tuple[int, int]:
        """Records of each service's previous period once it is closed (write-once), and
        its sealed aggregates; returns (records written, periods sealed)."""
        due: dict[str, list[str]] = defaultdict(list)  # previous period label -> services
        for sid, window in a.windows.items():
            if window.kind == Period.rolling_30d:
                continue
            prev = previous_period(window)
            if (sid, prev.label) in self._records_done or prev.end + SEAL_GRACE > now:
                continue
            due[prev.label].append(sid)
        written = sealed = 0
        for label, sids in due.items():
            present = {(r.service_id, r.vantage, r.objective) for r in self.store.period_records(period=label)}
            past, n = seal_label(
                self.store, catalogue, label, now, service_ids=sids, vantages=self.vantages, cache=self._cache
            )
            sealed += n
            for (sid, vantage), m in past.measures.items():
                if m.observed_minutes == 0:
                    continue  # nothing measured from here: no evidence to keep
                for name, o in m.objectives.items():
                    if (sid, vantage, name) in present:
                        continue
                    row = PeriodRecordRow(
                        service_id=sid, vantage=vantage, period=label, objective=name,
                        period_start=m.period.start, period_end=m.period.end,
                        measure=o.actual, target=o.target, met=o.met,
                        eligible_seconds=float(m.seconds("eligible")),
                        observed_seconds=float(m.seconds("observed")),
                        good_seconds=float(m.seconds("good")),
                        excluded_seconds=float(m.seconds("excluded")),
                        maintenance_seconds=float(m.seconds("maintenance")),
                        recorded_at=now,
                    )
                    try:
                        self.store.write_period_record(row)
                        written += 1
                    except PeriodRecordExists:
                        pass
            self._records_done.update((sid, label) for sid in sids)
        if written:
            log.info("sla_period_records_written", extra={"records": written})
        return written, sealed


def _short(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return f"{type(inner).__name__}: {text[0] if text else ''}"[:200]
