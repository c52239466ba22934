"""The daemon's SLA evaluator against a real SQLite store, and the in-scope classifier."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy

from slamon.core.model import OneOffMaintenance
from slamon.core.sla.exclusions import Exclusion
from slamon.core.sla.in_scope import InScope
from slamon.evaluator import SlaEvaluator
from slamon.monitor import Monitor
from slamon.runtime import Runtime
from slamon.store import Store
from slamon.store.writer import catalogue_thresholds
from tests.exporters_estate import catalogue as estate_catalogue
from tests.exporters_estate import http, service
from tests.store_support import result, utc

NOW = utc(2026, 11, 2, 12, 0)


def _minutes(sid: str, start: dt.datetime, count: int, bad=()):
    return [
        result((start + dt.timedelta(minutes=i, seconds=5)).timestamp(), success=i not in bad, service=sid, probe="web")
        for i in range(count)
    ]


@pytest.fixture
def setup(tmp_path):
    cat = estate_catalogue([service("unog-a"), service("unog-b", tier="bronze")])
    store = Store.open(f"sqlite:///{tmp_path}/slamon.db")
    store.write_results(
        _minutes("unog-a", utc(2026, 10, 20, 8), 60)  # October: all good
        + _minutes("unog-a", utc(2026, 11, 2, 10), 60, bad=range(10, 13))  # November: 3 bad minutes
        + _minutes("unog-b", utc(2026, 11, 2, 10), 60),
        catalogue_thresholds(lambda: cat),
    )
    runtime = Runtime()
    runtime.catalogue = cat
    changes, exclusions = [], []
    evaluator = SlaEvaluator(
        store, runtime, lambda: {"unog-a", "unog-b"}, vantages=["unog"],
        on_breach=changes.append, on_exclusions=exclusions.append, clock=lambda: NOW.timestamp(),
    )
    yield store, runtime, evaluator, changes, exclusions
    store.close()


async def test_evaluation_stores_breaches_records_and_snapshots(setup):
    store, runtime, evaluator, changes, exclusions = setup
    ev = await evaluator.evaluate_once()
    assert ev is not None and evaluator.failures_total == 0
    # the catalogue is recorded as revisions
    assert {s.id for s in store.services_at(NOW)} == {"unog-a", "unog-b"}
    # October is closed: its records are written once, per objective
    records = store.period_records(service_id="unog-a", period="2026-10")
    assert {(r.vantage, r.objective, r.met) for r in records} == {("unog", "availability", True), ("unog", "latency", True)}
    assert records[0].observed_seconds == 3600
    assert not store.period_records(service_id="unog-b")  # nothing observed in October: no evidence
    # November: 57/60 < 99.9 % opens an availability breach, stored and handed over
    (row,) = store.breaches(open_only=True)
    assert (row.service_id, row.vantage, row.objective, row.period) == ("unog-a", "unog", "availability", "2026-11")
    assert row.measure == pytest.approx(57 / 60) and row.target == 99.9
    opened = [c for c in changes if c.opened]
    assert [(c.service_id, c.objective) for c in opened] == [("unog-a", "availability")]
    assert opened[0].target_ratio == pytest.approx(0.999)
    snap = runtime.sla[("unog", "unog-a")]
    assert snap.open_breaches == frozenset({"availability"})
    assert {o.objective: o.target_ratio for o in snap.objectives} == {"availability": 0.999, "latency": 0.9}
    assert snap.burn_rate == pytest.approx(180 / (0.001 * 3600))
    assert runtime.sla[("unog", "unog-b")].open_breaches == frozenset()
    assert runtime.indicators and {v.office for v in runtime.indicators} >= {"unog", "all"}
    assert exclusions == [()]

    # again: nothing new is written, unchanged snapshots keep their identity
    before = dict(runtime.sla)
    ev = await evaluator.evaluate_once()
    assert ev.events == [] and ev.records_written == 0
    assert len(store.period_records(service_id="unog-a")) == 2
    assert all(runtime.sla[k] is before[k] for k in before)
    assert len(store.breaches()) == 1

    # an approved exclusion of the bad minutes: the breach resolves as recovered
    store.add_exclusion("unog-a", utc(2026, 11, 2, 10, 10), utc(2026, 11, 2, 10, 13), "provider", "Chief", NOW)
    changes.clear()
    ev = await evaluator.evaluate_once()
    assert [(e.kind, e.reason) for e in ev.events] == [("resolved", "recovered")]
    assert store.breaches(open_only=True) == []
    assert [c.opened for c in changes] == [False]
    assert runtime.sla[("unog", "unog-a")].open_breaches == frozenset()
    assert len(exclusions) == 2 and exclusions[-1][0][0] == "unog-a"


async def test_a_failing_store_keeps_the_last_snapshots(setup):
    store, runtime, evaluator, _changes, _ = setup
    await evaluator.evaluate_once()
    kept = dict(runtime.sla)
    store.close()
    store.engine = sqlalchemy.create_engine("sqlite:////nonexistent/dir/x.db")  # the database is gone
    assert await evaluator.evaluate_once() is None
    assert evaluator.failures_total == 1
    assert runtime.sla == kept


def test_in_scope_follows_maintenance_exclusions_and_latency():
    svc = service("unog-a", probes=[http("web", **{"from": ["unog", "unhq"]})])
    window = OneOffMaintenance.model_validate({"name": "upgrade", "from": "2026-11-02T10:00", "to": "2026-11-02T11:00"})
    svc = svc.model_copy(update={"maintenance": [window]})
    cat = estate_catalogue([svc, service("unog-b", tier="bronze")])
    excl = Exclusion(utc(2026, 11, 2, 12), utc(2026, 11, 2, 13), "provider", "Chief")
    scope = InScope(cat, [("unog-a", "unhq", excl)])
    # maintenance 10:00-11:00 Geneva time (UTC+1 in November) is 09:00-10:00 UTC
    assert not scope.in_scope("unog", "unog-a", utc(2026, 11, 2, 9, 30).timestamp())
    assert scope.in_scope("unog", "unog-a", utc(2026, 11, 2, 10, 0).timestamp())
    # the exclusion counts only at its vantage
    assert not scope.in_scope("unhq", "unog-a", utc(2026, 11, 2, 12, 30).timestamp())
    assert scope.in_scope("unog", "unog-a", utc(2026, 11, 2, 12, 30).timestamp())
    assert not scope.in_scope("unog", "unknown-service", NOW.timestamp())
    at = NOW.timestamp()
    fast = result(at, duration=0.5, service="unog-a")
    slow = result(at, duration=2.0, service="unog-a")
    failed = result(at, success=False, duration=0.1, service="unog-a")
    assert [scope.fast(r) for r in (fast, slow, failed)] == [True, False, False]  # gold: 1 s
    assert scope.fast(result(at, service="unog-b")) is None  # bronze: no latency objective
    assert scope.classify(fast) == (True, True)


def test_monitor_counts_only_in_scope_results_and_follows_exclusions():
    svc = service("unog-a")
    window = OneOffMaintenance.model_validate({"name": "upgrade", "from": "2026-11-02T10:00", "to": "2026-11-02T11:00"})
    cat = estate_catalogue([svc.model_copy(update={"maintenance": [window]})])
    runtime = Runtime()
    monitor = Monitor(runtime, [], Path("."), offices=["unog"])
    monitor.apply(cat)
    during = utc(2026, 11, 2, 9, 30).timestamp()  # in maintenance (10:00 Geneva)
    after = utc(2026, 11, 2, 12, 0).timestamp()
    monitor.on_result(result(during, service="unog-a", probe="web"))
    monitor.on_result(result(after, duration=2.0, service="unog-a", probe="web"))  # slower than gold's 1 s
    rec = runtime.observations.probes[("unog", "unog-a", "web")]
    assert (rec.results_total, rec.in_scope_total, rec.in_scope_good_total) == (2, 1, 1)
    assert (rec.in_scope_timed_total, rec.in_scope_fast_total) == (1, 0)
    # an exclusion recorded later takes effect for the results that follow
    monitor.set_exclusions([("unog-a", None, Exclusion(utc(2026, 11, 2, 12), utc(2026, 11, 2, 13), "provider", "Chief"))])
    monitor.on_result(result(after + 60, service="unog-a", probe="web"))
    assert (rec.results_total, rec.in_scope_total) == (3, 1)


async def test_a_daemon_without_the_evaluator_lease_evaluates_nothing(setup):
    """--shards: another daemon holds the evaluator lease. This one records nothing,
    opens no breach, writes no period record, exports no SLA series, and still follows
    the recorded exclusions (its in-scope counting needs them). Taking the lease makes
    it evaluate like any daemon."""
    store, runtime, evaluator, changes, exclusions = setup
    holder = {"evaluator": False}
    evaluator.may_evaluate = lambda: holder["evaluator"]
    runtime.sla = {("unog", "unog-a"): None}  # left from when it held the lease
    store.add_exclusion("unog-a", NOW - dt.timedelta(minutes=30), NOW + dt.timedelta(hours=1),
                        "network works", "Chief ICT", NOW)
    assert await evaluator.evaluate_once() is None
    assert runtime.sla == {}
    assert store.services_at(NOW) == [] and store.breaches() == [] and store.period_records() == []
    assert changes == []
    [(sid, vantage, exclusion)] = exclusions[-1]
    assert (sid, vantage, exclusion.reason) == ("unog-a", None, "network works")

    holder["evaluator"] = True
    assert await evaluator.evaluate_once() is not None
    assert len(store.breaches(open_only=True)) == 1 and runtime.sla


async def test_closed_periods_are_sealed_the_previous_one_and_the_backlog_at_start(setup):
    store, _runtime, evaluator, _changes, _exclusions = setup
    ev = await evaluator.evaluate_once()
    # October (Geneva) closed two days ago: sealed with the period records, both vantages'
    # own measures as the engine made them (unog-b, never observed then, sealed unobserved)
    assert ev.periods_sealed == 2
    october = store.sealed_periods(utc(2026, 9, 30), utc(2026, 11, 1), full=True)
    assert {k: [p.period.label for p in v] for k, v in october.items()} == {
        ("unog-a", "unog"): ["2026-10"], ("unog-b", "unog"): ["2026-10"]
    }
    sealed = october[("unog-a", "unog")][0]
    assert sealed.parts[0].counts[2:4] == (60, 60) and sealed.met is True  # observed, good minutes
    assert october[("unog-b", "unog")][0].met is None
    # the backlog (the loop runs it once, after the first evaluation, in its own thread):
    # January to September 2026 of the biennium of the first data, for both services
    assert evaluator.seal_backlog(_runtime.catalogue, {"unog-a", "unog-b"}) == 2 * 9
    assert evaluator.seal_backlog(_runtime.catalogue, {"unog-a", "unog-b"}) == 0  # idempotent
    year = store.sealed_periods(utc(2025, 12, 1), utc(2026, 11, 1))
    assert [p.period.label for p in year[("unog-a", "unog")]] == [f"2026-{m:02d}" for m in range(1, 11)]
    await evaluator.close()


async def test_the_running_loop_seals_the_backlog_once(setup):
    import asyncio

    store, _runtime, evaluator, _changes, _exclusions = setup
    evaluator.start()
    try:
        for _ in range(200):  # at most 10 s
            found = store.sealed_periods(utc(2025, 12, 1), utc(2026, 11, 1)).get(("unog-a", "unog"), [])
            if len(found) == 10:
                break
            await asyncio.sleep(0.05)
        assert [p.period.label for p in found] == [f"2026-{m:02d}" for m in range(1, 11)]
    finally:
        await evaluator.close()
