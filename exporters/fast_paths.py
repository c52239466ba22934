"""``slamon_fast_path_enabled``: which of the daemon's fast paths are on.

Each fast path relies on public API only and has a plain fallback that gives the same
results, more slowly; when one is off (a PyYAML without libyaml, a C library other
than glibc, a registry that cannot list its collectors), the daemon logs it at
startup and this gauge says so, so the slowdown is explained. The paths are listed in
docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client.metrics_core import GaugeMetricFamily, Metric


class FastPathCollector:
    """A collector of fixed facts, known at startup."""

    def __init__(self, paths: Mapping[str, bool]) -> None:
        self._paths = dict(paths)

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "slamon_fast_path_enabled",
            "Whether a fast path of the daemon is on (1) or fell back to the plain path (0).",
            labels=["path"],
        )
        for name in sorted(self._paths):
            family.add_metric([name], 1.0 if self._paths[name] else 0.0)
        yield family
