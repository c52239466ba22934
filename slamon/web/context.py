"""What the web handlers share: the runtime, the store, the clock, a worker-thread
gate for database reads, and a short-lived cache of assessments."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from slamon.runtime import Runtime
from slamon.store import Store

CACHE_SECONDS = 30.0
MAX_DB_THREADS = 2  # database reads run in worker threads, at most this many at once


@dataclass
class WebContext:
    runtime: Runtime
    store: Store | None = None
    reload: Callable[[], Any] | None = None
    admin_token: str | None = None
    clock: Callable[[], float] = time.time
    heartbeats: Any = None  # slamon.heartbeats.Heartbeats: POST /api/v1/heartbeat/...
    db_gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_DB_THREADS))
    _cache: dict[tuple, tuple[float, Any]] = field(default_factory=dict)

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    async def in_thread(
        self, key: tuple | None, fn: Callable[..., Any], *args: Any, cache_seconds: float = CACHE_SECONDS, **kwargs: Any
    ) -> Any:
        """Run a blocking read in a worker thread; with ``key``, reuse an answer younger
        than ``cache_seconds`` for the same catalogue load (pages stay quick; a closed
        period's figures can be kept longer)."""
        if key is not None:
            key = (id(self.runtime.catalogue), *key)
            hit = self._cache.get(key)
            if hit is not None and time.monotonic() - hit[0] < cache_seconds:
                return hit[1]
        async with self.db_gate:
            value = await asyncio.to_thread(fn, *args, **kwargs)
        if key is not None:
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = (time.monotonic(), value)
        return value


CONTEXT_KEY = web.AppKey("web_context", WebContext)


def context_of(request: web.Request) -> WebContext:
    return request.app[CONTEXT_KEY]
