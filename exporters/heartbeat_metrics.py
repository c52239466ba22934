"""``/metrics`` series of heartbeat (push) probes, from ``slamon.heartbeats.Heartbeats``.

- ``slamon_heartbeat_last_seconds{vantage,office,service,probe}``: seconds since the
  last heartbeat of the probe was received (no series before the first one);
- ``slamon_heartbeat_received_total{office,service,probe,status}``: heartbeats taken in
  (status ok | fail);
- ``slamon_heartbeat_rejected_total{reason}``: heartbeats refused: ``unauthorized``
  (401, missing or wrong token), ``unknown`` (404), ``misdirected`` (421), ``unavailable``
  (503, the daemon is stopping).

The state of each heartbeat (on time, missed, reported) is a probe result like any
other, so ``probe_success`` and ``slamon_probe_failures_total{reason="missed"}`` carry it.
``collect()`` reads memory only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from slamon.heartbeats import Heartbeats, Verdict

REJECTED_REASONS = tuple(v.value for v in Verdict if v is not Verdict.accepted)


class HeartbeatCollector(Collector):
    def __init__(self, heartbeats: Heartbeats, clock: Callable[[], float] = time.time) -> None:
        self.heartbeats = heartbeats
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        hb = self.heartbeats
        now = self.clock()
        last = GaugeMetricFamily(
            "slamon_heartbeat_last_seconds",
            "Seconds since the last heartbeat of a push probe was received.",
            labels=["vantage", "office", "service", "probe"],
        )
        for task, beat in hb.last_beats():
            last.add_metric(
                [task.vantage, task.service.office, task.service.id, task.probe.id], max(0.0, now - beat.at)
            )
        yield last
        offices = {}
        if hb.catalogue is not None:
            offices = {sid: s.office for sid, s in hb.catalogue.services.items()}
        received = CounterMetricFamily(
            "slamon_heartbeat_received",
            "Heartbeats taken in, by the status the job sent (ok or fail).",
            labels=["office", "service", "probe", "status"],
        )
        for (service, probe, status), count in sorted(hb.received_total.items()):
            received.add_metric([offices.get(service, ""), service, probe, status], count)
        yield received
        rejected = CounterMetricFamily(
            "slamon_heartbeat_rejected",
            "Heartbeats refused: unauthorized (401), unknown (404), misdirected (421), unavailable (503).",
            labels=["reason"],
        )
        for reason in REJECTED_REASONS:
            rejected.add_metric([reason], hb.rejected_total.get(reason, 0))
        yield rejected
