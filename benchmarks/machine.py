"""What a result depends on: the machine, the versions, and which parts of slamon
this build holds (and where each was imported from)."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import importlib.util
import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "aiohttp", "uvloop", "prometheus-client", "pydantic", "PyYAML",
    "SQLAlchemy", "sqlmodel", "psycopg", "pyinstrument",
)  # fmt: skip
# the parts each benchmark needs, by module: present or not in this build
PARTS = {
    "slamon.loader": "catalogue loader",
    "slamon.scheduler": "scheduler",
    "slamon.probes": "probes",
    "slamon.store": "store",
    "slamon.core.sla.bulk": "SLA engine",
    "slamon.core.indicators": "indicators",
    "exporters.metrics": "metrics collector",
}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def load_average() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (0.0, 0.0, 0.0)


def machine() -> dict:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": round(memory_bytes() / 2**30, 1),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }


def versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def part_origin(module: str) -> str | None:
    """Where ``module`` would be imported from, or None when it is not in this build."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    origin = spec.origin or next(iter(spec.submodule_search_locations or [""]))
    try:
        return str(Path(origin).resolve().relative_to(ROOT))
    except ValueError:
        return str(origin)


def parts() -> dict[str, str | None]:
    return {module: part_origin(module) for module in PARTS}


def git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT, capture_output=True, text=True, timeout=5,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{rev}{' (with local changes)' if dirty else ''}" if rev else "unknown"


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
