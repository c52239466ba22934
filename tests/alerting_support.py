"""Helpers for the alerting tests: the bundled catalogue, events, a webhook receiver
served on 127.0.0.1, a real Alertmanager, and bounded waits."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from slamon.core.alert_events import BreachChange, event_for_breach, event_for_transition
from slamon.core.catalogue import Catalogue
from slamon.core.observed import Transition
from slamon.core.results import ProbeOutcome, ProbeResult, Reason
from slamon.core.state import State
from slamon.loader import load_catalogue

ROOT = Path(__file__).resolve().parents[1]
T0 = 1_796_000_000.0  # 2026-11-30 UTC, a fixed instant for pure tests


@functools.cache
def bundled_catalogue() -> Catalogue:
    report = load_catalogue(ROOT / "catalogue")
    assert report.catalogue is not None, [str(d) for d in report.diagnostics]
    return report.catalogue


def transition(
    service_id: str, probe_id: str, vantage: str, state: State, at: float = T0, kind: str = "http"
) -> Transition:
    ok = state is State.up
    outcome = ProbeOutcome(
        success=ok,
        duration_seconds=0.2,
        reason=None if ok else Reason.status,
        status_code=200 if ok else 503,
        detail="" if ok else "GET https://secret.example/healthz?token=abc returned 503",
    )
    result = ProbeResult(vantage, service_id, probe_id, kind, at, outcome)
    return Transition((vantage, service_id, probe_id), state, at, result)


def down_event(service_id: str, probe_id: str, vantage: str, at: float | None = None):
    at = time.time() if at is None else at
    return event_for_transition(transition(service_id, probe_id, vantage, State.down, at), bundled_catalogue())


def up_event(service_id: str, probe_id: str, vantage: str, at: float | None = None):
    at = time.time() if at is None else at
    return event_for_transition(transition(service_id, probe_id, vantage, State.up, at), bundled_catalogue())


def breach_event(service_id: str, vantage: str, opened: bool, at: dt.datetime | None = None):
    change = BreachChange(
        service_id=service_id,
        vantage=vantage,
        objective="availability",
        opened=opened,
        at=at or dt.datetime.now(dt.UTC),
        measure_ratio=0.9962,
        target_ratio=0.999,
    )
    return event_for_breach(change, bundled_catalogue())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_until(predicate: Callable[[], bool], timeout_seconds: float = 10.0, what: str = "") -> None:
    """Poll every 50 ms; fail with ``what`` when the bound passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_seconds} s waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class Receiver:
    """A webhook receiver: records every JSON body POSTed, per path.

    ``statuses`` are answered first, in order (e.g. [500, 500]); then 200.
    ``hang_seconds`` > 0 makes every request wait that long before answering.
    """

    statuses: list[int] = field(default_factory=list)
    hang_seconds: float = 0.0
    received: list[tuple[str, Any]] = field(default_factory=list)
    requests: int = 0
    url: str = ""
    _runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.hang_seconds:
            await asyncio.sleep(self.hang_seconds)
        if self.statuses:
            status = self.statuses.pop(0)
            if status >= 300:
                return web.Response(status=status, text="try later" if status >= 500 else "bad alert")
        self.received.append((request.path, json.loads(await request.read())))
        return web.Response(status=200)

    def bodies(self, path: str | None = None) -> list[Any]:
        return [b for p, b in self.received if path is None or p == path]

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


ALERTMANAGER_CONFIG = """\
route:
  receiver: default
  group_by: [alertname, office, service, vantage, probe, objective]
  group_wait: 200ms
  group_interval: 500ms
  repeat_interval: 1h
  routes:
    - receiver: conference-team
      matchers: ['owner="unog-icts-conference"']
receivers:
  - name: default
    webhook_configs:
      - {{url: "{hook}/am/default", send_resolved: true}}
  - name: conference-team
    webhook_configs:
      - {{url: "{hook}/am/conference-team", send_resolved: true}}
"""


@dataclass
class Alertmanager:
    process: asyncio.subprocess.Process
    url: str
    log_path: Path

    async def stop(self) -> None:
        if self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 5)
        except TimeoutError:
            self.process.kill()
            await asyncio.wait_for(self.process.wait(), 5)


async def start_alertmanager(binary: str, tmp_path: Path, hook_url: str, config: str | None = None) -> Alertmanager:
    """``config``: the configuration text (``{hook}`` is replaced), default ``ALERTMANAGER_CONFIG``."""
    text = (config or ALERTMANAGER_CONFIG).replace("{{", "{").replace("}}", "}").replace("{hook}", hook_url)
    config = tmp_path / "alertmanager.yml"
    config.write_text(text, encoding="utf-8")
    port = free_port()
    log_path = tmp_path / "alertmanager.log"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
        )
    am = Alertmanager(process, f"http://127.0.0.1:{port}", log_path)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.5)) as session:
        while True:
            if process.returncode is not None:
                raise AssertionError(f"alertmanager exited: {log_path.read_text()}")
            try:
                async with session.get(f"{am.url}/-/ready") as resp:
                    if resp.status == 200:
                        return am
            except (aiohttp.ClientError, TimeoutError):
                pass
            if loop.time() > deadline:
                await am.stop()
                raise AssertionError(f"alertmanager not ready: {log_path.read_text()}")
            await asyncio.sleep(0.1)
