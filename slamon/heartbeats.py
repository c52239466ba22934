"""Heartbeats received over HTTP, turned into results like any probe's.

``Heartbeats`` holds the heartbeat probes this daemon owns (its offices and shard, from
the monitor), takes each push (``receive``: token checked with ``hmac.compare_digest``
against the probe's ``${env:NAME}``), and records every probe's state as a result each
``interval`` (and at once when a heartbeat arrives) through ``on_result``: the same
path as a probe run, so state, alerts, the store, the SLA and the pages see it.

The decision (on time, missed, reported) is the pure ``slamon.core.heartbeat.judge``.
State lives in memory: after a restart a probe is watched afresh.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from slamon.core.catalogue import Catalogue, ProbeTask
from slamon.core.heartbeat import Beat, clean_message, judge
from slamon.core.model import ENV_REF_RE, HeartbeatProbe, Lifecycle
from slamon.core.results import ProbeResult

log = logging.getLogger("slamon.heartbeats")

TICK_SECONDS = 1.0


class Verdict(StrEnum):
    accepted = "accepted"
    unknown = "unknown"  # no such service, or no such heartbeat probe in it (404)
    misdirected = "misdirected"  # another daemon owns it (421)
    unauthorized = "unauthorized"  # token missing or wrong (401)
    unavailable = "unavailable"  # the daemon is stopping: try again (503)


@dataclass(slots=True)
class _Watch:
    task: ProbeTask
    watched_since: float
    next_due: float  # loop time of the next recorded result
    last: Beat | None = None


def is_heartbeat(task: ProbeTask) -> bool:
    return task.probe.kind == "heartbeat"


class Heartbeats:
    def __init__(
        self,
        on_result: Callable[[ProbeResult], None],
        env: Mapping[str, str],
        clock: Callable[[], float] = time.time,
        tick_seconds: float = TICK_SECONDS,
    ) -> None:
        self.on_result = on_result
        self.env = env
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.catalogue: Catalogue | None = None
        self._watches: dict[tuple[str, str, str], _Watch] = {}
        self._by_probe: dict[tuple[str, str], list[_Watch]] = {}
        self._task: asyncio.Task | None = None
        self._unset_logged: set[str] = set()
        self._closed = False  # set at shutdown: results could no longer be stored
        # for /metrics
        self.rejected_total: Counter[str] = Counter()  # Verdict value -> count
        self.received_total: Counter[tuple[str, str, str]] = Counter()  # (service, probe, status)

    # ------------------------------------------------------------------ catalogue

    def update(self, catalogue: Catalogue, tasks: Iterable[ProbeTask]) -> None:
        """Watch the heartbeat probes among ``tasks`` (the monitor's, after each load)."""
        now = self.clock()
        due = self._loop_time()
        watches: dict[tuple[str, str, str], _Watch] = {}
        for task in tasks:
            if not is_heartbeat(task):
                continue
            old = self._watches.get(task.key)
            if old is not None:
                old.task = task
                watches[task.key] = old
            else:
                watches[task.key] = _Watch(task, watched_since=now, next_due=due + task.probe.interval)
        self._watches = watches
        by_probe: dict[tuple[str, str], list[_Watch]] = {}
        for watch in watches.values():
            by_probe.setdefault((watch.task.service.id, watch.task.probe.id), []).append(watch)
        self._by_probe = by_probe
        self.catalogue = catalogue

    def last_beats(self) -> list[tuple[ProbeTask, Beat]]:
        """Each watched probe with a heartbeat received, for /metrics."""
        return [(w.task, w.last) for w in self._watches.values() if w.last is not None]

    # ------------------------------------------------------------------ pushes

    def receive(
        self, service_id: str, probe_id: str, token: str | None, ok: bool = True, message: str = ""
    ) -> tuple[Verdict, str]:
        """Take one heartbeat; the verdict and a sentence for the caller (never a secret)."""
        if self._closed:
            verdict, detail = Verdict.unavailable, "the daemon is stopping; send the heartbeat again"
        else:
            verdict, detail = self._check(service_id, probe_id, token)
        if verdict is not Verdict.accepted:
            self.rejected_total[verdict.value] += 1
            if verdict is Verdict.unauthorized:
                log.warning("heartbeat_unauthorized", extra={"service": service_id, "probe": probe_id})
            return verdict, detail
        beat = Beat(at=self.clock(), ok=ok, message=clean_message(message))
        self.received_total[(service_id, probe_id, "ok" if ok else "fail")] += 1
        due = self._loop_time()
        for watch in self._by_probe[(service_id, probe_id)]:
            watch.last = beat
            self._record(watch, beat.at)
            watch.next_due = due + watch.task.probe.interval
        return verdict, detail

    def _check(self, service_id: str, probe_id: str, token: str | None) -> tuple[Verdict, str]:
        catalogue = self.catalogue
        service = catalogue.services.get(service_id) if catalogue is not None else None
        if service is None:
            return Verdict.unknown, f"unknown service {service_id!r}"
        probe = next((p for p in service.probes if p.id == probe_id), None)
        if probe is None:
            return Verdict.unknown, f"no probe {probe_id!r} in service {service_id!r}"
        if not isinstance(probe, HeartbeatProbe):
            return Verdict.unknown, f"probe {probe_id!r} of {service_id!r} is a {probe.kind} probe, not a heartbeat"
        if not probe.enabled or service.lifecycle == Lifecycle.retired:
            return Verdict.unknown, f"heartbeat {service_id}/{probe_id} is disabled or its service retired"
        watches = self._by_probe.get((service_id, probe_id))
        if not watches:
            return (
                Verdict.misdirected,
                f"this daemon does not take the heartbeats of {service_id}: send them to the "
                "daemon whose --office/--shard owns the service",
            )
        expected = self._token(probe)
        if expected is None or token is None or not hmac.compare_digest(
            token.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
        ):
            return Verdict.unauthorized, "missing or wrong heartbeat token"
        return Verdict.accepted, f"heartbeat of {service_id}/{probe_id} recorded"

    def _token(self, probe: HeartbeatProbe) -> str | None:
        m = ENV_REF_RE.fullmatch(probe.token)
        name = m.group(1) if m else ""
        value = self.env.get(name) or None
        if value is None and name not in self._unset_logged:
            self._unset_logged.add(name)
            log.error("heartbeat_token_unset", extra={"variable": name})
        return value

    # ------------------------------------------------------------------ results

    def _record(self, watch: _Watch, now: float) -> None:
        task = watch.task
        probe = task.probe
        assert isinstance(probe, HeartbeatProbe)
        catalogue = self.catalogue
        office = catalogue.offices.get(task.service.office) if catalogue is not None else None
        outcome = judge(
            every_seconds=probe.every,
            cron=probe.cron,
            grace_seconds=probe.grace,
            timezone=office.timezone if office is not None else "UTC",
            watched_since=watch.watched_since,
            last=watch.last,
            now=now,
        )
        if outcome is None:
            return
        result = ProbeResult(task.vantage, task.service.id, probe.id, probe.kind, now, outcome)
        try:
            self.on_result(result)
        except Exception:
            log.exception("result_handler_failed", extra={"service": task.service.id, "probe": probe.id})

    def record_due(self) -> int:
        """Record the state of every probe whose interval came round; how many were due."""
        due_now = self._loop_time()
        now = self.clock()
        n = 0
        for watch in list(self._watches.values()):
            if watch.next_due <= due_now:
                n += 1
                self._record(watch, now)
                interval = watch.task.probe.interval
                # on the grid from the last due time; a stalled loop skips, never stacks
                watch.next_due += interval * max(1, int((due_now - watch.next_due) // interval) + 1)
        return n

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.tick_seconds)
            try:
                self.record_due()
            except Exception:
                log.exception("heartbeat_tick_failed")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="slamon-heartbeats")

    async def close(self) -> None:
        """Stop recording; pushes from now on are answered 503 (the job tries again)."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    @staticmethod
    def _loop_time() -> float:
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return time.monotonic()
