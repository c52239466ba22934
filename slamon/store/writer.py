"""The daemon's result sink: batches probe results into the store off the event loop.

``submit`` only appends to an in-memory buffer; a background task takes batches of
up to ``batch_size`` (or what is there every ``interval_seconds``) and writes each
in a worker thread: raw rows and rollup merges in one transaction, one database
connection at a time.

When the database is unavailable the batch stays at the head of the buffer and is
retried with capped exponential backoff; results keep arriving behind it. Nothing
within ``buffer_max_results`` is lost.

Overflow policy: **drop-newest**. When the buffer is full, the arriving result is
refused and counted (``stats.dropped_total``, logged at most every 10 s). A result
once accepted is kept until it is written, so the bound is a plain promise ("the
first N results of an outage are kept"), the batch being retried is never touched
mid-write, and the loss shows up as one contiguous unobserved stretch at the end
of the outage, reported as unobserved time rather than guessed.

A result the database refuses outright (a value it cannot hold) would block every
batch behind it if retried; such a batch is written result by result, and only the
refused results are dropped (counted in ``dropped_total`` and logged).

Caveat: if the connection drops during COMMIT itself, the outcome is unknown and
the batch is written again; the rollup bitmaps are unaffected (merging is
idempotent) but raw rows and per-minute counts of that batch may appear twice.

Rollups: each batch appends small rollup deltas beside its raw rows; the store
merges them into the day rollups in bulk (``Store.write_results``), and the
writer merges what is pending when it closes.

Retention: raw results older than ``retention_days`` are deleted every
``purge_interval_seconds`` in chunks of ``purge_chunk_rows``, between batches.
Rollups, revisions, exclusions, breaches and period records are kept for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from itertools import islice

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from slamon.core.catalogue import Catalogue
from slamon.core.results import ProbeResult
from slamon.runtime import StoreStats
from slamon.store.store import Store, StoreError

log = logging.getLogger("slamon.store")

LOG_EVERY_SECONDS = 10.0


class ResultWriter:
    def __init__(
        self,
        store: Store,
        stats: StoreStats,
        thresholds: Callable[[str], tuple[float | None, float | None]],
        batch_size: int = 500,
        interval_seconds: float = 1.0,
        buffer_max_results: int = 100_000,
        *,
        retention_days: float = 35,
        purge_interval_seconds: float = 3600.0,
        purge_chunk_rows: int = 10_000,
        backoff_min_seconds: float = 0.1,
        backoff_max_seconds: float = 5.0,
    ) -> None:
        if batch_size < 1 or buffer_max_results < batch_size:
            raise ValueError("need 1 <= batch_size <= buffer_max_results")
        self._store = store
        self._stats = stats
        self._thresholds = thresholds
        self._batch_size = batch_size
        self._interval_seconds = interval_seconds
        self._buffer_max = buffer_max_results
        self._retention_seconds = retention_days * 86400.0
        self._purge_interval_seconds = purge_interval_seconds
        self._purge_chunk_rows = purge_chunk_rows
        self._backoff_min = backoff_min_seconds
        self._backoff_max = backoff_max_seconds
        self._buffer: deque[ProbeResult] = deque()
        self._accepted = 0  # results ever accepted into the buffer
        self._done = 0  # results ever written
        self._flushers = 0  # flush() calls waiting: write without waiting for a full batch
        self._stopping = False
        self._wakeup = asyncio.Event()
        self._progress = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_overflow_log = -LOG_EVERY_SECONDS
        self._last_error_log = -LOG_EVERY_SECONDS
        stats.buffer_capacity = buffer_max_results
        stats.queue_length = 0

    # ------------------------------------------------------------- the sink

    def submit(self, result: ProbeResult) -> None:
        """Accept a result for writing; never blocks. Refused (and counted) when full."""
        if len(self._buffer) >= self._buffer_max:
            self._stats.dropped_total += 1
            now = time.monotonic()
            if now - self._last_overflow_log >= LOG_EVERY_SECONDS:
                self._last_overflow_log = now
                log.warning(
                    "store_buffer_overflow dropped_total=%d buffer_max_results=%d",
                    self._stats.dropped_total,
                    self._buffer_max,
                )
            return
        self._buffer.append(result)
        self._accepted += 1
        self._stats.queue_length = len(self._buffer)
        if len(self._buffer) >= self._batch_size:
            self._wakeup.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="slamon-store-writer")
            self._task.add_done_callback(self._on_done)

    async def flush(self, timeout_seconds: float) -> bool:
        """Wait until everything submitted before this call is written; False on timeout."""
        target = self._accepted
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        self._flushers += 1
        try:
            while self._done < target and len(self._buffer) > 0:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                self._wakeup.set()
                progress = self._progress
                await _wait(progress, remaining)
            return True
        finally:
            self._flushers -= 1

    async def close(self, timeout_seconds: float = 10.0) -> None:
        """Write what is buffered (within ``timeout_seconds``), then stop the task."""
        self._stopping = True
        flushed = await self.flush(timeout_seconds) if self._task else not self._buffer
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._stats.available:
            # leave the store lean for whoever reads it next (answers are the same either way)
            try:
                await asyncio.to_thread(self._store.merge_pending_rollups)
            except (DBAPIError, StoreError, OSError) as exc:
                log.warning("store_rollup_merge_failed", extra={"error": _short(exc)})
        level = logging.INFO if flushed else logging.WARNING
        log.log(level, "store_writer_closed unwritten=%d", len(self._buffer))

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    # ------------------------------------------------------------ the task

    def _on_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._stats.available = False
            log.error("store_writer_failed", exc_info=task.exception())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = self._backoff_min
        next_purge = loop.time()
        while True:
            urgent = len(self._buffer) >= self._batch_size or (
                self._buffer and (self._flushers or self._stopping)
            )
            if not urgent:
                wait = max(0.0, min(self._interval_seconds, next_purge - loop.time()))
                await _wait(self._wakeup, wait)
            self._wakeup.clear()
            if self._buffer:
                if await self._write_batch():
                    backoff = self._backoff_min
                else:
                    await _wait(self._wakeup, backoff)
                    backoff = min(backoff * 2, self._backoff_max)
                    continue
            if loop.time() >= next_purge and self._stats.available:
                await self._purge()
                next_purge = loop.time() + self._purge_interval_seconds

    async def _write_batch(self) -> bool:
        batch = list(islice(self._buffer, self._batch_size))
        thresholds = {sid: self._thresholds(sid) for sid in {r.service_id for r in batch}}
        try:
            await asyncio.to_thread(self._store.write_results, batch, thresholds.__getitem__)
        except (DataError, IntegrityError):
            # the database refuses something in this batch: write the results one by one
            # so one bad result cannot hold up every other
            done, rejected = await asyncio.to_thread(self._write_each, batch, thresholds.__getitem__)
            self._commit(done, rejected)
            return done == len(batch)
        except (DBAPIError, StoreError, OSError) as exc:
            self._stats.write_errors_total += 1
            was_available, self._stats.available = self._stats.available, False
            now = time.monotonic()
            if was_available or now - self._last_error_log >= LOG_EVERY_SECONDS:
                self._last_error_log = now
                log.warning(
                    "store_write_failed buffered=%d error=%s",
                    len(self._buffer),
                    _short(exc),
                )
            return False
        self._commit(len(batch), 0)
        return True

    def _write_each(self, batch: list[ProbeResult], thresholds) -> tuple[int, int]:
        """In the worker thread: write results singly; (how many were handled, how many refused)."""
        rejected = 0
        for i, r in enumerate(batch):
            try:
                self._store.write_results([r], thresholds)
            except (DataError, IntegrityError) as exc:
                rejected += 1
                log.error(
                    "store_result_refused service=%s probe=%s error=%s", r.service_id, r.probe_id, _short(exc)
                )
            except (DBAPIError, OSError):
                return i, rejected  # unavailable again: the rest stays buffered
        return len(batch), rejected

    def _commit(self, handled: int, rejected: int) -> None:
        """Take ``handled`` results off the buffer: written, except ``rejected`` (counted as dropped)."""
        if handled == 0:
            return
        for _ in range(handled):
            self._buffer.popleft()
        self._done += handled
        self._stats.written_total += handled - rejected
        self._stats.dropped_total += rejected
        self._stats.queue_length = len(self._buffer)
        self._stats.last_flush_timestamp_seconds = time.time()
        if not self._stats.available:
            self._stats.available = True
            log.info("store_available_again", extra={"buffered": len(self._buffer)})
        self._progress.set()
        self._progress = asyncio.Event()

    async def _purge(self) -> None:
        cutoff = time.time() - self._retention_seconds
        deleted = 0
        try:
            while True:
                n = await asyncio.to_thread(self._store.purge_results, cutoff, self._purge_chunk_rows)
                deleted += n
                if n < self._purge_chunk_rows or len(self._buffer) >= self._batch_size:
                    break  # done, or results are waiting: the rest goes next time
        except (DBAPIError, OSError) as exc:
            log.warning("store_purge_failed", extra={"error": _short(exc)})
        if deleted:
            log.info("store_results_purged", extra={"deleted": deleted})


async def _wait(event: asyncio.Event, timeout_seconds: float) -> None:
    """Wait for ``event`` at most ``timeout_seconds``. (``asyncio.timeout`` rather than
    ``wait_for``: on Python 3.11 ``wait_for`` can swallow a cancellation.)"""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_seconds):
            await event.wait()


def _short(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()
    return f"{type(inner).__name__}: {text[0] if text else ''}"[:200]


def catalogue_thresholds(
    current: Callable[[], Catalogue | None],
) -> Callable[[str], tuple[float | None, float | None]]:
    """The ``thresholds`` a daemon passes to ``ResultWriter``: for a service id, its latency
    threshold and journey-step max duration (seconds) under the catalogue in force now
    (``current`` returns it, so a reload takes effect at once). Unknown services: none."""

    def thresholds(service_id: str) -> tuple[float | None, float | None]:
        catalogue = current()
        if catalogue is None or service_id not in catalogue.services:
            return (None, None)
        sla = catalogue.sla(service_id)
        return (
            sla.latency.threshold if sla.latency else None,
            sla.steps.max_duration if sla.steps else None,
        )

    return thresholds
