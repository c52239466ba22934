"""``slamon run`` end to end: a subprocess against HTTP servers on 127.0.0.1.

Start, readiness, /metrics, reload with a broken file (refused, old catalogue kept,
errors logged, metric set), reload on a file change, SIGTERM while a slow probe is in
flight (bounded exit 0), and the start-up refusals.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import tempfile
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.daemon_support import LoopbackServer, service_doc, write_catalogue, write_service

ROOT = Path(__file__).resolve().parents[1]



class Target(LoopbackServer):
    """HTTP endpoints for the probes: /ok answers at once, /slow hangs."""

    def __init__(self) -> None:
        self.slow_hit = asyncio.Event()

    async def ok(self, request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def slow(self, request: web.Request) -> web.Response:
        self.slow_hit.set()
        await asyncio.sleep(30)
        return web.Response(text="late")

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/ok", self.ok)
        app.router.add_get("/slow", self.slow)


class DaemonProcess:
    def __init__(self, *args: str) -> None:
        self.args = args
        self.lines: list[str] = []
        self.address = ""

    async def __aenter__(self) -> DaemonProcess:
        args = self.args
        if "--db" not in args:  # never the default store under the repository
            self._tmp = tempfile.TemporaryDirectory(prefix="slamon-daemon-")
            args = (*args, "--db", f"sqlite:///{self._tmp.name}/slamon.db")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "slamon", "run", *args,
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def log(self) -> str:
        return "\n".join(self.lines)

    async def wait_for_log(self, pattern: str, timeout_seconds: float = 10.0, start: int = 0) -> re.Match:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        rx = re.compile(pattern)
        while True:
            for line in self.lines[start:]:
                m = rx.search(line)
                if m:
                    return m
            if self.proc.returncode is not None or loop.time() > deadline:
                raise AssertionError(f"no log line matching {pattern!r}; log:\n{self.log()}")
            await asyncio.sleep(0.05)

    async def listening(self) -> str:
        m = await self.wait_for_log(r"event=listening .*address=(\S+)")
        self.address = f"http://{m.group(1)}"
        return self.address

    async def wait(self, timeout_seconds: float) -> int:
        code = await asyncio.wait_for(self.proc.wait(), timeout_seconds)
        await asyncio.wait_for(self._reader, 5)
        return code

    async def __aexit__(self, *exc) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        if getattr(self, "_tmp", None) is not None:
            self._tmp.cleanup()


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as r:
        return r.status, await r.text()


async def poll(session, url: str, *patterns: str, timeout_seconds: float = 15.0) -> str:
    """GET ``url`` until its body matches every pattern (with status 200)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    body = ""
    while loop.time() < deadline:
        try:
            status, body = await get(session, url)
            if status == 200 and all(re.search(p, body, re.M) for p in patterns):
                return body
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never matched {patterns!r}; last body:\n{body}")


def http_probe(url: str, interval: str = "1s", timeout: str = "500ms") -> dict:
    return {"id": "web", "kind": "http", "url": url, "interval": interval, "timeout": timeout}


def success_line(service: str) -> str:
    return rf'^probe_success\{{[^}}]*service="{service}"[^}}]*\}} 1\.0$'


async def test_run_reload_and_stop(tmp_path: Path):
    async with Target() as target:
        cat = write_catalogue(tmp_path / "catalogue", [
            service_doc("unog-web", [http_probe(f"{target.base}/ok")]),
            service_doc("unog-api", [http_probe(f"{target.base}/ok")]),
            service_doc("unhq-web", [http_probe(f"{target.base}/ok")]),  # another vantage
        ])
        args = ["--catalogue", str(cat), "--listen", "127.0.0.1:0", "--office", "unog",
                "--reload-poll", "0.2", "--shutdown-timeout", "2"]
        async with DaemonProcess(*args) as daemon, aiohttp.ClientSession() as session:
            base = await daemon.listening()
            assert (await get(session, f"{base}/healthz"))[0] == 200
            await poll(session, f"{base}/readyz", "ready")
            metrics = await poll(
                session, f"{base}/metrics", success_line("unog-api"), success_line("unog-web")
            )
            # unhq-web runs only from unhq: this daemon stands at unog and never probes it
            # (its catalogue metadata, slamon_service_info, is still exported)
            probed = [line for line in metrics.splitlines() if line.startswith("probe_success{")]
            assert probed and all('vantage="unog"' in line for line in probed)
            assert not any('service="unhq-web"' in line for line in probed)
            assert re.search(r"^probe_duration_seconds\{", metrics, re.M)
            assert "slamon_build_info{" in metrics
            assert re.search(r"^slamon_catalogue_load_success 1\.0$", metrics, re.M)
            await daemon.wait_for_log(r"event=probe_state_changed .*service=unog-web .*state=up")

            # a broken file: refused, errors logged, metric set, the old catalogue runs on
            mark = len(daemon.lines)
            broken = cat / "services" / "unog" / "unog-api.yaml"
            broken.write_text(broken.read_text() + "surprise_field: 1\n", encoding="utf-8")
            daemon.proc.send_signal(signal.SIGHUP)
            await daemon.wait_for_log(r"event=catalogue_error .*unog-api\.yaml", start=mark)
            await daemon.wait_for_log(r"event=catalogue_reload_refused .*errors=[1-9]", start=mark)
            metrics = await poll(session, f"{base}/metrics", r"^slamon_catalogue_load_success 0\.0$")
            assert re.search(r'^slamon_catalogue_reloads_total\{result="failure"\} [1-9]', metrics, re.M)
            assert re.search(success_line("unog-api"), metrics, re.M)  # still monitored
            assert (await get(session, f"{base}/readyz"))[0] == 200

            # fixed, plus a new service: picked up from the file change alone
            mark = len(daemon.lines)
            write_service(cat, service_doc("unog-api", [http_probe(f"{target.base}/ok")]))
            write_service(cat, service_doc("unog-new", [http_probe(f"{target.base}/ok")]))
            await daemon.wait_for_log(r"event=catalogue_reloaded .*trigger=file_change", start=mark)
            metrics = await poll(session, f"{base}/metrics", success_line("unog-new"))
            assert re.search(r"^slamon_catalogue_load_success 1\.0$", metrics, re.M)
            assert re.search(r'^slamon_catalogue_reloads_total\{result="success"\} [1-9]', metrics, re.M)

            # OpenMetrics when the scraper asks for it
            async with session.get(f"{base}/metrics", headers={
                "Accept": "application/openmetrics-text; version=1.0.0"}) as r:
                assert r.content_type == "application/openmetrics-text"
                assert (await r.text()).rstrip().endswith("# EOF")

            daemon.proc.send_signal(signal.SIGTERM)
            assert await daemon.wait(15) == 0
            log = daemon.log()
            assert "event=daemon_stopped" in log
            assert "Traceback" not in log


