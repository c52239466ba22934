"""Reporting cost (issue 7 item 4): SLA and the three indicators over a biennium.

``indicators`` measures, for N services of a synthetic catalogue and one day rollup
per service and UTC day of the 2026-2027 biennium:

- ``source="memory"``: the pure engine alone (rollups already in memory, one
  ``DaySeries`` per service as the store's read side would hand them over, its build
  timed apart as ``series_seconds``): every service's SLA (``measure_many``), the verdict over its
  vantages, then ``compute_indicators`` per office and in total;
- ``source="sqlite"`` / ``"postgresql"``: the rollups are first backfilled into the
  store (timed apart, as rollups per second), then the same report is made reading
  them back with ``Store.day_series_between`` (the report path of ``slamon report``,
  which reads the per-minute counts only for ``occurrences`` budgeting).

Days carry realistic variety: about 1 % of days without data, 5 % with some bad minutes.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import tempfile
import time
from pathlib import Path

from benchmarks.measure import NotAvailable, make_profiler, pin_to_core, worker_main, write_profile
from benchmarks.synth import write_catalogue

BIENNIUM = "2026-2027"
NOW = dt.datetime(2028, 1, 2, tzinfo=dt.UTC)
BACKFILL_BATCH = 5000  # rollups per store transaction while backfilling


def _engine() -> dict:
    try:
        from slamon.core import indicators as ind
        from slamon.core.sla import bulk, context, masks, periods, rollup, series
    except ImportError as exc:
        raise NotAvailable(f"SLA engine or indicators: {exc}") from None
    return {
        "SlaVerdicts": ind.SlaVerdicts,
        "VantageVerdict": ind.VantageVerdict,
        "Verdict": ind.Verdict,
        "compute_indicators": ind.compute_indicators,
        "MeasureJob": bulk.MeasureJob,
        "index_rollups": bulk.index_rollups,
        "measure_many": bulk.measure_many,
        "catalogue_contexts": context.catalogue_contexts,
        "current_targets": context.current_targets,
        "MaskCache": masks.MaskCache,
        "parse_period": periods.parse_period,
        "ALL_MINUTES": rollup.ALL_MINUTES,
        "DayRollup": rollup.DayRollup,
        "DaySeries": series.DaySeries,
    }


def _day_variants(rng: random.Random, all_minutes: int) -> list[int]:
    return [
        all_minutes & ~(((1 << rng.randrange(1, 30)) - 1) << rng.randrange(1400))
        for _ in range(64)
    ]


def _rollups_for(e, service_id: str, vantage: str, days, rng, variants):
    ALL = e["ALL_MINUTES"]
    out = {}
    for day in days:
        if rng.random() < 0.01:
            continue
        good = variants[rng.randrange(64)] if rng.random() < 0.05 else ALL
        out[day] = e["DayRollup"](vantage, service_id, day, ALL, good, ALL, ALL)
    return out


def indicators(
    services: int,
    source: str = "memory",
    core: int = 0,
    days_limit: int = 0,
    repeats: int = 3,
    profile_to: str | None = None,
) -> dict:
    e = _engine()
    pinned = pin_to_core(core)
    from slamon.loader import load_catalogue

    with tempfile.TemporaryDirectory(prefix="slamon-bench-") as tmp:
        root = write_catalogue(Path(tmp) / "catalogue", services)
        catalogue = load_catalogue(root).catalogue
        contexts = e["catalogue_contexts"](catalogue)
        periods = {
            oid: e["parse_period"](BIENNIUM, office.timezone)
            for oid, office in catalogue.offices.items()
        }
        # UTC days covering every office's biennium window
        all_days = sorted({d for p in periods.values() for d in p.utc_days()})
        if days_limit:
            all_days = all_days[:days_limit]
        rng = random.Random(1)
        variants = _day_variants(rng, e["ALL_MINUTES"])
        # one vantage per service: its own office (the synthetic probes have no `from:`)
        order = sorted(catalogue.services.values(), key=lambda s: (s.office, s.id))
        out: dict = {"services": services, "source": source, "days": len(all_days)}

        def report(by_key, t0: float) -> dict:
            cache = e["MaskCache"]()
            jobs = (
                e["MeasureJob"](
                    contexts[s.id],
                    s.office,
                    periods[s.office],
                    e["current_targets"](s, catalogue.tiers[s.tier]),
                    by_key.get((s.id, s.office), {}),
                )
                for s in order
            )
            Verdict, VantageVerdict = e["Verdict"], e["VantageVerdict"]
            verdicts: dict[str, dict] = {}
            t_sla = time.perf_counter()
            met = 0
            for m in e["measure_many"](jobs, NOW, cache):
                verdict = m.met
                if verdict is None:
                    v = VantageVerdict(Verdict.unmonitored)
                elif verdict:
                    v = VantageVerdict(Verdict.met)
                    met += 1
                else:
                    failed = tuple(k for k, o in m.objectives.items() if o.met is False)
                    v = VantageVerdict(Verdict.not_met, failed)
                verdicts[m.service_id] = {m.vantage: v}
            sla_seconds = time.perf_counter() - t_sla
            t_ind = time.perf_counter()
            values = e["compute_indicators"](
                catalogue.services.values(),
                e["SlaVerdicts"](verdicts),
                catalogue.practices,
                catalogue.indicators,
                period_end=dt.date(2027, 12, 31),
                today=NOW.date(),
                tiers=set(catalogue.tiers),
            )
            return {
                "sla_seconds": sla_seconds,
                "indicator_seconds": time.perf_counter() - t_ind,
                "total_seconds": time.perf_counter() - t0,
                "services_met": met,
                "indicator_values": len(values),
            }

        profiler = make_profiler(profile_to)
        top = None
        if source == "memory":
            # each service its own rollup objects (the bitmap ints are shared: the engine
            # only reads them), made into one day series per service as the store's
            # read side hands them over (``day_series_between``); that build is timed
            # apart (``series_seconds``), as the store variants time their reads
            by_key = {}
            series_s = 0.0
            for s in order:
                day_map = _rollups_for(e, s.id, s.office, all_days, rng, variants)
                t_s = time.perf_counter()
                by_key[(s.id, s.office)] = e["DaySeries"].from_rollups(day_map)
                series_s += time.perf_counter() - t_s
            out["series_seconds"] = series_s
            if profiler:
                profiler.start()
            runs = [
                report(by_key, time.perf_counter()) | {"fetch_seconds": 0.0}
                for _ in range(max(1, repeats))
            ]
        else:
            store, drop = _open_store(source, Path(tmp))
            try:
                t_b = time.perf_counter()
                rows = 0
                pending: list = []
                for s in order:
                    day_map = _rollups_for(e, s.id, s.office, all_days, rng, variants)
                    pending.extend(day_map.values())
                    rows += len(day_map)
                    if len(pending) >= BACKFILL_BATCH:
                        store.merge_rollups(pending)
                        pending = []
                if pending:
                    store.merge_rollups(pending)
                backfill = time.perf_counter() - t_b
                out["backfill_rollups"] = rows
                out["backfill_rollups_per_second"] = rows / backfill
                if profiler:
                    profiler.start()
                runs = []
                # as the report path (slamon.assess) does: the per-minute counts are read
                # only when some service budgets in occurrences
                counts = any(
                    seg.sla.budgeting == "occurrences"
                    for s in order
                    for seg in e["current_targets"](s, catalogue.tiers[s.tier])
                )
                for _ in range(max(1, repeats)):  # backfilled once, reported several times
                    t0 = time.perf_counter()
                    by_key = store.day_series_between(all_days[0], all_days[-1], with_counts=counts)
                    fetch = time.perf_counter() - t0
                    runs.append(report(by_key, t0) | {"fetch_seconds": fetch})
                    del by_key
            finally:
                store.close()
                if drop is not None:
                    drop()
        if profiler:
            profiler.stop()
            top = write_profile(profiler, profile_to)
    best = sorted(runs, key=lambda r: r["total_seconds"])[len(runs) // 2]
    return out | best | {"repeats": len(runs), "pinned": pinned, "profile": profile_to if profiler else None, "profile_top": top}


CLI_NOW = dt.datetime(2027, 12, 16, 12, 0, tzinfo=dt.UTC)  # December 2027 open: 15.5 days of rollups


def cli_report(
    services: int,
    source: str = "sqlite",
    backfill: bool | None = None,
    repeats: int = 1,
    core: int = 0,
    memory: bool = True,
) -> dict:
    """``slamon report --period 2026-2027 --format json`` as a user runs it: a subprocess
    on a store, its wall time; the catalogue load of the same process measured apart (a
    subprocess that only loads and validates the catalogue).

    The store holds the 2026-2027 biennium as of ``CLI_NOW`` (mid-December 2027):

    - ``backfill=True`` (default up to 1,000 services): every day rollup of the
      biennium written through ``Store.merge_rollups`` (the daemon's merge path), then
      ``slamon store seal`` run as a subprocess (timed: the migration of an older store);
    - ``backfill=False``: the closed months generated once per run as sealed aggregates
      (the same engine, ``measure_service`` then ``seal``, over in-memory rollups)
      plus the open month's day rollups in the store.

    ``memory``: the pure engine over the same biennium in memory, in this run (the
    ratio's denominator, ``indicators(..., "memory")``)."""
    import subprocess
    import sys

    e = _engine()
    pin_to_core(core)
    backfill = services <= 1000 if backfill is None else backfill
    from slamon.core.sla.measure import measure_service
    from slamon.core.sla.periods import month
    from slamon.core.sla.sealed import seal
    from slamon.loader import load_catalogue

    out: dict = {"services": services, "source": source, "backfill": backfill, "now": CLI_NOW.isoformat()}
    with tempfile.TemporaryDirectory(prefix="slamon-bench-cli-") as tmp:
        root = write_catalogue(Path(tmp) / "catalogue", services)
        catalogue = load_catalogue(root).catalogue
        contexts = e["catalogue_contexts"](catalogue)
        order = sorted(catalogue.services.values(), key=lambda s: (s.office, s.id))
        rng = random.Random(1)
        variants = _day_variants(rng, e["ALL_MINUTES"])
        url, store, drop = _store_url(source, Path(tmp))
        env = dict(os.environ)
        try:
            t0 = time.perf_counter()
            rows = sealed = 0
            pending: list = []
            records: list = []
            cache = e["MaskCache"]()
            for s in order:
                tz = catalogue.offices[s.office].timezone
                window = e["parse_period"](BIENNIUM, tz)
                days = [d for d in window.utc_days() if d <= CLI_NOW.date()]
                day_map = _rollups_for(e, s.id, s.office, days, rng, variants)
                if backfill:
                    keep = day_map
                else:
                    targets = e["current_targets"](s, catalogue.tiers[s.tier])
                    open_month = month(2027, 12, tz)
                    series = e["DaySeries"].from_rollups(day_map)
                    for y, m in [(y, m) for y in (2026, 2027) for m in range(1, 13)][:-1]:
                        w = month(y, m, tz)
                        measured = measure_service(contexts[s.id], s.office, w, targets, series, CLI_NOW, cache)
                        records.append(seal(measured, contexts[s.id], series, cache, CLI_NOW))
                    if len(records) >= 20 * 23:
                        sealed += store.seal_periods(records)
                        records = []
                    first_open = open_month.start.astimezone(dt.UTC).date()
                    keep = {d: r for d, r in day_map.items() if d >= first_open}
                pending.extend(keep.values())
                rows += len(keep)
                if len(pending) >= BACKFILL_BATCH:
                    store.merge_rollups(pending)
                    pending = []
            if pending:
                store.merge_rollups(pending)
            if records:
                sealed += store.seal_periods(records)
            out["store_build_seconds"] = time.perf_counter() - t0
            out["rollups_written"] = rows
            store.close()
            store = None
            common = ["--catalogue", str(root), "--db", url, "--at", CLI_NOW.isoformat()]
            if backfill:
                t1 = time.perf_counter()
                ran = subprocess.run([sys.executable, "-m", "slamon", "store", "seal", *common],
                                     capture_output=True, text=True, env=env, check=False)  # fmt: skip
                out["seal_seconds"] = time.perf_counter() - t1
                if ran.returncode:
                    raise RuntimeError(f"slamon store seal failed: {ran.stderr[-500:]}")
                out["seal_output"] = ran.stderr.strip()
            else:
                out["periods_sealed"] = sealed
            load_code = (
                "import sys; from slamon.cli.common import valid_catalogue; from pathlib import Path; "
                "import exporters.reports, slamon.assess; valid_catalogue(Path(sys.argv[1]))"
            )
            loads, reports, sizes = [], [], []
            for _ in range(max(1, repeats)):
                t2 = time.perf_counter()
                subprocess.run([sys.executable, "-c", load_code, str(root)], check=True, env=env)
                loads.append(time.perf_counter() - t2)
                t3 = time.perf_counter()
                ran = subprocess.run(
                    [sys.executable, "-m", "slamon", "report", "--period", BIENNIUM, "--format", "json", *common],
                    capture_output=True, text=True, env=env, check=False,
                )  # fmt: skip
                reports.append(time.perf_counter() - t3)
                if ran.returncode:
                    raise RuntimeError(f"slamon report failed: {ran.stderr[-500:]}")
                sizes.append(len(ran.stdout))
            out["catalogue_load_seconds"] = sorted(loads)[len(loads) // 2]
            out["report_wall_seconds"] = sorted(reports)[len(reports) // 2]
            out["report_minus_load_seconds"] = out["report_wall_seconds"] - out["catalogue_load_seconds"]
            out["report_bytes"] = sizes[0]
            # what /indicators and /api/v1/indicators compute (the same assess path), in process
            from slamon.assess import assess_indicators
            from slamon.store import Store

            store = Store.open(url)
            t4 = time.perf_counter()
            assess_indicators(store, BIENNIUM, CLI_NOW, catalogue=catalogue)
            out["indicators_seconds"] = time.perf_counter() - t4
        finally:
            if store is not None:
                store.close()
            if drop is not None:
                drop()
    if memory:
        mem = indicators(services, "memory", core=core, repeats=1)
        out["memory_total_seconds"] = mem["total_seconds"] + mem["series_seconds"]
        out["memory_series_seconds"] = mem["series_seconds"]
        out["ratio_store_to_memory"] = out["report_minus_load_seconds"] / out["memory_total_seconds"]
    return out


def _store_url(source: str, tmp: Path):
    from slamon.store import Store

    if source == "sqlite":
        url = f"sqlite:///{tmp / 'report.db'}"
        return url, Store.open(url), None
    url = os.environ.get("SLAMON_TEST_PG_URL")
    if not url:
        raise NotAvailable("SLAMON_TEST_PG_URL is not set")
    from benchmarks.scale import _pg_database

    db_url, drop = _pg_database(url)
    return db_url, Store.open(db_url), drop


def _open_store(source: str, tmp: Path):
    try:
        from slamon.store import Store
    except ImportError as exc:
        raise NotAvailable(f"slamon.store: {exc}") from None
    if source == "sqlite":
        return Store.open(f"sqlite:///{tmp / 'report.db'}"), None
    url = os.environ.get("SLAMON_TEST_PG_URL")
    if not url:
        raise NotAvailable("SLAMON_TEST_PG_URL is not set")
    from benchmarks.scale import _pg_database

    db_url, drop = _pg_database(url)
    return Store.open(db_url), drop


if __name__ == "__main__":
    raise SystemExit(worker_main({"indicators": indicators, "cli_report": cli_report}))
