"""Maintenance windows as Alertmanager silences, through its v2 API.

For each service this daemon owns and each maintenance window that starts within
``lead_seconds`` (or is under way), the daemon makes sure Alertmanager holds one
silence: matcher ``service="<id>"``, from the window's start to its end, created by
``slamon``, with the comment ``slamon maintenance: <service>|<window name>|<start>``.
That comment is the silence's identity: before creating, the daemon lists the
silences and skips a window whose silence exists (active or pending), so restarts
and several daemons never duplicate one. A silence of a window that is no longer
planned (removed from the catalogue) is expired; one expired by hand is not made again;
silences made by people are never touched. Alertmanager ends a silence at its ``endsAt`` by itself.

docs/alerting.md ("Maintenance windows as silences") documents the matchers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp

from exporters.alerting.payloads import rfc3339
from exporters.alerting.targets import ALERTMANAGER_API, AlertTarget
from slamon.core.catalogue import Catalogue
from slamon.core.model import Lifecycle
from slamon.core.sla.windows import Window, windows_between

log = logging.getLogger("slamon.alerting")

CREATED_BY = "slamon"
COMMENT_PREFIX = "slamon maintenance: "
DEFAULT_LEAD_SECONDS = 3600.0  # a silence is created this long before its window starts
KNOWN_HORIZON = dt.timedelta(days=8)  # windows still planned this far ahead are kept
SYNC_INTERVAL_SECONDS = 60.0
REQUEST_TIMEOUT_SECONDS = 5.0


def planned_windows(
    catalogue: Catalogue, service_ids: Iterable[str], start: dt.datetime, end: dt.datetime
) -> list[Window]:
    """Maintenance windows of these services overlapping ``[start, end)`` (retired ones left out)."""
    found: list[Window] = []
    for sid in sorted(set(service_ids)):
        service = catalogue.services.get(sid)
        if service is None or not service.maintenance or service.lifecycle == Lifecycle.retired:
            continue
        timezone = catalogue.offices[service.office].timezone
        found.extend(windows_between(service, timezone, start, end))
    return found


def silence_body(window: Window) -> dict[str, Any]:
    """The ``POST /api/v2/silences`` body for one window."""
    return {
        "matchers": [{"name": "service", "value": window.service_id, "isRegex": False, "isEqual": True}],
        "startsAt": rfc3339(window.start),
        "endsAt": rfc3339(window.end),
        "createdBy": CREATED_BY,
        "comment": COMMENT_PREFIX + window.key,
    }


def window_key(silence: dict[str, Any]) -> str | None:
    """The window key of a silence slamon made, else None."""
    comment = silence.get("comment") or ""
    if silence.get("createdBy") != CREATED_BY or not comment.startswith(COMMENT_PREFIX):
        return None
    return comment[len(COMMENT_PREFIX):]


@dataclass
class SyncReport:
    created: int = 0
    kept: int = 0
    expired: int = 0
    failed: int = 0


class MaintenanceSilencer:
    """Keeps the silences of maintenance windows in each Alertmanager target."""

    def __init__(
        self,
        targets: Iterable[AlertTarget],
        lead_seconds: float = DEFAULT_LEAD_SECONDS,
        interval_seconds: float = SYNC_INTERVAL_SECONDS,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.targets = [t for t in targets if t.kind == "alertmanager"]
        self.lead = dt.timedelta(seconds=lead_seconds)
        self.interval_seconds = interval_seconds
        self.clock = clock
        self._task: asyncio.Task | None = None

    def _now(self) -> dt.datetime:
        import time

        return dt.datetime.fromtimestamp((self.clock or time.time)(), dt.UTC)

    @staticmethod
    def base_url(target: AlertTarget) -> str:
        url = target.url.rstrip("/")
        return url[: -len(ALERTMANAGER_API)] if url.endswith(ALERTMANAGER_API) else url

    async def sync(self, catalogue: Catalogue, service_ids: Iterable[str]) -> SyncReport:
        """One pass over every target: create what is due, expire what is no longer planned."""
        owned = set(service_ids)
        now = self._now()
        due = planned_windows(catalogue, owned, now, now + self.lead)
        still_planned = {w.key for w in planned_windows(catalogue, owned, now, now + KNOWN_HORIZON)}
        report = SyncReport()
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for target in self.targets:
                try:
                    await self._sync_target(session, target, due, still_planned, owned, catalogue, report)
                except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                    report.failed += 1
                    log.warning(
                        "silence_sync_failed", extra={"target": target.name, "error": type(exc).__name__}
                    )
        return report

    async def _sync_target(
        self,
        session: aiohttp.ClientSession,
        target: AlertTarget,
        due: list[Window],
        still_planned: set[str],
        owned: set[str],
        catalogue: Catalogue,
        report: SyncReport,
    ) -> None:
        base = self.base_url(target)
        async with session.get(f"{base}/api/v2/silences") as resp:
            resp.raise_for_status()
            silences = await resp.json()
        existing: dict[str, dict[str, Any]] = {}  # active or pending
        seen: set[str] = set()  # expired ones too: a silence someone expired by hand stays so
        for silence in silences:
            key = window_key(silence)
            if key is None:
                continue
            seen.add(key)
            if silence.get("status", {}).get("state") != "expired":
                existing[key] = silence
        for window in due:
            office = catalogue.services[window.service_id].office
            if not target.accepts(office):
                continue
            if window.key in seen:
                report.kept += 1
                continue
            async with session.post(f"{base}/api/v2/silences", json=silence_body(window)) as resp:
                resp.raise_for_status()
                silence_id = (await resp.json()).get("silenceID", "")
            report.created += 1
            log.info(
                "silence_created",
                extra={"target": target.name, "service": window.service_id, "window": window.name,
                       "starts_at": rfc3339(window.start), "ends_at": rfc3339(window.end), "id": silence_id},
            )
        for key, silence in existing.items():
            service_id = key.split("|", 1)[0]
            if service_id not in owned or key in still_planned:
                continue
            async with session.delete(f"{base}/api/v2/silence/{silence['id']}") as resp:
                resp.raise_for_status()
            report.expired += 1
            log.info("silence_expired", extra={"target": target.name, "service": service_id, "id": silence["id"]})

    def start(self, catalogue: Callable[[], Catalogue | None], service_ids: Callable[[], Iterable[str]]) -> None:
        """Sync now and every ``interval_seconds`` in a task the silencer owns."""

        async def run() -> None:
            while True:
                current = catalogue()
                if current is not None:
                    try:
                        await self.sync(current, service_ids())
                    except Exception:
                        log.exception("silence_sync_bug")
                await asyncio.sleep(self.interval_seconds)

        if self._task is None and self.targets:
            self._task = asyncio.get_running_loop().create_task(run(), name="slamon-silences")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