async def test_sigterm_while_a_slow_probe_is_in_flight_exits_within_the_bound(tmp_path: Path):
    async with Target() as target:
        cat = write_catalogue(tmp_path / "catalogue", [
            service_doc("unog-slow", [http_probe(f"{target.base}/slow", interval="3s", timeout="2500ms")]),
            service_doc("unog-fast", [http_probe(f"{target.base}/ok", interval="1s", timeout="500ms")]),
        ])
        args = ["--catalogue", str(cat), "--listen", "127.0.0.1:0", "--shutdown-timeout", "0.3"]
        async with DaemonProcess(*args) as daemon:
            await daemon.listening()
            await asyncio.wait_for(target.slow_hit.wait(), 10)  # the slow probe is in flight
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            daemon.proc.send_signal(signal.SIGTERM)
            assert await daemon.wait(15) == 0
            assert loop.time() - t0 < 10  # 0.3 s drain + flush + closing, with room for a busy machine
            await daemon.wait_for_log(r"event=probes_cancelled .*count=1 .*unog/unog-slow/web")
            await daemon.wait_for_log(r"event=daemon_stopped")
            assert "Traceback" not in daemon.log()


async def test_a_second_signal_forces_a_quick_exit(tmp_path: Path):
    async with Target() as target:
        cat = write_catalogue(tmp_path / "catalogue", [
            service_doc("unog-slow", [http_probe(f"{target.base}/slow", interval="3s", timeout="2500ms")]),
        ])
        args = ["--catalogue", str(cat), "--listen", "127.0.0.1:0", "--shutdown-timeout", "60"]
        async with DaemonProcess(*args) as daemon:
            await daemon.listening()
            await asyncio.wait_for(target.slow_hit.wait(), 10)
            daemon.proc.send_signal(signal.SIGTERM)
            await daemon.wait_for_log(r"event=daemon_stopping .*timeout_seconds=60")
            daemon.proc.send_signal(signal.SIGINT)
            assert await daemon.wait(15) == 0  # not the 60 s drain, nor the probe's own 2.5 s
            await daemon.wait_for_log(r"event=shutdown_forced")
            await daemon.wait_for_log(r"event=probes_cancelled .*count=1 .*unog/unog-slow/web")
            await daemon.wait_for_log(r"event=daemon_stopped")


async def test_an_invalid_catalogue_at_start_exits_1_with_its_errors(tmp_path: Path):
    cat = write_catalogue(tmp_path / "catalogue", [
        service_doc("unog-web", [http_probe("http://127.0.0.1:9/ok")]),
    ])
    path = cat / "services" / "unog" / "unog-web.yaml"
    path.write_text(path.read_text().replace("lifecycle: production", "lifecycle: live"), encoding="utf-8")
    async with DaemonProcess("--catalogue", str(cat), "--listen", "127.0.0.1:0") as daemon:
        assert await daemon.wait(30) == 1
        log = daemon.log()
        assert "unog-web.yaml" in log and "not starting" in log
        assert "Traceback" not in log


async def test_an_unknown_office_is_refused(tmp_path: Path):
    cat = write_catalogue(tmp_path / "catalogue", [
        service_doc("unog-web", [http_probe("http://127.0.0.1:9/ok")]),
    ])
    async with DaemonProcess("--catalogue", str(cat), "--listen", "127.0.0.1:0", "--office", "unxx") as daemon:
        assert await daemon.wait(30) == 1
        assert "unknown office(s) unxx" in daemon.log()
