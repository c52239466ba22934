"""Debian's prometheus-blackbox-exporter on the same targets, for comparison.

``BlackboxExporter`` starts ``/usr/bin/prometheus-blackbox-exporter`` on 127.0.0.1
with an ``http_2xx`` module, pinned to one core (the core slamon's pipeline is
measured on). The ``driver`` worker (its own process, on the other core) keeps
``concurrency`` requests to ``/probe?module=http_2xx&target=<farm url>`` in flight
over keep-alive connections and reads the exporter's CPU time from /proc/<pid>/stat
at the start and the end of its measuring window: CPU per probe is that difference
over the probes answered. Each probe is a fresh connection from the exporter to the
farm, as blackbox_exporter always does.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.measure import (
    NotAvailable,
    Window,
    pin_child_to,
    pin_to_core,
    proc_cpu_seconds,
    worker_main,
)

BINARY = "/usr/bin/prometheus-blackbox-exporter"
CONFIG = """\
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
"""


def find_binary() -> str | None:
    return BINARY if os.access(BINARY, os.X_OK) else shutil.which("prometheus-blackbox-exporter")


def version() -> str | None:
    binary = find_binary()
    if binary is None:
        return None
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    first = (out.stdout or out.stderr).splitlines()
    return first[0].strip() if first else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BlackboxExporter:
    def __init__(self, core: int | None = 0, start_timeout_seconds: float = 10.0) -> None:
        self.core = core
        self.start_timeout_seconds = start_timeout_seconds
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self._tmp: tempfile.TemporaryDirectory | None = None

    def start(self) -> BlackboxExporter:
        binary = find_binary()
        if binary is None:
            raise NotAvailable("prometheus-blackbox-exporter is not installed")
        self._tmp = tempfile.TemporaryDirectory(prefix="slamon-bench-bbe-")
        config = Path(self._tmp.name) / "blackbox.yml"
        config.write_text(CONFIG)
        for _attempt in range(3):  # the free port may be taken between probe and bind
            self.port = _free_port()
            self.proc = subprocess.Popen(
                [binary, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=pin_child_to(self.core),
            )
            if self._wait_ready():
                return self
            self.stop(keep_tmp=True)
        self.stop()
        raise RuntimeError("prometheus-blackbox-exporter did not start")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.start_timeout_seconds
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, keep_tmp: bool = False) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=5)
            self.proc = None
        if self._tmp is not None and not keep_tmp:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> BlackboxExporter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def driver(
    exporter_port: int,
    exporter_pid: int,
    farm_port: int,
    seconds: float = 5.0,
    warmup_seconds: float = 1.0,
    concurrency: int = 32,
    targets: int = 1000,
    core: int = 1,
) -> dict:
    pinned = pin_to_core(core)
    import uvloop

    uvloop.install()
    return asyncio.run(
        _drive(exporter_port, exporter_pid, farm_port, seconds, warmup_seconds, concurrency, targets)
    ) | {"driver_pinned": pinned}


async def _drive(port, pid, farm_port, seconds, warmup, concurrency, targets) -> dict:
    import aiohttp

    done = ok = 0
    stop = False
    base = f"http://127.0.0.1:{port}/probe?module=http_2xx&target="
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker(i: int) -> None:
            nonlocal done, ok
            n = i
            while not stop:
                url = f"{base}http://127.0.0.1:{farm_port}/t/{n % targets}"
                try:
                    async with session.get(url) as resp:
                        body = await resp.read()
                        ok += b"\nprobe_success 1" in body
                except (aiohttp.ClientError, TimeoutError):
                    pass
                done += 1
                n += concurrency

        tasks = [asyncio.create_task(worker(i)) for i in range(concurrency)]
        await asyncio.sleep(warmup)
        window = Window(cpu=lambda: proc_cpu_seconds(pid))  # the exporter's CPU, not ours
        window.start(done, ok)
        await asyncio.sleep(seconds)
        figures = window.stop(done, ok)
        stop = True
        await asyncio.wait(tasks, timeout=11)
    return figures | {"concurrency": concurrency}


if __name__ == "__main__":
    raise SystemExit(worker_main({"driver": driver}))
