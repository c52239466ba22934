"""``make bench``: run the benchmarks of issue 7 and write ``benchmarks/RESULTS.md``.

    python -m benchmarks.run                  # everything, about 10-15 minutes here
    python -m benchmarks.run --quick          # 1,000 services, one run each, short windows
    python -m benchmarks.run --only probe     # probe | scale | reporting (comma-separated)
    python -m benchmarks.run --sizes 1000,10000 --runs 3 --out /tmp/RESULTS.md

Every measurement runs in a fresh subprocess; slamon's side runs pinned to core 0,
the target farm (and the blackbox_exporter load driver) on core 1. Each figure is
the median of ``--runs`` runs, taken side by side (interleaved), so that a busy
neighbour slows all of them alike. A benchmark whose part of slamon is not in this
build is recorded as "not available in this build", never a failure. A missed
target is measured once more under pyinstrument, into ``benchmarks/profiles/``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks import machine
from benchmarks.blackbox import BlackboxExporter
from benchmarks.blackbox import find_binary as blackbox_binary
from benchmarks.blackbox import version as blackbox_version
from benchmarks.farm import Farm
from benchmarks.measure import median, run_worker
from benchmarks.scale import RELOADS

HERE = Path(__file__).resolve().parent
SLAMON_CORE = 0
OTHER_CORE = 1
NA = "not available in this build"
WORKER_TIMEOUT_SECONDS = 900.0


@dataclass
class Settings:
    runs: int = 3
    sizes: tuple[int, ...] = (1000, 10000)
    only: tuple[str, ...] = ("probe", "scale", "reporting")
    seconds: float = 5.0
    warmup_seconds: float = 1.5
    saturation_services: int = 2000
    saturation_interval_ms: int = 500
    lag_interval_ms: int = 4000
    blackbox_concurrency: int = 64
    max_in_flight: int = 100
    daemon_run_seconds: float = 3.0
    store_results: int = 20_000
    # backfilling a biennium through the store runs at about 35,000 rollups/s here: 1,000
    # services (731,000 rollups) take about 20 s per backend, and reading them back about
    # 10 s a run; 10,000 would take over 10 minutes (--store-report-max 10000 for them)
    store_report_max_services: int = 1000
    profile: str = "auto"  # auto | never
    profiles_dir: Path = HERE / "profiles"
    out: Path = HERE / "RESULTS.md"
    command: str = "python -m benchmarks.run"


@dataclass
class Target:
    text: str
    measured: str = ""
    status: str = "not measured"  # met | missed | not available in this build | not measured
    profile: str | None = None
    note: str = ""


@dataclass
class Report:
    settings: Settings
    started: str = field(default_factory=machine.now_utc)
    load_before: tuple[float, ...] = field(default_factory=machine.load_average)
    load_after: tuple[float, ...] = ()
    elapsed_seconds: float = 0.0
    sections: list[tuple[str, list[str]]] = field(default_factory=list)
    targets: dict[str, Target] = field(default_factory=dict)
    raw: dict[str, list[dict]] = field(default_factory=dict)
    profiles: list[tuple[str, str, list[dict]]] = field(default_factory=list)


TARGETS = {
    "cpu_ratio": "Full-pipeline CPU per HTTP probe at most 0.75 x blackbox_exporter's, same targets",
    "rate": "At least 2,000 probes/s sustained on one core (full pipeline)",
    "lag": "p99 scheduling lag under 100 ms at half the maximum rate",
    "rss": "10,000 services in under 250 MB resident memory",
    "metrics": "/metrics for 10,000 services rendered in under 250 ms",
    "load": "Catalogue of 10,000 services loaded (and validated) in under 3 s",
    "reload": "Reload after one changed file in a 10,000-service catalogue in under 0.5 s",
    "sqlite": "At least 20,000 results/s stored in SQLite",
    "indicators": "Biennium SLA and indicators for 10,000 services in under 2 s",
}


# what the profiles show for a target this build misses, and what would reach it (shown
# only when the target is missed in the run being written)
WHY_MISSED = {
    "indicators": (
        "The SLA and indicators columns are the engine itself, over one day series per "
        "service that tells it which days are complete, so it visits only the others (about "
        "6 %). What is left is touching each of the 7.3 million day rollups of 10,000 "
        "services once in Python to build those series (about 0.3 µs per rollup: attribute "
        "reads and big-integer compares; `DaySeries.from_rollups`), and a store has to "
        "decode them first (the store rows above: about 10 µs per rollup). No change of "
        "algorithm removes that while a report starts from day rollups. What reaches the "
        "target is aggregating once, when a period closes: write-once period records that "
        "carry every measure the engine needs (fast and steps minutes, result counts, outage "
        "runs, the parts per target) so that a biennium report reads 24 records per service "
        "instead of 731 rollups. Today's period records lack those fields: it needs a schema "
        "migration and the evaluator writing them."
    ),
    "load": (
        "The load now runs on PyYAML's stock CSafeLoader: the faster path that swapped our "
        "node classes into PyYAML's C module was removed (issue 14), since every other "
        "thread using PyYAML failed while it ran. Almost half of a cold load is composing "
        "YAML nodes inside PyYAML (libyaml's own parsing is a small part of it; the rest is "
        "a Python node and two Mark objects per node, built by Python constructors, and a "
        "tag-resolution call per scalar), which public API cannot reach. Pydantic "
        "validation and the per-file rules are most of the rest (see the profile). A "
        "composer of our own in C over libyaml, recording only line and column, would "
        "remove most of the first part, at the cost of shipping a compiled extension. The "
        "daemon pays a cold load once, at startup: a reload re-checks only the files that "
        "changed (the reload target)."
    ),
    "rss": (
        "See the scale table: the process holds the validated catalogue, the runtime state "
        "of every probe, the collector's per-series caches and the last /metrics body."
    ),
}


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def med(runs: list[dict], key: str) -> float | None:
    return median(r.get(key) for r in runs if "error" not in r and "not_available" not in r)


def status_of(runs: list[dict]) -> str | None:
    """Why a set of runs has no figure: None when at least one run measured."""
    if any("error" not in r and "not_available" not in r for r in runs):
        return None
    for r in runs:
        if "not_available" in r:
            return f"{NA} ({r['not_available'].split(':')[0]})"
    return "failed: " + "; ".join(sorted({r.get("error", "?") for r in runs}))[:300]


def judge(report: Report, key: str, measured: str, ok: bool | None, note: str = "") -> Target:
    t = report.targets[key]
    t.measured = measured
    t.status = "not measured" if ok is None else ("met" if ok else "missed")
    t.note = note
    return t


def profile_path(settings: Settings, name: str) -> str:
    return str(settings.profiles_dir / f"{name}.txt")


def maybe_profile(report: Report, key: str, name: str, module: str, **kwargs) -> None:
    """A missed target: measure once more under pyinstrument and record where it went."""
    if report.settings.profile == "never" or report.targets[key].status != "missed":
        return
    path = profile_path(report.settings, name)
    log(f"profiling {name} (target missed)")
    answer = run_worker(module, WORKER_TIMEOUT_SECONDS, profile_to=path, **kwargs)
    if answer.get("profile"):
        rel = os.path.relpath(path, report.settings.out.parent)
        report.targets[key].profile = rel
        report.profiles.append((name, rel, answer.get("profile_top") or []))
    elif "error" in answer:
        log(f"profile of {name} failed: {answer['error']}")


# ----------------------------------------------------------------- 1. probe cost


def bench_probe(report: Report) -> None:
    s = report.settings
    real_probes = machine.part_origin("slamon.probes") is not None
    pipeline_probe = "slamon" if real_probes else "bare"
    raw = report.raw
    names = ["bare_uvloop", "bare_asyncio", "blackbox", "pipeline", "pipeline_null"]
    for n in names:
        raw[n] = []
    common = {"seconds": s.seconds, "warmup_seconds": s.warmup_seconds, "core": SLAMON_CORE}
    sat = {
        "services": s.saturation_services,
        "interval_ms": s.saturation_interval_ms,
        "max_in_flight": s.max_in_flight,
        **common,
    }
    bb_missing = blackbox_binary() is None
    with Farm(cpu=OTHER_CORE) as farm:
        exporter = None if bb_missing else BlackboxExporter(core=SLAMON_CORE).start()
        try:
            for i in range(s.runs):
                log(f"probe cost, run {i + 1}/{s.runs}")
                for loop in ("uvloop", "asyncio"):
                    raw[f"bare_{loop}"].append(
                        run_worker("probe_cost", WORKER_TIMEOUT_SECONDS, fn="bare",
                                   port=farm.port, loop=loop, concurrency=s.max_in_flight, **common)
                    )  # fmt: skip
                if exporter is not None:
                    raw["blackbox"].append(
                        run_worker(
                            "blackbox", WORKER_TIMEOUT_SECONDS, fn="driver",
                            exporter_port=exporter.port, exporter_pid=exporter.pid,
                            farm_port=farm.port, seconds=s.seconds,
                            warmup_seconds=s.warmup_seconds,
                            concurrency=s.blackbox_concurrency, core=OTHER_CORE,
                        )
                    )  # fmt: skip
                else:
                    raw["blackbox"].append({"not_available": "prometheus-blackbox-exporter not installed"})
                raw["pipeline"].append(
                    run_worker("probe_cost", WORKER_TIMEOUT_SECONDS, fn="pipeline",
                               port=farm.port, probe=pipeline_probe, **sat)
                )  # fmt: skip
                raw["pipeline_null"].append(
                    run_worker("probe_cost", WORKER_TIMEOUT_SECONDS, fn="pipeline",
                               port=farm.port, probe="null", **sat)
                )  # fmt: skip
        finally:
            if exporter is not None:
                exporter.stop()

        max_rate = med(raw["pipeline"], "probes_per_second")
        raw["lag"] = []
        if max_rate:
            half = max_rate / 2
            services = max(1, round(half * s.lag_interval_ms / 1000))
            for i in range(s.runs):
                log(f"scheduling lag at {half:.0f} probes/s, run {i + 1}/{s.runs}")
                raw["lag"].append(
                    run_worker("probe_cost", WORKER_TIMEOUT_SECONDS, fn="pipeline",
                               port=farm.port, probe=pipeline_probe, services=services,
                               interval_ms=s.lag_interval_ms, record_lag=True,
                               max_in_flight=s.max_in_flight, **common)
                )  # fmt: skip

        # ------------------------------------------------------------ judge
        bb = med(raw["blackbox"], "cpu_ms_per_probe")
        pipe = med(raw["pipeline"], "cpu_ms_per_probe")
        label = "full pipeline" if real_probes else "pipeline with a bare aiohttp probe"
        if not real_probes:
            for key in ("cpu_ratio", "rate", "lag"):
                judge(report, key, f"{NA} (slamon.probes)", None)
                report.targets[key].status = NA
        else:
            if bb and pipe:
                ok = pipe <= 0.75 * bb
                judge(report, "cpu_ratio", f"{pipe:.3f} ms vs {bb:.3f} ms = {pipe / bb:.2f} x", ok)
                maybe_profile(report, "cpu_ratio", "pipeline-saturation", "probe_cost",
                              fn="pipeline", port=farm.port, probe=pipeline_probe, **sat)  # fmt: skip
            rate = max_rate
            demand = s.saturation_services * 1000 / s.saturation_interval_ms
            if rate and rate < 0.9 * demand:
                judge(report, "rate", f"{rate:,.0f} probes/s", rate >= 2000)
            elif rate:
                judge(report, "rate", f"{rate:,.0f} probes/s, all that was asked: not saturated", None)
                if report.targets["rate"].status == "missed" and not report.targets["cpu_ratio"].profile:
                    maybe_profile(report, "rate", "pipeline-saturation", "probe_cost",
                                  fn="pipeline", port=farm.port, probe=pipeline_probe, **sat)  # fmt: skip
            p99 = med(raw["lag"], "lag_p99_ms")
            if p99 is not None:
                judge(report, "lag", f"p99 {p99:.1f} ms at {max_rate / 2:,.0f} probes/s", p99 < 100)

    rows = [
        ("bare aiohttp probe, uvloop (reference)", "bare_uvloop"),
        ("bare aiohttp probe, default loop (reference)", "bare_asyncio"),
        (f"prometheus-blackbox-exporter via /probe ({s.blackbox_concurrency} in flight)", "blackbox"),
        (f"slamon {label}", "pipeline"),
        ("slamon pipeline, null probe (all but the probe)", "pipeline_null"),
    ]
    lines = [
        "| What | probes/s | CPU s per 1,000 probes | CPU busy | success |",
        "|---|---:|---:|---:|---:|",
    ]
    for title, key in rows:
        why = status_of(raw[key])
        if why:
            lines.append(f"| {title} | {why} | | | |")
            continue
        rate = med(raw[key], "probes_per_second") or 0
        asked = s.saturation_services * 1000 / s.saturation_interval_ms
        all_asked = " (all asked)" if key.startswith("pipeline") and rate >= 0.9 * asked else ""
        lines.append(
            f"| {title} | {fmt(rate, 0)}{all_asked} "
            f"| {fmt(med(raw[key], 'cpu_ms_per_probe'), 3)} "
            f"| {fmt((med(raw[key], 'cpu_utilisation') or 0) * 100, 0)} % "
            f"| {fmt((med(raw[key], 'success_ratio') or 0) * 100, 1)} % |"
        )
    lines.append("")
    uv = med(raw["bare_uvloop"], "cpu_ms_per_probe")
    null = med(raw["pipeline_null"], "cpu_ms_per_probe")
    ratios = []
    if pipe and bb:
        ratios.append(f"- slamon {label} / blackbox_exporter, CPU per probe: **{pipe / bb:.2f} x**")
    if uv and bb:
        ratios.append(f"- bare aiohttp probe (uvloop) / blackbox_exporter: {uv / bb:.2f} x")
    if pipe and uv:
        ratios.append(
            f"- slamon full pipeline / bare aiohttp probe (uvloop): {pipe / uv:.2f} x (slamon's "
            "http probe has its own HTTP/1.1 client, cheaper than aiohttp's)"
        )
    if null:
        ratios.append(
            f"- scheduler + observations + sink + /metrics with a null probe: {null * 1000:.0f} µs per run "
            "(the pipeline's own cost; DESIGN asks for at most about 200 µs)"
        )
    if ratios:
        lines += ["Ratios (medians, measured side by side):", "", *ratios, ""]
    lag_why = status_of(raw["lag"]) if raw["lag"] else "not measured (no maximum rate)"
    if lag_why:
        lines.append(f"Scheduling lag at half the maximum rate: {lag_why}.")
    else:
        lines.append(
            f"Scheduling lag at half the maximum rate ({fmt(med(raw['lag'], 'probes_per_second'), 0)} "
            f"probes/s measured): p50 {fmt(med(raw['lag'], 'lag_p50_ms'), 2)} ms, "
            f"p99 {fmt(med(raw['lag'], 'lag_p99_ms'), 1)} ms, "
            f"max {fmt(med(raw['lag'], 'lag_max_ms'), 1)} ms."
        )
    first = next((r for r in raw["pipeline"] if "probe_impl" in r), None)
    lines += [
        "",
        "How: every configuration in its own process pinned to core 0, the farm (one "
        "process, fresh connection per request) on core 1; the blackbox_exporter pinned to "
        "core 0 with its load driver on core 1, CPU read from /proc/<pid>/stat. Saturation: "
        f"{s.saturation_services:,} probes due every {s.saturation_interval_ms} ms "
        f"({s.saturation_services * 1000 / s.saturation_interval_ms:,.0f}/s asked), at most "
        f"{s.max_in_flight} in flight (per-host limit raised to the same, since every target "
        f"is 127.0.0.1); window {s.seconds:g} s after {s.warmup_seconds:g} s of warm-up; "
        "`/metrics` rendered every 5 s during the window.",
    ]
    if first:
        lines.append(f"Probe: {first['probe_impl']}; results sink: {first['sink_impl']}.")
    report.sections.append(("1. Probe throughput and cost on one core", lines))


# ----------------------------------------------------------------- 2. scale


def bench_scale(report: Report) -> None:
    s = report.settings
    raw = report.raw
    pg = os.environ.get("SLAMON_TEST_PG_URL")
    lines = [
        "| Services | catalogue load + validation (collector paused / on) | reload, one file "
        "changed | resident memory | /metrics render (first / warm) | series | SQLite results/s "
        "| PostgreSQL results/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    with Farm(cpu=OTHER_CORE) as farm:
        for size in s.sizes:
            for k in ("load", "daemon", "sqlite", "postgresql"):
                raw[f"{k}_{size}"] = []
            for i in range(s.runs):
                log(f"scale {size:,} services, run {i + 1}/{s.runs}")
                raw[f"load_{size}"].append(
                    run_worker("scale", WORKER_TIMEOUT_SECONDS, fn="load", services=size, core=SLAMON_CORE)
                )
                raw[f"daemon_{size}"].append(
                    run_worker("scale", WORKER_TIMEOUT_SECONDS, fn="daemon_like", services=size,
                               port=farm.port, run_seconds=s.daemon_run_seconds, core=SLAMON_CORE)
                )  # fmt: skip
                raw[f"sqlite_{size}"].append(
                    run_worker("scale", WORKER_TIMEOUT_SECONDS, fn="store_write", backend="sqlite",
                               services=size, results=s.store_results, core=SLAMON_CORE)
                )  # fmt: skip
                if pg:
                    raw[f"postgresql_{size}"].append(
                        run_worker("scale", WORKER_TIMEOUT_SECONDS, fn="store_write",
                                   backend="postgresql", services=size,
                                   results=s.store_results, core=SLAMON_CORE)
                    )  # fmt: skip
                else:
                    raw[f"postgresql_{size}"].append({"not_available": "SLAMON_TEST_PG_URL not set"})

            def cell(key: str, field_: str, scale: float = 1.0, digits: int = 2, unit: str = "") -> str:
                why = status_of(raw[key])
                if why:
                    return why
                v = med(raw[key], field_)
                return f"{fmt(v * scale if v is not None else None, digits)}{unit}"

            d = f"daemon_{size}"
            render = (
                status_of(raw[d])
                or f"{cell(d, 'metrics_render_first_ms', digits=0)} / {cell(d, 'metrics_render_ms', digits=0)} ms"
            )
            lines.append(
                f"| {size:,} | {cell(f'load_{size}', 'load_seconds', unit=' s')} / "
                f"{cell(f'load_{size}', 'load_gc_on_seconds', unit=' s')} "
                f"| {cell(f'load_{size}', 'reload_seconds', unit=' s')} "
                f"| {cell(d, 'rss_bytes', 1 / 2**20, 0, ' MB')} | {render} "
                f"| {cell(d, 'metrics_series', digits=0)} "
                f"| {cell(f'sqlite_{size}', 'results_per_second', digits=0)} "
                f"| {cell(f'postgresql_{size}', 'results_per_second', digits=0)} |"
            )

    big = max(s.sizes)
    scaled = "" if big == 10000 else f" (measured at {big:,} services only)"
    load_s = med(raw[f"load_{big}"], "load_seconds")
    if load_s is not None:
        judge(report, "load", f"{load_s:.2f} s{scaled}", load_s < 3 if big >= 10000 else None)
        maybe_profile(report, "load", f"catalogue-load-{big}", "scale", fn="load", services=big,
                      core=SLAMON_CORE)  # fmt: skip
    reload_s = med(raw[f"load_{big}"], "reload_seconds")
    if reload_s is not None:
        judge(report, "reload", f"{reload_s:.2f} s{scaled}", reload_s < 0.5 if big >= 10000 else None)
    rss = med(raw[f"daemon_{big}"], "rss_bytes")
    if rss is not None:
        judge(report, "rss", f"{rss / 2**20:.0f} MB{scaled}", rss < 250 * 2**20 if big >= 10000 else None)
    render_ms = med(raw[f"daemon_{big}"], "metrics_render_ms")
    if render_ms is not None:
        judge(report, "metrics", f"{render_ms:.0f} ms warm{scaled}",
              render_ms < 250 if big >= 10000 else None)  # fmt: skip
        if report.targets["metrics"].status == "missed" and s.profile != "never":
            with Farm(cpu=OTHER_CORE) as farm:
                maybe_profile(report, "metrics", f"metrics-render-{big}", "scale",
                              fn="daemon_like", services=big, port=farm.port,
                              run_seconds=1.0, core=SLAMON_CORE)  # fmt: skip
    sq = [med(raw[f"sqlite_{n}"], "results_per_second") for n in s.sizes]
    sq = [v for v in sq if v is not None]
    if sq:
        judge(report, "sqlite", f"{max(sq):,.0f} results/s", max(sq) >= 20000)
    elif (why := status_of(raw[f"sqlite_{big}"])) and why.startswith(NA):
        report.targets["sqlite"].status = NA
        report.targets["sqlite"].measured = why
    first = next((r for r in raw[f"daemon_{big}"] if "probe_impl" in r), None)
    lines += [
        "",
        "Catalogue: a synthetic catalogue (the bundled offices, tiers, practices and "
        "indicators; services copied from one template, one HTTP probe each, spread over "
        "the four offices) generated into a temporary directory; load time is "
        "from reading the files to the validated `Catalogue` with PyYAML's stock "
        "`CSafeLoader`, in a fresh process on one core: first as `slamon run` and "
        "`slamon check` load (a `CatalogueLoader` with the collector paused by "
        "`slamon.tuning`), then as a plain `load_catalogue()` call (collector on). Reload: "
        f"the same loader again after one file was changed (median of {RELOADS}), as the "
        "daemon reloads on a file change (`Monitor.apply` not included). Resident memory (VmRSS) and `/metrics` are measured in a "
        "process wired like the daemon (loader, monitor, scheduler, probes against the farm "
        f"at a 60 s interval, results sink, collector) after {s.daemon_run_seconds:g} s of "
        "running, once every probe has a result (a filled `Runtime`); render is the "
        "collector plus the text exposition, first and then warm (median of the next two). "
        f"Store: {s.store_results:,} results written with `Store.write_results` in batches "
        "of 500 (the writer's batch), wall time of the writes only.",
    ]
    if first:
        lines.append(f"Probe: {first['probe_impl']}; results sink: {first['sink_impl']}.")
    report.sections.append(("2. Scale", lines))


# ----------------------------------------------------------------- 3. reporting


def bench_reporting(report: Report) -> None:
    s = report.settings
    raw = report.raw
    pg = os.environ.get("SLAMON_TEST_PG_URL")
    lines = [
        "| Services | rollups from | read rollups | SLA (all services) | indicators | total |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    # the store-backed reports at every size the backfill budget allows (at least one)
    store_sizes = sorted({min(n, s.store_report_max_services) for n in s.sizes if s.store_report_max_services > 0})
    plan = [(n, "memory") for n in s.sizes]
    plan += [(n, src) for n in store_sizes for src in ("sqlite", "postgresql")]
    for size, source in sorted(plan, key=lambda p: (p[0], p[1] != "memory")):
        k = f"report_{source}_{size}"
        if source == "postgresql" and not pg:
            raw[k] = [{"not_available": "SLAMON_TEST_PG_URL not set"}]
        else:
            # one process, the report made --runs times (for a store: on one backfill);
            # loading 10,000 services again for each run would cost more than the runs
            log(f"reporting {size:,} services ({source}), {s.runs} runs")
            raw[k] = [
                run_worker("reporting", WORKER_TIMEOUT_SECONDS, fn="indicators", services=size,
                           source=source, repeats=s.runs, core=SLAMON_CORE)
            ]  # fmt: skip
        runs = raw[k]
        why = status_of(runs)
        if why:
            lines.append(f"| {size:,} | {source} | {why} | | | |")
            continue
        read = f"{fmt(med(runs, 'fetch_seconds'))} s"
        if source == "memory" and med(runs, "series_seconds") is not None:
            read = f"{fmt(med(runs, 'series_seconds'))} s (series, apart)"
        lines.append(
            f"| {size:,} | {source} | {read} "
            f"| {fmt(med(runs, 'sla_seconds'))} s | {fmt(med(runs, 'indicator_seconds'), 3)} s "
            f"| {fmt(med(runs, 'total_seconds'))} s |"
        )
        if source != "memory" and med(runs, "backfill_rollups_per_second"):
            lines.append(
                f"| | (backfill into {source}) | {fmt(med(runs, 'backfill_rollups_per_second'), 0)} "
                "rollups/s | | | |"
            )
    big = max(s.sizes)
    candidates = []  # (end-to-end seconds, how it splits)
    for src in ("memory", "sqlite", "postgresql"):
        runs = raw.get(f"report_{src}_{big}")
        if not runs or status_of(runs) or med(runs, "total_seconds") is None:
            continue
        total = med(runs, "total_seconds")
        # judged end to end: from the memory variant's rollup objects, building their
        # day series is part of the report's cost (a store builds them while decoding)
        series = med(runs, "series_seconds") if src == "memory" else None
        if series is not None:
            candidates.append((total + series, f"{src}: {fmt(series)} s building the day series "
                               f"+ {fmt(total)} s SLA and indicators"))  # fmt: skip
        else:
            candidates.append((total, f"{src}: read, SLA and indicators"))
    if candidates:
        worst, how = max(candidates)
        scaled = "" if big == 10000 else f" (measured at {big:,} services only)"
        judge(report, "indicators", f"{worst:.2f} s ({how}){scaled}", worst < 2 if big >= 10000 else None)
        # profiled at the smallest size: the same code path, a fraction of the time
        small = min(s.sizes)
        maybe_profile(report, "indicators", f"reporting-{small}", "reporting", fn="indicators",
                      services=small, source="memory", repeats=1, core=SLAMON_CORE)  # fmt: skip
    else:
        why = status_of(raw[f"report_memory_{big}"]) or ""
        if why.startswith(NA):
            report.targets["indicators"].status = NA
            report.targets["indicators"].measured = why
    lines += [
        "",
        "Each service of the synthetic catalogue has one day rollup per UTC day of the "
        "2026-2027 biennium (about 1 % of days without data, 5 % with some bad minutes). "
        "`memory`: the pure engine over rollups already in memory, one day series per "
        "service built from its own rollups (that build is shown under read rollups and "
        "not counted in total; `measure_many` over "
        "every service, the verdicts, then `compute_indicators` per office and in total), "
        f"{s.runs} times in one process. "
        "`sqlite`/`postgresql`: the rollups are first backfilled into the store (rate "
        "shown), then read back with `Store.day_series_between` and the same report made "
        f"({s.runs} report run(s) on one backfill). Store-backed reports run at up to "
        f"{s.store_report_max_services:,} services (`--store-report-max N`; a biennium "
        "backfill of 10,000 services and its reads take over 10 minutes per backend here).",
    ]
    report.sections.append(("3. Reporting cost over a biennium", lines))
    bench_report_cli(report)


def bench_report_cli(report: Report) -> None:
    """``slamon report --format json`` as a subprocess on a store (issue 13): at 1,000
    services on a backfilled and sealed store, at 10,000 on a generated one (sealed
    months plus the open month: docs/benchmarks.md, 3b)."""
    s = report.settings
    raw = report.raw
    pg = os.environ.get("SLAMON_TEST_PG_URL")
    lines = [
        "| Services | store | store made by | report wall time | catalogue load (apart) | report - load "
        "| in memory | store / memory | indicators (page's work) |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size in s.sizes:
        for source in ("sqlite", "postgresql"):
            k = f"report_cli_{source}_{size}"
            if source == "postgresql" and not pg:
                raw[k] = [{"not_available": "SLAMON_TEST_PG_URL not set"}]
            else:
                log(f"slamon report as a subprocess, {size:,} services ({source})")
                raw[k] = [
                    run_worker("reporting", 2 * WORKER_TIMEOUT_SECONDS, fn="cli_report", services=size,
                               source=source, backfill=size <= 1000, memory=source == "sqlite", core=SLAMON_CORE)
                ]  # fmt: skip
            runs = raw[k]
            why = status_of(runs)
            if why:
                lines.append(f"| {size:,} | {source} | {why} | | | | | | |")
                continue
            made = "backfill + `slamon store seal`" if med(runs, "seal_seconds") is not None else "generated sealed + open month"
            memory = med(runs, "memory_total_seconds")
            ratio = med(runs, "ratio_store_to_memory")
            lines.append(
                f"| {size:,} | {source} | {made} | {fmt(med(runs, 'report_wall_seconds'))} s "
                f"| {fmt(med(runs, 'catalogue_load_seconds'))} s | {fmt(med(runs, 'report_minus_load_seconds'))} s "
                f"| {fmt(memory) + ' s' if memory is not None else '-'} | {fmt(ratio) + ' x' if ratio is not None else '-'} "
                f"| {fmt(med(runs, 'indicators_seconds'))} s |"
            )
    report.sections.append(("3b. `slamon report` as a user runs it", lines))


# ----------------------------------------------------------------- RESULTS.md


def render(report: Report) -> str:
    s = report.settings
    m = machine.machine()
    out = [
        "# Benchmark results",
        "",
        f"Written by `{s.command}` on {report.started} in {report.elapsed_seconds / 60:.1f} min "
        f"(medians of {s.runs} run{'s' if s.runs != 1 else ''}; sizes "
        f"{', '.join(f'{n:,}' for n in s.sizes)}). How to run and what each figure means: "
        "[docs/benchmarks.md](../docs/benchmarks.md).",
        "",
        "> **Noise.** This machine is shared (load average "
        f"{' / '.join(f'{x:.1f}' for x in report.load_before)} at the start, "
        f"{' / '.join(f'{x:.1f}' for x in report.load_after)} at the end, 1/5/15 min): "
        "absolute figures vary by 20 % or more from run to run. Compare the ratios, "
        "which were measured side by side in the same run.",
        "",
        "## Machine and build",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {m['cpu']} |",
        f"| Cores | {m['cores']} ({m['cores_usable']} usable) |",
        f"| Memory | {m['memory_gib']} GiB |",
        f"| Kernel | {m['kernel']} |",
        f"| Python | {m['python']} |",
        f"| slamon | {machine.git_revision()} |",
        f"| blackbox_exporter | {blackbox_version() or 'not installed'} |",
    ]
    for name, v in machine.versions().items():
        out.append(f"| {name} | {v} |")
    out += ["", "Parts of slamon in this build (a missing part is reported, not failed):", ""]
    for module, origin in machine.parts().items():
        where = "**not in this build**" if origin is None else f"`{origin}`"
        if origin is not None and origin.startswith("/"):
            where += " (outside this checkout: found through the installed package)"
        out.append(f"- {machine.PARTS[module]} (`{module}`): {where}")
    out += [
        "",
        "## Targets (issue 7)",
        "",
        "| Target | Measured | Result |",
        "|---|---|---|",
    ]
    for t in report.targets.values():
        result = f"**{t.status}**" if t.status in ("met", "missed") else t.status
        if t.profile:
            result += f" ([profile]({t.profile}))"
        out.append(f"| {t.text} | {t.measured or '-'} | {result} |")
    for title, lines in report.sections:
        out += ["", f"## {title}", "", *lines]
    if report.profiles:
        out += [
            "",
            "## Profiles of the missed targets",
            "",
            "Measured once more under pyinstrument (call trees in the linked files). Where "
            "the time went, by function (own time, share of the profiled window):",
        ]
        for name, path, top in report.profiles:
            out += ["", f"**{name}** ([call tree]({path}))", ""]
            out += [
                f"- {t['share'] * 100:.1f} % `{t['function']}` ({t['where']})" for t in top[:8]
            ]
    why = [(k, t) for k, t in report.targets.items() if t.status == "missed" and k in WHY_MISSED]
    if why:
        out += ["", "## Why the missed targets are missed", ""]
        for key, t in why:
            out += [f"**{t.text}.** {WHY_MISSED[key]}", ""]
    raw_name = s.out.with_suffix(".json").name
    out += ["", f"Every run's raw figures: [{raw_name}]({raw_name}).", ""]
    return "\n".join(out)


def parse_args(argv: list[str] | None) -> Settings:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1,000 services, one run, short windows")
    p.add_argument("--only", help="comma-separated: probe, scale, reporting")
    p.add_argument("--sizes", help="comma-separated service counts (default 1000,10000)")
    p.add_argument("--runs", type=int, help="runs per figure (default 3)")
    p.add_argument("--seconds", type=float, help="measuring window of the probe benchmarks")
    p.add_argument("--saturation-services", type=int)
    p.add_argument("--store-results", type=int)
    p.add_argument("--store-report-max", type=int, help="largest size reported from a store")
    p.add_argument("--no-profile", action="store_true", help="do not profile missed targets")
    p.add_argument("--out", type=Path, help="where to write RESULTS.md (raw JSON beside it)")
    a = p.parse_args(argv)
    s = Settings()
    s.command = "python -m benchmarks.run" + (" " + " ".join(argv or sys.argv[1:])).rstrip()
    if a.quick:
        s.runs, s.sizes, s.seconds, s.warmup_seconds = 1, (1000,), 2.0, 1.0
        s.daemon_run_seconds, s.store_results = 2.0, 10_000
    if a.only:
        s.only = tuple(x.strip() for x in a.only.split(",") if x.strip())
        unknown = set(s.only) - {"probe", "scale", "reporting"}
        if unknown:
            p.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    if a.sizes:
        s.sizes = tuple(int(x) for x in a.sizes.split(","))
    if a.runs:
        s.runs = a.runs
    if a.seconds:
        s.seconds = a.seconds
        s.warmup_seconds = min(s.warmup_seconds, max(0.2, a.seconds / 2))
        s.daemon_run_seconds = min(s.daemon_run_seconds, a.seconds)
    if a.saturation_services:
        s.saturation_services = a.saturation_services
    if a.store_results:
        s.store_results = a.store_results
    if a.store_report_max is not None:
        s.store_report_max_services = a.store_report_max
    if a.no_profile:
        s.profile = "never"
    if a.out:
        s.out = a.out.resolve()
        s.profiles_dir = s.out.parent / "profiles"
    return s


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    report = Report(settings)
    report.targets = {k: Target(text) for k, text in TARGETS.items()}
    started = time.monotonic()
    steps = {"probe": bench_probe, "scale": bench_scale, "reporting": bench_reporting}
    for name in ("probe", "scale", "reporting"):
        if name in settings.only:
            t0 = time.monotonic()
            steps[name](report)
            log(f"{name} done in {time.monotonic() - t0:.0f} s")
    report.elapsed_seconds = time.monotonic() - started
    report.load_after = machine.load_average()
    settings.out.parent.mkdir(parents=True, exist_ok=True)
    settings.out.write_text(render(report))
    settings.out.with_suffix(".json").write_text(
        json.dumps(
            {
                "started": report.started,
                "settings": {k: str(v) for k, v in asdict(settings).items()},
                "runs": report.raw,
                "targets": {k: asdict(t) for k, t in report.targets.items()},
            },
            indent=1,
        )
    )
    log(f"wrote {settings.out} in {report.elapsed_seconds / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
