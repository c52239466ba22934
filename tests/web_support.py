"""A filled Runtime and store for the web tests (and for looking at the pages by hand:
``python -m tests.web_support`` serves the bundled catalogue on 127.0.0.1 and prints the address)."""

from __future__ import annotations

import datetime as dt
import hashlib

from slamon.core.catalogue import Catalogue
from slamon.core.results import ProbeOutcome, ProbeResult, Reason
from slamon.runtime import ObjectiveSnapshot, Runtime, SlaSnapshot
from slamon.store import Store
from slamon.store.writer import catalogue_thresholds

NOW = dt.datetime(2026, 11, 28, 12, 0, 30, tzinfo=dt.UTC)


def _h(*parts: str) -> int:
    return int.from_bytes(hashlib.blake2b("/".join(parts).encode(), digest_size=4).digest(), "big")


def runtime_for(catalogue: Catalogue, now: dt.datetime = NOW, down: set[str] = frozenset()) -> Runtime:
    """Every enabled probe with a latest result (a few failing, ``down`` services failing
    past their threshold), and a current-period SLA snapshot per service and vantage."""
    rt = Runtime(catalogue=catalogue, started_timestamp_seconds=now.timestamp() - 3600, ready=True)
    rt.catalogue_stats.load_success = True
    rt.catalogue_stats.loaded_timestamp_seconds = now.timestamp() - 754
    rt.catalogue_stats.reloads_total["success"] += 1
    rt.vantages = tuple(sorted(catalogue.offices))
    for task in catalogue.probe_tasks():
        sid, pid, v = task.service.id, task.probe.id, task.vantage
        rt.observations.configure(task.key, task.probe.failure_threshold, task.probe.success_threshold)
        h = _h(sid, pid, v)
        failing = sid in down
        for k in range(3):
            at = now.timestamp() - (3 - k) * task.probe.interval
            dur = 0.02 + (h % 400) / 1000
            if failing:
                outcome = ProbeOutcome(
                    success=False, duration_seconds=task.probe.timeout, reason=Reason.timeout,
                    detail="no answer within the time limit",
                )
            else:
                outcome = ProbeOutcome(
                    success=True, duration_seconds=dur, status_code=200 if task.probe.kind in ("http", "journey") else None,
                    phases={"resolve": 0.001 + (h % 7) / 1000, "connect": 0.003 + (h % 11) / 1000,
                            "tls": 0.012, "processing": dur * 0.6, "transfer": dur * 0.1},
                )
            rt.observations.record(ProbeResult(v, sid, pid, task.probe.kind, at, outcome))
    period_end = dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp()
    for svc in catalogue.services.values():
        sla = catalogue.sla(svc)
        for v in sorted({x for p in svc.probes if p.enabled for x in svc.vantages(p)}):
            h = _h(svc.id, v)
            target = sla.availability / 100
            budget = 1.0 - (h % 100) / 130
            measure = 1 - (1 - target) * (1 - budget) * 0.93
            breached = frozenset({"availability"}) if svc.id in down else frozenset()
            if breached:
                budget, measure = -0.4, target - 0.002
            objectives = [ObjectiveSnapshot("availability", target, measure)]
            if sla.latency:
                objectives.append(ObjectiveSnapshot("latency", sla.latency.percent / 100, 0.991))
            rt.sla[(v, svc.id)] = SlaSnapshot(
                vantage=v, service_id=svc.id, office=svc.office, period_end_timestamp_seconds=period_end,
                objectives=tuple(objectives), error_budget_remaining_ratio=budget,
                burn_rate=1 - budget, open_breaches=breached,
            )
    return rt


def fill_history(store: Store, catalogue: Catalogue, service_id: str, now: dt.datetime = NOW, days: int = 60) -> int:
    """Results every 10 minutes from each vantage of one service over ``days`` days,
    written through ``Store.write_results``: a bad afternoon on day 10, days 20-24
    unobserved, a few failures sprinkled in. Returns the number of results."""
    svc = catalogue.services[service_id]
    probe = next(p for p in svc.probes if p.enabled)
    vantages = svc.vantages(probe)
    start = (now - dt.timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    results = []
    t = start
    while t < now - dt.timedelta(minutes=1):
        day = (t - start).days
        if not 20 <= day <= 24:
            for v in vantages:
                bad = (day == 10 and 12 <= t.hour < 16) or _h(t.isoformat(), v) % 1500 == 0
                outcome = (
                    ProbeOutcome(success=False, duration_seconds=5.0, reason=Reason.status, status_code=503)
                    if bad
                    else ProbeOutcome(success=True, duration_seconds=0.12, status_code=200,
                                      phases={"resolve": 0.002, "connect": 0.004, "processing": 0.1})
                )
                results.append(ProbeResult(v, service_id, probe.id, probe.kind, t.timestamp() + 5, outcome))
        t += dt.timedelta(minutes=10)
    store.write_results(results, catalogue_thresholds(lambda: catalogue))
    return len(results)


def main() -> None:  # pragma: no cover - a manual aid
    import asyncio
    import tempfile

    from slamon.loader import load_catalogue
    from slamon.web import WebServer, build_app
    from tests.conftest import CATALOGUE_DIR

    catalogue = load_catalogue(CATALOGUE_DIR).catalogue
    assert catalogue is not None
    tmp = tempfile.mkdtemp()
    store = Store.open(f"sqlite:///{tmp}/slamon.db")
    store.record_catalogue(catalogue, NOW - dt.timedelta(days=400))
    first = sorted(catalogue.services)[0]
    fill_history(store, catalogue, first)
    rt = runtime_for(catalogue, down={sorted(catalogue.services)[5]})

    async def serve() -> None:
        server = WebServer(build_app(rt, lambda accept: (b"", "text/plain"), store=store, clock=NOW.timestamp), "127.0.0.1", 0)
        host, port = await server.start()
        print(f"http://{host}:{port}/  (history for {first})", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
