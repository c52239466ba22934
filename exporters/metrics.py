"""``/metrics`` collector over the daemon's in-memory state (minimal version).

Yields the blackbox_exporter-compatible ``probe_success`` and
``probe_duration_seconds`` per (vantage, office, service, probe), the catalogue load
state, the scheduler's own figures and ``slamon_build_info`` (names in METRICS.md).
The full collector replaces this module with the same class name and constructor:
``SlamonCollector(runtime)``. ``collect()`` reads ``Runtime`` only: no I/O.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from slamon import __version__
from slamon.runtime import Runtime

PROBE_LABELS = ["vantage", "office", "service", "probe"]


class SlamonCollector(Collector):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        rt = self.runtime
        success = GaugeMetricFamily(
            "probe_success", "Whether the last probe succeeded (1) or failed (0).", labels=PROBE_LABELS
        )
        duration = GaugeMetricFamily(
            "probe_duration_seconds", "How long the last probe took.", labels=PROBE_LABELS
        )
        services = rt.catalogue.services if rt.catalogue is not None else {}
        for (vantage, service_id, probe_id), rec in rt.observations.probes.items():
            svc = services.get(service_id)
            if rec.last is None or svc is None:
                continue
            labels = [vantage, svc.office, service_id, probe_id]
            success.add_metric(labels, 1.0 if rec.last.success else 0.0)
            duration.add_metric(labels, rec.last.outcome.duration_seconds)
        yield success
        yield duration

        stats = rt.catalogue_stats
        yield GaugeMetricFamily(
            "slamon_catalogue_load_success",
            "Whether the last catalogue load or reload succeeded.",
            value=1.0 if stats.load_success else 0.0,
        )
        if stats.loaded_timestamp_seconds is not None:
            yield GaugeMetricFamily(
                "slamon_catalogue_loaded_timestamp_seconds",
                "When the catalogue now running was loaded.",
                value=stats.loaded_timestamp_seconds,
            )
        reloads = CounterMetricFamily(
            "slamon_catalogue_reloads", "Catalogue reloads by result.", labels=["result"]
        )
        for result in ("success", "failure"):
            reloads.add_metric([result], float(stats.reloads_total.get(result, 0)))
        yield reloads

        sched = rt.scheduler
        yield GaugeMetricFamily(
            "slamon_scheduler_in_flight", "Probes running now.", value=float(sched.in_flight)
        )
        yield GaugeMetricFamily(
            "slamon_scheduler_probes", "Probes scheduled.", value=float(sched.scheduled_probes)
        )
        yield CounterMetricFamily(
            "slamon_scheduler_runs", "Probe runs started.", value=float(sched.runs_total)
        )
        yield CounterMetricFamily(
            "slamon_scheduler_overruns",
            "Probe runs skipped because the previous run was still going.",
            value=float(sched.overruns_total),
        )

        info = GaugeMetricFamily(
            "slamon_build_info", "slamon version and Python.", labels=["version", "python"]
        )
        info.add_metric([__version__, platform.python_version()], 1.0)
        yield info
