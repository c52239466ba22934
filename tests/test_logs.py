"""Structured log lines: event name first, then key=value context."""

from __future__ import annotations

import io
import json
import logging

import pytest

from slamon import logs


@pytest.fixture
def capture():
    stream = io.StringIO()
    handlers = []

    def setup(fmt: str, level: str = "info") -> io.StringIO:
        handlers.append(logs.configure(fmt, level, stream))
        return stream

    yield setup
    for name in ("slamon", "aiohttp"):
        logger = logging.getLogger(name)
        for h in handlers:
            logger.removeHandler(h)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


def test_logfmt(capture):
    stream = capture("logfmt")
    log = logging.getLogger("slamon.test")
    log.info("probe_state_changed", extra={
        "service": "unog-email", "state": "down", "detail": 'said "no" = bad', "n": 3,
        "ok": False, "missing": None, "offices": ("unog", "unhq"),
    })
    log.debug("hidden")
    (line,) = stream.getvalue().splitlines()
    assert line.startswith("ts=") and line.endswith('offices=unog,unhq')
    assert " level=info logger=slamon.test event=probe_state_changed service=unog-email state=down " in line
    assert r'detail="said \"no\" = bad"' in line
    assert " n=3 ok=false " in line and "missing" not in line


def test_logfmt_keeps_message_context_and_exceptions_on_one_line(capture):
    stream = capture("logfmt", "debug")
    log = logging.getLogger("slamon.test")
    log.debug("tick key=value")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("probe_function_failed", extra={"service": "unog-web"})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert "event=tick key=value" in lines[0]
    assert lines[1].count("\n") == 0 and "exc=" in lines[1] and "ValueError: boom" in lines[1]


def test_json(capture):
    stream = capture("json")
    logging.getLogger("slamon.test").warning("probes_cancelled", extra={"count": 2, "probes": ["a/b/c"]})
    doc = json.loads(stream.getvalue())
    assert doc["event"] == "probes_cancelled" and doc["level"] == "warning"
    assert doc["count"] == 2 and doc["probes"] == ["a/b/c"]
    assert doc["ts"].endswith("Z")


def test_bad_settings():
    with pytest.raises(ValueError):
        logs.configure("xml")
    with pytest.raises(ValueError):
        logs.configure("logfmt", "loud")


def test_json_fields_from_a_key_value_message_are_fields(capture):
    stream = capture("json")
    log = logging.getLogger("slamon.test")
    log.info("store_writer_closed unwritten=%d", 0)
    log.warning("store_write_failed buffered=%d error=%s", 12, "connection refused (port 5432)")
    log.info("demo_note plain words only")
    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["event"] == "store_writer_closed" and first["unwritten"] == 0
    assert "message" not in first
    assert second["buffered"] == 12 and second["error"] == "connection refused (port 5432)"
    assert third["detail"] == "plain words only"


def test_logfmt_quotes_a_message_value_with_spaces(capture):
    stream = capture("logfmt")
    logging.getLogger("slamon.test").warning("store_write_failed buffered=%d error=%s", 3, "no route")
    (line,) = stream.getvalue().splitlines()
    assert ' event=store_write_failed buffered=3 error="no route"' in line


def test_a_catalogue_diagnostic_is_one_event_with_its_location(capture):
    from slamon.daemon import log_diagnostic
    from slamon.loader.diagnostics import Diagnostic, Severity

    stream = capture("json")
    log_diagnostic(Diagnostic("catalogue/services/unog/x.yaml", 7, 3, "W003", "practices[0].reviewed",
                              "reviewed more than 365 days ago", severity=Severity.warning, affects=("(b)",)))
    (event,) = (json.loads(line) for line in stream.getvalue().splitlines())
    assert event["level"] == "warning" and event["event"] == "catalogue_diagnostic"
    assert (event["file"], event["line"], event["column"], event["code"]) == ("catalogue/services/unog/x.yaml", 7, 3, "W003")
    assert event["path"] == "practices[0].reviewed" and event["affects"] == ["(b)"]


def test_the_daemon_under_json_logs_writes_only_json_lines(tmp_path):
    """`slamon run --log-format json`: from start to SIGTERM, every line it writes is one
    JSON event, catalogue diagnostics included (a catalogue with a warning, probing only
    a closed port on 127.0.0.1)."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from tests.daemon_support import service_doc, write_catalogue

    root = Path(__file__).resolve().parents[1]
    doc = service_doc("unog-web", [{"id": "web", "kind": "http", "url": "http://127.0.0.1:9/",
                                    "interval": "60s", "timeout": "1s"}])
    doc["automation"] = {"fulfilment": "automated"}  # no evidence: warning W001
    catalogue = write_catalogue(tmp_path / "catalogue", [doc])
    err_path = tmp_path / "stderr.txt"
    with err_path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "slamon", "run", "--catalogue", str(catalogue),
             "--log-format", "json", "--listen", "127.0.0.1:0", "--db", f"sqlite:///{tmp_path}/s.db"],
            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(root)},
            stdout=subprocess.PIPE, stderr=err, text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and '"event": "daemon_started"' not in err_path.read_text():
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    lines = [line for line in (out + err_path.read_text()).splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]  # a plain-text line fails here
    names = [e["event"] for e in events]
    assert proc.returncode == 0
    assert "daemon_started" in names and "daemon_stopped" in names
    (diag,) = [e for e in events if e["event"] == "catalogue_diagnostic"]
    assert diag["code"] == "W001" and diag["file"].endswith("unog-web.yaml") and diag["line"] >= 1
