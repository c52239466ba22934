"""The demo's batch jobs: each heartbeat probe of the demo catalogue gets a heartbeat
from here every ``period_seconds``, as a backup job would send one when it ran."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

import aiohttp

log = logging.getLogger("slamon.demo")


async def send_heartbeats(
    base_url: str,
    probes: list[tuple[str, str, str]],
    env: Mapping[str, str],
    period_seconds: float,
    stop: asyncio.Event,
) -> int:
    """POST a heartbeat for each ``(service, probe, token variable)`` until ``stop``;
    returns how many were accepted."""
    accepted = 0
    timeout = aiohttp.ClientTimeout(total=2.0)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while not stop.is_set():
            for service, probe, variable in probes:
                headers = {"Authorization": f"Bearer {env.get(variable, '')}"}
                url = f"{base_url}/api/v1/heartbeat/{service}/{probe}"
                with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                    async with session.post(url, headers=headers, params={"message": "demo job ran"}) as resp:
                        if resp.status == 202:
                            accepted += 1
                        else:
                            log.warning("demo_heartbeat_refused", extra={"service": service, "probe": probe, "status": resp.status})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=period_seconds)
    return accepted
