"""Small measuring tools shared by the benchmarks: CPU, memory, pinning, medians,
and running one measurement in a fresh subprocess that answers with JSON.

Each measurement runs in its own process so that one does not warm (or bloat) the
next, and so that CPU time and resident memory belong to that measurement alone.
"""

from __future__ import annotations

import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT_PREFIX = "RESULT "
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class NotAvailable(Exception):
    """A part of slamon this benchmark needs is not in this build (yet)."""


def pin_to_core(core: int) -> bool:
    """Pin the calling process (and threads it starts later) to one core."""
    if not hasattr(os, "sched_setaffinity"):
        return False
    cores = os.sched_getaffinity(0)
    if core not in cores:
        return False
    os.sched_setaffinity(0, {core})
    return True


def pin_child_to(core: int | None):
    """A ``preexec_fn`` for ``subprocess.Popen`` that pins the child (and every thread
    it starts) to ``core`` before it execs; None when there is nothing to pin."""
    if core is None or not hasattr(os, "sched_setaffinity"):
        return None
    return lambda: pin_to_core(core)


def cpu_seconds() -> float:
    """CPU time of this process (user + system), all threads."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def proc_cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) of another process from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is state (field 3); utime is field 14, stime field 15
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Window:
    """A measuring window over a running load: probes done, successes, CPU time.

    ``start(done, ok)`` and ``stop(done, ok)`` take the load's counters at both ends;
    ``cpu`` reads the CPU time to charge (this process by default, or another one's,
    e.g. ``lambda: proc_cpu_seconds(pid)``). ``stop`` returns the figures every probe
    benchmark reports."""

    def __init__(self, cpu=cpu_seconds) -> None:
        self.cpu = cpu
        self._start: tuple[int, int, float, float] | None = None

    def start(self, done: int, ok: int) -> None:
        self._start = (done, ok, self.cpu(), time.monotonic())

    def stop(self, done: int, ok: int) -> dict:
        c1, t1 = self.cpu(), time.monotonic()
        assert self._start is not None, "stop() before start()"
        d0, ok0, c0, t0 = self._start
        probes = done - d0
        return {
            "probes": probes,
            "probes_per_second": probes / (t1 - t0),
            "cpu_ms_per_probe": (c1 - c0) / probes * 1000 if probes else None,
            "cpu_utilisation": (c1 - c0) / (t1 - t0),
            "success_ratio": (ok - ok0) / probes if probes else None,
        }


def rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def median(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def emit(payload: dict) -> None:
    """How a worker answers: one line of JSON on stdout."""
    print(RESULT_PREFIX + json.dumps(payload), flush=True)


def run_worker(module: str, timeout_seconds: float, **kwargs: object) -> dict:
    """Run ``python -m benchmarks.<module> <json kwargs>`` and return its JSON answer.

    Never raises for a failed measurement: the answer then holds ``error`` (or
    ``not_available`` when the worker says a part is missing)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{module}", json.dumps(kwargs)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_seconds,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_seconds:g}s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            answer = json.loads(line[len(RESULT_PREFIX) :])
            answer.setdefault("wall_seconds", time.monotonic() - started)
            return answer
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}


def worker_main(functions: dict, argv: list[str] | None = None) -> int:
    """Entry point of a worker module: ``{"fn": name, ...kwargs}`` -> emit(result)."""
    args = json.loads((argv or sys.argv[1:])[0])
    fn = functions[args.pop("fn")]
    try:
        emit(fn(**args))
    except NotAvailable as exc:
        emit({"not_available": str(exc)})
    return 0


def make_profiler(path: str | None):
    """A pyinstrument profiler when a profile is asked for and the ``bench`` extra is
    installed; None otherwise (the benchmark then runs unprofiled)."""
    if not path:
        return None
    try:
        from pyinstrument import Profiler
    except ImportError:
        return None
    # async_mode disabled: sample what the thread is really running, not who awaits it
    return Profiler(interval=0.002, async_mode="disabled")


def write_profile(profiler, path: str, top: int = 10) -> list[dict]:
    """Write the profile as text (small, readable in the repository) and return the
    functions with the most time spent in them (self time), for RESULTS.md."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(profiler.output_text(unicode=True, color=False, show_all=False))
    session = profiler.last_session
    root = session.root_frame() if session is not None else None
    if root is None:
        return []
    totals: dict[tuple[str, str], float] = {}
    stack = [root]
    while stack:
        frame = stack.pop()
        if frame.is_synthetic:
            continue  # "[self]" and the like: counted in their parent below
        stack.extend(frame.children)
        # own time: the "[self]" children plus whatever the children do not cover
        own = frame.time - sum(c.time for c in frame.children if not c.is_synthetic)
        if own > 0:
            where = f"{frame.file_path_short or '?'}:{frame.line_no or 0}"
            key = (frame.function or "?", where)
            totals[key] = totals.get(key, 0.0) + own
    whole = root.time or 1.0
    ranked = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return [{"function": f, "where": w, "share": t / whole} for (f, w), t in ranked]
