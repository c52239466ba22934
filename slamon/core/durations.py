"""Durations as written in the catalogue: ``800ms``, ``30s``, ``5m``, ``2h``, ``1d``, ``1h30m``.

Parsed once, at load time, to float seconds; everything downstream carries seconds
(``interval_seconds``), never strings.
"""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
DURATION_PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h|d|w))+$"


class DurationError(ValueError):
    """A duration string that cannot be read."""


def parse_duration(text: str) -> float:
    """Return seconds for a duration string; raise DurationError with a readable reason."""
    if not isinstance(text, str):
        raise DurationError("a duration needs a unit, e.g. 30s, 5m, 2h")
    s = text.strip().lower()
    if not s:
        raise DurationError("empty duration")
    pos = 0
    total = 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s):
        raise DurationError(f"cannot read duration {text!r}; use forms like 800ms, 30s, 5m, 2h, 1d")
    return total


def format_duration(seconds: float) -> str:
    """Shortest readable form: 0.8 -> '800ms', 90 -> '1m30s', 86400 -> '1d'."""
    if seconds < 1 and seconds != 0:
        return f"{round(seconds * 1000)}ms"
    out = []
    rest = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(out) or "0s"
