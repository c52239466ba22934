"""The real monitoring stack for end-to-end tests: slamon, Prometheus, Alertmanager.

Each program runs as a subprocess with its log in a file; every wait is bounded and
polls with short sleeps. Plain threads, no event loop: the test drives programs and
HTTP endpoints from the outside, as an operator would.

- ``Program``: a started subprocess and its log; ``stop()`` terminates it (kill after a
  bound). Start programs with ``start_daemon``, ``start_prometheus`` and
  ``start_alertmanager``; each retries on another port when another test took the
  free port first (the daemon binds port 0 itself and reports the port it got).
- ``TargetServer``: what slamon probes, on 127.0.0.1 (HTTP, optionally HTTPS too).
  ``set_healthy(path, False)`` makes that path answer 503 until set healthy again.
- ``WebhookReceiver``: collects every JSON body POSTed to it (Alertmanager's webhook
  notifications), by path.
- ``prometheus_config`` / ``alertmanager_config``: the files from ``deploy/`` adjusted
  to the test's ports, short intervals and the webhook receiver.
- ``wait_for(predicate, timeout_seconds, what)``: the bounded poll every wait uses.
"""

from __future__ import annotations

import copy
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
PORT_ATTEMPTS = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], Any], timeout_seconds: float, what: str, poll_seconds: float = 0.25) -> Any:
    """Poll ``predicate`` until it returns something truthy (returned); fail after the bound."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_seconds:.0f} s waiting for {what}")
        time.sleep(poll_seconds)


def http_get(url: str, params: dict[str, Any] | None = None, timeout_seconds: float = 5.0) -> bytes:
    if params:
        url = f"{url}?{urllib.parse.urlencode(params, doseq=True)}"
    with urllib.request.urlopen(url, timeout=timeout_seconds) as r:
        return r.read()


def get_json(url: str, params: dict[str, Any] | None = None, timeout_seconds: float = 5.0) -> Any:
    return json.loads(http_get(url, params, timeout_seconds))


def answers(url: str) -> bool:
    """True when ``url`` answers 200 now."""
    try:
        http_get(url, timeout_seconds=1.0)
        return True
    except OSError:
        return False


# ------------------------------------------------------------------ programs


@dataclass
class Program:
    name: str
    proc: subprocess.Popen
    log_path: Path
    base_url: str = ""

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_seconds: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout_seconds)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def _spawn(name: str, argv: list[str], log_path: Path, **kwargs: Any) -> Program:
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, **kwargs)
    return Program(name, proc, log_path)


def _wait_ready(program: Program, url: str, timeout_seconds: float) -> bool:
    """True once ``url`` answers; False when the program exited because its port was taken."""
    deadline = time.monotonic() + timeout_seconds
    while program.alive():
        if answers(url):
            return True
        if time.monotonic() > deadline:
            program.stop()
            raise AssertionError(f"{program.name} not ready in {timeout_seconds:.0f} s:\n{program.log()[-4000:]}")
        time.sleep(0.2)
    log = program.log()
    if "address already in use" in log:
        return False
    raise AssertionError(f"{program.name} exited with {program.proc.returncode}:\n{log[-4000:]}")


def _start_on_free_port(name: str, work: Path, argv_for: Callable[[int], list[str]], ready_path: str,
                        timeout_seconds: float) -> Program:
    for attempt in range(PORT_ATTEMPTS):
        port = free_port()
        program = _spawn(name, argv_for(port), work / f"{name}-{attempt}.log")
        program.base_url = f"http://{LOOPBACK}:{port}"
        if _wait_ready(program, program.base_url + ready_path, timeout_seconds):
            return program
    raise AssertionError(f"{name} could not bind a free port in {PORT_ATTEMPTS} attempts")


LISTENING = re.compile(r"listening\b.*?address=(\S+):(\d+)")


def start_daemon(catalogue: Path, work: Path, extra: tuple[str, ...] = (), timeout_seconds: float = 60.0) -> Program:
    """``slamon run`` from this worktree on 127.0.0.1:0; ready once /readyz answers 200."""
    argv = [sys.executable, "-m", "slamon", "run", "--catalogue", str(catalogue),
            "--listen", f"{LOOPBACK}:0", "--db", f"sqlite:///{work / 'slamon.db'}",
            "--reload-poll", "3600", *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    program = _spawn("slamon", argv, work / "slamon.log", cwd=ROOT, env=env)

    def address() -> str | None:
        if not program.alive():
            raise AssertionError(f"slamon exited with {program.proc.returncode}:\n{program.log()[-4000:]}")
        m = LISTENING.search(program.log())
        return m and f"http://{m.group(1)}:{m.group(2)}"

    try:
        program.base_url = wait_for(address, timeout_seconds, "slamon to log event=listening")
        wait_for(lambda: answers(program.base_url + "/readyz"), timeout_seconds, "slamon /readyz")
    except BaseException:
        program.stop()
        raise
    return program


def start_prometheus(config: Callable[[int], Path], work: Path, timeout_seconds: float = 60.0) -> Program:
    """``prometheus`` with the config ``config(own_port)`` writes; storage in ``work``."""
    from tests.conftest import require_binary

    binary = require_binary("prometheus")

    def argv(port: int) -> list[str]:
        return [binary, f"--config.file={config(port)}", f"--storage.tsdb.path={work / f'prometheus-data-{port}'}",
                f"--web.listen-address={LOOPBACK}:{port}", "--log.level=info"]

    return _start_on_free_port("prometheus", work, argv, "/-/ready", timeout_seconds)


def start_alertmanager(config: Path, work: Path, timeout_seconds: float = 60.0) -> Program:
    """``prometheus-alertmanager`` alone (clustering off), storage in ``work``."""
    from tests.conftest import require_binary

    binary = require_binary("prometheus-alertmanager", "/usr/bin/prometheus-alertmanager")

    def argv(port: int) -> list[str]:
        return [binary, f"--config.file={config}", f"--storage.path={work / f'alertmanager-data-{port}'}",
                f"--web.listen-address={LOOPBACK}:{port}", "--cluster.listen-address=", "--log.level=info"]

    return _start_on_free_port("alertmanager", work, argv, "/-/ready", timeout_seconds)


# ------------------------------------------------------------------ configuration from deploy/


def prometheus_config(target: Path, *, slamon: str, alertmanager: str, prometheus: str, rules_glob: str,
                      interval: str = "1s") -> Path:
    """deploy/prometheus/prometheus.yml with the test's addresses (``host:port``), rules
    and ``interval`` for scraping and rule evaluation."""
    doc = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text(encoding="utf-8"))
    doc["global"]["scrape_interval"] = interval
    doc["global"]["evaluation_interval"] = interval
    doc["rule_files"] = [rules_glob]
    doc["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [alertmanager]}]
    addresses = {"slamon": slamon, "alertmanager": alertmanager, "prometheus": prometheus}
    for job in doc["scrape_configs"]:
        job["static_configs"] = [{"targets": [addresses[job["job_name"]]]}]
        job["scrape_interval"] = interval
        job.pop("scrape_timeout", None)  # defaults to the (short) interval
    target.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return target


def alertmanager_config(target: Path, webhook_url: str, *, group_wait: str = "1s", group_interval: str = "2s",
                        repeat_interval: str = "1h") -> Path:
    """deploy/alertmanager/alertmanager.yml with its routes and inhibitions as they are,
    short timings, and every receiver turned into a webhook to ``webhook_url/<receiver>``
    (so the path says which receiver the routing chose)."""
    doc = yaml.safe_load((ROOT / "deploy/alertmanager/alertmanager.yml").read_text(encoding="utf-8"))
    doc["global"] = {"resolve_timeout": "5m"}  # no SMTP: every receiver is the test's webhook
    timings = {"group_wait": group_wait, "group_interval": group_interval, "repeat_interval": repeat_interval}

    def shorten(route: dict) -> None:
        for key, value in timings.items():
            if key in route:
                route[key] = value
        for sub in route.get("routes", []):
            shorten(sub)

    shorten(doc["route"])
    doc["receivers"] = [
        {"name": r["name"], "webhook_configs": [{"url": f"{webhook_url}/{r['name']}", "send_resolved": True}]}
        for r in doc["receivers"]
    ]
    target.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return target


# ------------------------------------------------------------------ HTTP servers run by the test


class _Server:
    """A ThreadingHTTPServer in a daemon thread; ``close()`` shuts it down."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None) -> None:
        self.httpd = ThreadingHTTPServer((LOOPBACK, 0), handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # no request lines on the test's output
        pass

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _TargetHandler(_Quiet):
    def do_GET(self) -> None:
        owner: TargetServer = self.server.owner.target  # type: ignore[attr-defined]
        path = self.path.split("?", 1)[0]
        with owner.lock:
            owner.hits[path] = owner.hits.get(path, 0) + 1
            healthy = owner.healthy.get(path, True)
        if healthy:
            self._answer(200, b"OK\n")
        else:
            self._answer(503, b"unavailable\n")


class TargetServer:
    """What slamon probes: every path answers 200 "OK" unless set unhealthy (503).

    ``url`` is plain HTTP; ``tls_url`` (with ``tls`` given) serves the same over HTTPS.
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.lock = threading.Lock()
        self.healthy: dict[str, bool] = {}
        self.hits: dict[str, int] = {}
        self._servers = [_Server(_TargetHandler)]
        if tls is not None:
            self._servers.append(_Server(_TargetHandler, tls))
        for s in self._servers:
            s.target = self  # type: ignore[attr-defined]
        self.url = f"http://{LOOPBACK}:{self._servers[0].port}"
        self.tls_port = self._servers[1].port if tls is not None else None

    def set_healthy(self, path: str, healthy: bool) -> None:
        with self.lock:
            self.healthy[path] = healthy

    def hit_count(self, path: str) -> int:
        with self.lock:
            return self.hits.get(path, 0)

    def close(self) -> None:
        for s in self._servers:
            s.close()


class _WebhookHandler(_Quiet):
    def do_POST(self) -> None:
        receiver: WebhookReceiver = self.server.owner.receiver  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            doc = json.loads(body)
        except ValueError:
            self._answer(400, b"not JSON\n")
            return
        with receiver.lock:
            receiver.received.append((self.path, doc))
        self._answer(200, b"ok\n")


@dataclass
class WebhookReceiver:
    """Collects Alertmanager webhook notifications: (path, JSON body), in arrival order."""

    received: list[tuple[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    _server: _Server | None = None

    def start(self) -> WebhookReceiver:
        self._server = _Server(_WebhookHandler)
        self._server.receiver = self  # type: ignore[attr-defined]
        self.url = f"http://{LOOPBACK}:{self._server.port}"
        return self

    def notifications(self) -> list[tuple[str, Any]]:
        with self.lock:
            return copy.deepcopy(self.received)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
