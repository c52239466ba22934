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
