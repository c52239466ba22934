"""Daemon.serve: whatever step of the startup fails, everything opened before it is closed
(no open store, listening socket, task or signal handler remains), in process, against a
real SQLite file and a real listening socket on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import os
import signal
from pathlib import Path

import pytest

from slamon.config import Config
from slamon.daemon import STARTUP_STEPS, Daemon
from tests.daemon_support import service_doc, write_catalogue


class Injected(RuntimeError):
    pass


def config_for(tmp_path: Path) -> Config:
    root = write_catalogue(tmp_path / "catalogue", [
        service_doc("unog-web", [{"id": "web", "kind": "http", "url": "http://127.0.0.1:9/",
                                  "interval": "60s", "timeout": "1s"}]),
    ])
    return Config(
        catalogue_dir=root,
        db_url=f"sqlite:///{tmp_path / 'slamon.db'}",
        listen="127.0.0.1:0",
        # a notifier with a target, so that its step opens something (nothing is sent)
        alertmanagers=("http://127.0.0.1:9/",),
        shutdown_timeout_seconds=1.0,
    )


def open_files_under(folder: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


async def refused(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=2)
    except OSError:
        return True
    writer.close()
    return False


async def assert_nothing_left(tmp_path: Path, parts: dict[str, object]) -> None:
    await asyncio.sleep(0)
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not others, [t.get_name() for t in others]
    assert not open_files_under(tmp_path), "the store's files are still open"
    if "web" in parts:
        host, port = parts["web"].address  # type: ignore[attr-defined]
        assert await refused(host, port), "the web server still listens"
    if "probe_context" in parts:
        assert parts["probe_context"].closed  # type: ignore[attr-defined]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        assert not loop.remove_signal_handler(sig), f"a handler for {sig!r} remains"


@pytest.mark.parametrize("failing_step", STARTUP_STEPS)
async def test_a_failing_startup_step_closes_everything_opened_before(tmp_path, failing_step):
    parts: dict[str, object] = {}

    def hook(step: str, part: object) -> None:
        parts[step] = part
        if step == failing_step:
            raise Injected(step)

    daemon = Daemon(config_for(tmp_path), on_startup_step=hook)
    with pytest.raises(Injected):
        await daemon.serve(err=io.StringIO())
    assert list(parts) == list(STARTUP_STEPS[: STARTUP_STEPS.index(failing_step) + 1])
    await assert_nothing_left(tmp_path, parts)


async def test_a_daemon_that_started_and_stopped_leaves_nothing(tmp_path):
    parts: dict[str, object] = {}
    daemon: Daemon

    def hook(step: str, part: object) -> None:
        parts[step] = part
        if step == STARTUP_STEPS[-1]:
            daemon.handle_exit(signal.SIGTERM)  # as a signal would: stop at once

    daemon = Daemon(config_for(tmp_path), on_startup_step=hook)
    assert await daemon.serve(err=io.StringIO()) == 0
    assert list(parts) == list(STARTUP_STEPS)
    await assert_nothing_left(tmp_path, parts)


async def test_a_port_in_use_exits_1_and_closes_the_store(tmp_path):
    busy = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = busy.sockets[0].getsockname()[1]
    try:
        config = dataclasses.replace(config_for(tmp_path), listen=f"127.0.0.1:{port}")
        err = io.StringIO()
        assert await Daemon(config).serve(err=err) == 1
        assert "cannot listen" in err.getvalue()
    finally:
        busy.close()
        await busy.wait_closed()
    await assert_nothing_left(tmp_path, {})
