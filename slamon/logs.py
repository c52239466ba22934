"""Structured logs: a fixed event name and key=value context, as logfmt or JSON.

Callers write ``log.info("probe_state_changed", extra={"service": ..., "state": ...})``
(or a message "event key=value ..." already in that shape). The formatter puts the
time, level and logger first, then ``event=`` and the context. Values come from the
daemon's own state; probe details never hold secrets (probes resolve ``${env:...}``
only at request time and never echo them).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from typing import TextIO

# attributes every LogRecord has; anything else came in through ``extra=``
_STANDARD = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "taskName"}

LEVELS = ("debug", "info", "warning", "error", "critical")
FORMATS = ("logfmt", "json")


# "key=" at the start of the text or after a space: where one field ends and the next begins
_FIELD_START = re.compile(r"(?:^|\s)([A-Za-z_][\w.]*)=")
_INT = re.compile(r"-?\d+")
_FLOAT = re.compile(r"-?\d+\.\d*(?:[eE][-+]?\d+)?")


def message_fields(text: str) -> dict[str, object]:
    """``"key=value key2=value two"`` -> ``{"key": "value", "key2": "value two"}``.

    A value runs to the next `` key=``, so a value holding spaces (an error's text) stays
    whole; a quoted value loses its quotes; whole numbers and decimals become numbers.
    Text before the first ``key=`` is kept as ``detail``."""
    fields: dict[str, object] = {}
    matches = list(_FIELD_START.finditer(text))
    if not matches:
        return {"detail": text} if text.strip() else {}
    head = text[: matches[0].start()].strip()
    if head:
        fields["detail"] = head
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        value = text[m.end():end].strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        fields[m.group(1)] = _typed(value)
    return fields


def _typed(value: str) -> object:
    if _INT.fullmatch(value):
        return int(value)
    if _FLOAT.fullmatch(value):
        return float(value)
    return value


def _context(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


def _timestamp(record: logging.LogRecord) -> str:
    return _iso_ms(record.created)


def _iso_ms(created: float) -> str:
    t = dt.datetime.fromtimestamp(created, dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def json_line(logger: str, event: str, fields: dict[str, object], level: str = "info") -> str:
    """One event in the JSON formatter's shape, for a command that writes its own lines
    (``slamon demo``) rather than through a logging handler."""
    import time

    doc: dict[str, object] = {"ts": _iso_ms(time.time()), "level": level, "logger": logger, "event": event}
    doc.update({k: _json_value(v) for k, v in fields.items()})
    return json.dumps(doc, ensure_ascii=False)


def _logfmt_value(value: object) -> str:
    if value is None:
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, (list, tuple, set, frozenset)):
        text = ",".join(str(v) for v in value)
    else:
        text = str(value)
    if text and not any(c in text for c in ' "=\\\n\t') and text.isprintable():
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def _json_value(value: object) -> object:
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return str(value)


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        parts = [
            f"ts={_timestamp(record)}",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
        ]
        event, _, rest = msg.partition(" ")
        parts.append(f"event={_logfmt_value(event)}")
        for key, value in message_fields(rest).items():  # "key=value ..." by convention
            parts.append(f"{key}={_logfmt_value(value)}")
        for key, value in _context(record).items():
            if value is not None:  # absent rather than an empty string
                parts.append(f"{key}={_logfmt_value(value)}")
        if record.exc_info:
            parts.append(f"exc={_logfmt_value(self.formatException(record.exc_info))}")
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        event, _, rest = msg.partition(" ")
        doc: dict[str, object] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": event,
        }
        doc.update(message_fields(rest))  # "key=value ..." by convention: fields as fields
        for key, value in _context(record).items():
            doc[key] = _json_value(value)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def configure(log_format: str = "logfmt", level: str = "info", stream: TextIO | None = None) -> logging.Handler:
    """Send the ``slamon`` loggers (and aiohttp's) to ``stream`` in ``log_format``.

    Called once by the composition root; returns the handler so a caller (a test)
    can remove it again.
    """
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
    if level.lower() not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else LogfmtFormatter())
    for name in ("slamon", "aiohttp"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(level.upper() if name == "slamon" else max(logging.WARNING, logging.getLevelName(level.upper())))
        logger.propagate = False
    return handler
