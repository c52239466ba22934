"""Where probe results go after the daemon has read them: the seam to the store.

A sink takes results without blocking the event loop (``submit`` only queues),
writes them in its own time, and is flushed and closed within a bounded time at
shutdown. The store's batched writer implements the same protocol; until it lands,
``MemorySink`` keeps the recent results of each probe in memory.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol, runtime_checkable

from slamon.core.results import ProbeResult

Key = tuple[str, str, str]


@runtime_checkable
class ResultSink(Protocol):
    def submit(self, result: ProbeResult) -> None:
        """Queue one result; never blocks, never raises for a full buffer (count it)."""

    async def flush(self, timeout_seconds: float) -> None:
        """Write what is queued, giving up after ``timeout_seconds``."""

    async def close(self) -> None:
        """Release connections and files; no ``submit`` afterwards."""


class MemorySink:
    """The last ``per_probe`` results of every probe, newest last."""

    def __init__(self, per_probe: int = 100) -> None:
        if per_probe < 1:
            raise ValueError("per_probe must be at least 1")
        self.per_probe = per_probe
        self._recent: dict[Key, deque[ProbeResult]] = {}
        self.submitted_total = 0
        self.closed = False

    def submit(self, result: ProbeResult) -> None:
        if self.closed:
            raise RuntimeError("submit() after close()")
        ring = self._recent.get(result.key)
        if ring is None:
            ring = self._recent[result.key] = deque(maxlen=self.per_probe)
        ring.append(result)
        self.submitted_total += 1

    def recent(self, key: Key) -> list[ProbeResult]:
        return list(self._recent.get(key, ()))

    def retain(self, keys: set[Key]) -> None:
        """Forget probes that left the catalogue."""
        for key in [k for k in self._recent if k not in keys]:
            del self._recent[key]

    async def flush(self, timeout_seconds: float) -> None:
        return None

    async def close(self) -> None:
        self.closed = True
