"""``AlertNotifier``: the daemon's own alerts, to Alertmanager and plain webhooks.

``notify(event)`` never blocks: it puts the event on a bounded queue (overflow is
counted and logged). A background task keeps the set of active alerts and
de-duplicates: a firing alert already active is not posted again, except that active
alerts are re-sent to Alertmanager every ``resend_interval_seconds`` with an
``endsAt`` a few intervals ahead (Alertmanager resolves an alert by itself once its
``endsAt`` passes, so a dead daemon does not leave alerts firing for ever); a resolve
is posted once, with ``endsAt`` = when it ended. Each target (chosen by the alert's
office) has its own delivery task, so one that is down never holds back the others.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp

from exporters.alerting.delivery import STOP, AlertStats, DeliverySettings, TargetWorker
from exporters.alerting.payloads import alertmanager_alert, webhook_body
from exporters.alerting.targets import AlertTarget
from slamon.core.alert_events import AlertEvent, AlertStatus

log = logging.getLogger("slamon.alerts")

Identity = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class NotifierSettings:
    queue_capacity: int = 1000
    resend_interval_seconds: float = 60.0
    # a firing alert's endsAt is this many re-send intervals ahead of each (re-)send
    ends_at_intervals: float = 3.0
    delivery: DeliverySettings = field(default_factory=DeliverySettings)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AlertNotifier:
    def __init__(
        self,
        targets: Sequence[AlertTarget],
        settings: NotifierSettings | None = None,
        *,
        clock: Callable[[], dt.datetime] = _utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.targets = list(targets)
        self.settings = settings or NotifierSettings()
        self.stats = AlertStats(queue_capacity=self.settings.queue_capacity)
        self._clock = clock
        self._rng = rng or random.Random()
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=self.settings.queue_capacity)
        self._active: dict[Identity, AlertEvent] = {}
        self._workers: list[TargetWorker] = []
        self._session: aiohttp.ClientSession | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._worker_tasks: list[asyncio.Task[None]] = []
        self._closing = False

    @property
    def active(self) -> list[AlertEvent]:
        """The alerts currently firing (as last notified)."""
        return list(self._active.values())

    def notify(self, event: AlertEvent) -> None:
        """Queue an event for delivery; never blocks, never raises on overload."""
        if self._closing:
            self.stats.dropped_total += 1
            log.warning("alert_dropped", extra={"alertname": event.name, "reason": "closing"})
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.stats.dropped_total += 1
            log.warning(
                "alert_dropped alertname=%s service=%s reason=queue_full",
                event.name, event.labels.get("service", ""),
            )
        self._update_queue_length()

    def retain_services(self, service_ids: set[str]) -> int:
        """Resolve the active alerts of services no longer in the catalogue (after a reload).

        Returns how many resolves were queued.
        """
        now = self._clock()
        gone = [e for e in self._active.values() if e.labels.get("service") not in service_ids]
        for event in gone:
            self.notify(replace(event, status=AlertStatus.resolved, ends_at=max(now, event.starts_at)))
        return len(gone)

    async def start(self) -> None:
        if self._dispatcher is not None:
            raise RuntimeError("AlertNotifier already started")
        d = self.settings.delivery
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=d.timeout_seconds),
            connector=aiohttp.TCPConnector(limit=max(4, 2 * len(self.targets))),
        )
        names: set[str] = set()
        for target in self.targets:
            name = target.name
            n = 2
            while name in names:  # two targets on one host: keep their labels apart
                name, n = f"{target.name}#{n}", n + 1
            names.add(name)
            self._workers.append(TargetWorker(target, name, self._session, d, self.stats, self._rng))
        self._worker_tasks = [
            asyncio.create_task(w.run(), name=f"alerts:{w.name}") for w in self._workers
        ]
        self._dispatcher = asyncio.create_task(self._dispatch_loop(), name="alerts:dispatch")
        log.info(
            "alert_notifier_started targets=%s",
            ",".join(f"{w.target.kind}:{w.name}" for w in self._workers) or "none",
        )

    async def close(self, timeout_seconds: float = 5.0) -> None:
        """Deliver what is pending within ``timeout_seconds``, then cancel the rest."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        self._closing = True
        try:
            self._queue.put_nowait(STOP)
        except asyncio.QueueFull:
            pass  # the dispatcher stops once the queue is empty
        cancelled = 0
        if self._dispatcher is not None:
            done, _ = await asyncio.wait({self._dispatcher}, timeout=max(0.0, deadline - loop.time()))
            if not done:
                self._dispatcher.cancel()
                cancelled += 1
        for w in self._workers:
            w.stop()
        if self._worker_tasks:
            _, pending = await asyncio.wait(self._worker_tasks, timeout=max(0.0, deadline - loop.time()))
            for task in pending:
                task.cancel()
            cancelled += len(pending)
            await asyncio.gather(*self._worker_tasks, return_exceptions=True)
        if self._dispatcher is not None:
            await asyncio.gather(self._dispatcher, return_exceptions=True)
        lost = self._queue.qsize() + sum(w.queue.qsize() for w in self._workers)
        if self._session is not None:
            await self._session.close()
        log.info("alert_notifier_closed", extra={"cancelled_tasks": cancelled, "undelivered": lost})

    # -- the dispatcher ---------------------------------------------------------------

    async def _dispatch_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.settings.resend_interval_seconds
        next_resend = loop.time() + interval
        while not (self._closing and self._queue.empty()):
            try:
                event = await asyncio.wait_for(self._queue.get(), max(0.0, next_resend - loop.time()))
            except TimeoutError:
                event = None
            if event is STOP:
                break
            if event is not None:
                self._handle(event)
            if loop.time() >= next_resend:
                self._resend_active()
                next_resend = loop.time() + interval
            self._update_queue_length()
        self._update_queue_length()

    def _handle(self, event: AlertEvent) -> None:
        now = self._clock()
        if event.firing:
            if event.identity in self._active:
                # unchanged: not re-posted (the periodic re-send keeps Alertmanager current)
                self._active[event.identity] = replace(
                    event, starts_at=self._active[event.identity].starts_at
                )
                self.stats.deduplicated_total += 1
                return
            self._active[event.identity] = event
            self._send(event, self._firing_ends_at(event, now), to_webhooks=True)
            log.info(
                "alert_firing alertname=%s office=%s service=%s vantage=%s",
                event.name, event.labels.get("office"), event.labels.get("service"),
                event.labels.get("vantage"),
            )
        else:
            fired = self._active.pop(event.identity, None)
            if fired is None:
                # nothing of ours is firing (e.g. the first success after start-up)
                return
            ends_at = max(event.ends_at or now, fired.starts_at)
            resolved = replace(event, starts_at=fired.starts_at, ends_at=ends_at)
            self._send(resolved, ends_at, to_webhooks=True)
            log.info(
                "alert_resolved alertname=%s office=%s service=%s vantage=%s",
                event.name, event.labels.get("office"), event.labels.get("service"),
                event.labels.get("vantage"),
            )
        self.stats.active_alerts = len(self._active)

    def _resend_active(self) -> None:
        now = self._clock()
        for event in self._active.values():
            self._send(event, self._firing_ends_at(event, now), to_webhooks=False)

    def _firing_ends_at(self, event: AlertEvent, now: dt.datetime) -> dt.datetime:
        ahead = dt.timedelta(
            seconds=self.settings.resend_interval_seconds * self.settings.ends_at_intervals
        )
        return max(now, event.starts_at) + ahead

    def _send(self, event: AlertEvent, ends_at: dt.datetime, *, to_webhooks: bool) -> None:
        office = event.labels.get("office", "")
        for w in self._workers:
            if not w.target.accepts(office):
                continue
            if w.target.kind == "alertmanager":
                w.offer(alertmanager_alert(event, ends_at))
            elif to_webhooks:
                w.offer(webhook_body(event))

    def _update_queue_length(self) -> None:
        self.stats.queue_length = self._queue.qsize() + sum(w.queue.qsize() for w in self._workers)
