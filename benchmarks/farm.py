"""A loopback target farm: thousands of distinct HTTP endpoints in a separate process.

    python -m benchmarks.farm [--workers N] [--latency-ms MS] [--fail-rate R] [--cpu C]

Serves ``GET /t/<n>`` for any ``n`` (and ``/healthz``) on 127.0.0.1 at an ephemeral
port, printed as ``PORT <port>`` on the first line of stdout once every worker listens.
Written on a raw asyncio protocol (no framework) so the farm costs far less CPU per
request than the probers it serves and never becomes the bottleneck. Each answer
closes its connection, so every probe pays for a fresh connection.

Behaviour, per request (query parameters override the farm's defaults):
- ``latency_ms``: delay before answering;
- ``fail``: probability in [0, 1] of answering ``500`` instead of ``200``;
- ``status``: a fixed status to answer with.
Paths ``/t/<n>`` with ``n`` a multiple of ``--fail-every`` (when set) always answer 500,
a stable way to have some failing targets in a catalogue.

``Farm`` starts and stops the process from a harness or a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from benchmarks.measure import pin_to_core

ROOT = Path(__file__).resolve().parents[1]
MAX_HEADER_BYTES = 16 * 1024
REASONS = {200: "OK", 404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass(frozen=True)
class Behaviour:
    latency_ms: float = 0.0
    fail_rate: float = 0.0
    fail_every: int = 0


def _answer(status: int, body: bytes) -> bytes:
    reason = REASONS.get(status, "Status")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


OK = _answer(200, b"OK\n")
FAILED = _answer(500, b"failed\n")
NOT_FOUND = _answer(404, b"not found\n")


class TargetProtocol(asyncio.Protocol):
    __slots__ = ("behaviour", "buf", "loop", "rng", "transport")

    def __init__(self, behaviour: Behaviour, rng: random.Random) -> None:
        self.behaviour = behaviour
        self.rng = rng
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > MAX_HEADER_BYTES:
                self.transport.close()
            return
        line = self.buf[: self.buf.find(b"\r\n")].decode("latin-1")
        self.buf = b""
        parts = line.split(" ")
        target = parts[1] if len(parts) >= 2 else "/"
        payload, delay = self.route(target)
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self.send, payload)
        else:
            self.send(payload)

    def route(self, target: str) -> tuple[bytes, float]:
        path, _, query = target.partition("?")
        b = self.behaviour
        latency_ms, fail_rate, status = b.latency_ms, b.fail_rate, 0
        if query:
            params = dict(parse_qsl(query))
            latency_ms = float(params.get("latency_ms", latency_ms))
            fail_rate = float(params.get("fail", fail_rate))
            status = int(params.get("status", 0))
        if path == "/healthz":
            return OK, 0.0
        if not path.startswith("/t/"):
            return NOT_FOUND, 0.0
        if status:
            payload = _answer(status, b"status\n")
        elif b.fail_every and path[3:].isdigit() and int(path[3:]) % b.fail_every == 0:
            payload = FAILED
        elif fail_rate and self.rng.random() < fail_rate:
            payload = FAILED
        else:
            payload = OK
        return payload, latency_ms / 1000.0

    def send(self, payload: bytes) -> None:
        t = self.transport
        if t is not None and not t.is_closing():
            t.write(payload)
            t.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


def _serve(sock: socket.socket, behaviour: Behaviour, seed: int) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main() -> None:
        loop = asyncio.get_running_loop()
        rng = random.Random(seed)
        server = await loop.create_server(
            lambda: TargetProtocol(behaviour, rng), sock=sock, backlog=4096
        )
        stop = loop.create_future()
        loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
        loop.add_signal_handler(signal.SIGINT, stop.set_result, None)
        async with server:
            await stop

    asyncio.run(main())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--fail-every", type=int, default=0)
    parser.add_argument("--cpu", type=int, default=None, help="pin the farm to this core")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        pin_to_core(args.cpu)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    sock.setblocking(False)
    behaviour = Behaviour(args.latency_ms, args.fail_rate, args.fail_every)
    children = []
    # pre-fork: every worker accepts on the same listening socket
    for i in range(max(1, args.workers) - 1):
        pid = os.fork()
        if pid == 0:
            _serve(sock, behaviour, seed=i + 1)
            os._exit(0)
        children.append(pid)
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    try:
        _serve(sock, behaviour, seed=0)
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
    return 0


class Farm:
    """Starts ``python -m benchmarks.farm`` and stops it (a context manager)."""

    def __init__(
        self,
        workers: int = 1,
        latency_ms: float = 0.0,
        fail_rate: float = 0.0,
        fail_every: int = 0,
        cpu: int | None = None,
        start_timeout_seconds: float = 10.0,
    ) -> None:
        self.args = [
            "--workers", str(workers),
            "--latency-ms", str(latency_ms),
            "--fail-rate", str(fail_rate),
            "--fail-every", str(fail_every),
        ]  # fmt: skip
        if cpu is not None:
            self.args += ["--cpu", str(cpu)]
        self.start_timeout_seconds = start_timeout_seconds
        self.proc: subprocess.Popen | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, n: int, **query: object) -> str:
        q = "&".join(f"{k}={v}" for k, v in query.items())
        return f"{self.base_url}/t/{n}" + (f"?{q}" if q else "")

    def start(self) -> Farm:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.farm", *self.args],
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=env,
            text=True,
        )
        deadline = time.monotonic() + self.start_timeout_seconds
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the farm prints its port once listening
        if not line.startswith("PORT ") or time.monotonic() > deadline:
            self.stop()
            raise RuntimeError(f"the farm did not start (said {line!r})")
        self.port = int(line.split()[1])
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> Farm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    sys.exit(main())
