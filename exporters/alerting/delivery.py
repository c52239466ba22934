"""Delivery to one target: its own bounded queue and task, retries with capped backoff.

One task per target keeps each target's alerts in order (a resolve never overtakes its
firing) and lets an unreachable target retry without holding back the others.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from exporters.alerting.targets import AlertTarget

log = logging.getLogger("slamon.alerts")

STOP = object()


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    timeout_seconds: float = 5.0  # per request, connect included
    max_attempts: int = 6  # then the delivery is given up and counted as failed
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    queue_capacity: int = 1000  # per target
    max_batch: int = 64  # alerts per POST to Alertmanager

    def backoff_seconds(self, attempt: int, rng: random.Random) -> float:
        """Capped exponential backoff with jitter: half fixed, half random."""
        ceiling = min(self.backoff_max_seconds, self.backoff_initial_seconds * (2**attempt))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass
class AlertStats:
    """Counters the daemon exports (``slamon_alerts_*``); read-only for readers."""

    queue_length: int = 0  # events waiting, all queues together
    queue_capacity: int = 0
    dropped_total: int = 0  # events lost because a queue was full
    deduplicated_total: int = 0  # firing events for alerts already active (not re-posted)
    active_alerts: int = 0
    # (target name, result): result in success | rejected (4xx, given up) | failed (retries exhausted)
    sent_total: Counter[tuple[str, str]] = field(default_factory=Counter)
    retries_total: Counter[str] = field(default_factory=Counter)  # by target name


class TargetWorker:
    def __init__(
        self,
        target: AlertTarget,
        name: str,
        session: aiohttp.ClientSession,
        settings: DeliverySettings,
        stats: AlertStats,
        rng: random.Random,
    ) -> None:
        self.target = target
        self.name = name
        self._session = session
        self._settings = settings
        self._stats = stats
        self._rng = rng
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=settings.queue_capacity)
        self.closing = False

    def offer(self, payload: dict[str, Any]) -> bool:
        try:
            self.queue.put_nowait(payload)
        except asyncio.QueueFull:
            self._stats.dropped_total += 1
            log.warning("alert_dropped", extra={"target": self.name, "reason": "target_queue_full"})
            return False
        return True

    def stop(self) -> None:
        self.closing = True
        try:
            self.queue.put_nowait(STOP)
        except asyncio.QueueFull:
            pass  # run() stops once the queue is empty

    async def run(self) -> None:
        while not (self.closing and self.queue.empty()):
            item = await self.queue.get()
            if item is STOP:
                return
            batch = [item]
            if self.target.kind == "alertmanager":
                stop = False
                while len(batch) < self._settings.max_batch and not self.queue.empty():
                    more = self.queue.get_nowait()
                    if more is STOP:
                        stop = True
                        break
                    batch.append(more)
                await self._deliver(batch, len(batch))
                if stop:
                    return
            else:
                await self._deliver(item, 1)

    async def _deliver(self, body: Any, alerts: int) -> None:
        s = self._settings
        for attempt in range(s.max_attempts):
            result, detail = await self._post(body)
            if result == "success":
                self._stats.sent_total[(self.name, "success")] += alerts
                return
            if result == "rejected":
                self._stats.sent_total[(self.name, "rejected")] += alerts
                log.error(
                    "alert_rejected target=%s kind=%s alerts=%d %s",
                    self.name, self.target.kind, alerts, detail,
                )
                return
            if attempt + 1 < s.max_attempts:
                self._stats.retries_total[self.name] += 1
                delay = s.backoff_seconds(attempt, self._rng)
                log.info(
                    "alert_delivery_retry target=%s attempt=%d delay_seconds=%.2f %s",
                    self.name, attempt + 1, delay, detail,
                )
                await asyncio.sleep(delay)
        self._stats.sent_total[(self.name, "failed")] += alerts
        log.error(
            "alert_delivery_failed target=%s kind=%s alerts=%d attempts=%d %s",
            self.name, self.target.kind, alerts, s.max_attempts, detail,
        )

    async def _post(self, body: Any) -> tuple[str, str]:
        """POST once: ("success"|"retry"|"rejected", detail safe to log)."""
        timeout = aiohttp.ClientTimeout(total=self._settings.timeout_seconds)
        try:
            async with self._session.post(self.target.post_url, json=body, timeout=timeout) as resp:
                if 200 <= resp.status < 300:
                    return "success", ""
                text = (await resp.content.read(300)).decode("utf-8", "replace").strip()
                detail = f"status={resp.status} body={text!r}"
                if resp.status >= 500 or resp.status in (408, 429):
                    return "retry", detail
                return "rejected", detail
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # the exception text can hold the URL (and its path tokens): log its type only
            return "retry", f"error={type(exc).__name__}"
