"""How a measure is written for people: one function, used by `slamon sla`, the
reports (HTML, Markdown) and the status pages.

Machine outputs (JSON, CSV, the API) carry full precision and never go through here.
Text rounds to the nearest, except where that would misstate the verdict: then it
rounds **toward the verdict**. A measure that failed its target never displays as the
target or above it (99.949996 % against 99.95 % shows as ``99.949 %``, never
``99.950 %``), and a measure that met it never displays below it. When the usual
number of decimals cannot show the difference, more are used (up to 9); past that
the text says ``< 99.95 %`` or ``>= 99.95 %`` rather than print a misleading figure.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

DASH = "\u2013"
MAX_DECIMALS = 9


def _quantize(value: Decimal, decimals: int, rounding: str) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=rounding)


def percent_text(
    ratio: float | None,
    *,
    target_ratio: float | None = None,
    met: bool | None = None,
    decimals: int = 3,
    missing: str = DASH,
) -> str:
    """``ratio`` (0..1) as a percentage with ``decimals`` decimals, e.g. ``99.981 %``.

    With ``met`` (the engine's verdict, which is exact) and ``target_ratio``, the
    figure is rounded toward the verdict (see the module). Without them it is rounded
    to the nearest. ``missing`` for None, NaN or an infinity."""
    if ratio is None or not math.isfinite(ratio):
        return missing
    target = None if target_ratio is None or not math.isfinite(target_ratio) else _target(target_ratio)
    return _text(Decimal(repr(ratio)) * 100, target, met, decimals)


def percent_value_text(
    percent: float | None,
    *,
    target_percent: float | None = None,
    met: bool | None = None,
    decimals: int = 3,
    missing: str = DASH,
) -> str:
    """The same as ``percent_text`` for a value already in percent (0..100)."""
    if percent is None or not math.isfinite(percent):
        return missing
    target = None
    if target_percent is not None and math.isfinite(target_percent):
        target = Decimal(repr(target_percent)).quantize(Decimal("1e-10")).normalize()
    return _text(Decimal(repr(percent)), target, met, decimals)


def _text(value: Decimal, target: Decimal | None, met: bool | None, decimals: int) -> str:
    if met is None or target is None:
        return f"{_quantize(value, decimals, ROUND_HALF_EVEN)} %"
    nearest = _quantize(value, decimals, ROUND_HALF_EVEN)
    if (nearest < target) == (met is False):
        return f"{nearest} %"  # nearest rounding already reads as the verdict
    rounding = ROUND_FLOOR if met is False else ROUND_CEILING
    for k in range(decimals, MAX_DECIMALS + 1):
        shown = _quantize(value, k, rounding)
        if (shown < target) == (met is False):
            return f"{shown} %"
    return f"{'<' if met is False else '>='} {target:f} %"


def target_text(target_ratio: float | None, missing: str = DASH) -> str:
    """A target ratio as a percentage without trailing zeros: ``99.95 %``, ``100 %``."""
    if target_ratio is None or not math.isfinite(target_ratio):
        return missing
    return f"{_target(target_ratio):f} %"


def _target(target_ratio: float) -> Decimal:
    """A target as a percentage, as written in the catalogue (99.9 / 100 is not exact
    in binary: ten decimals of a percent are more than any catalogue writes)."""
    return (Decimal(repr(target_ratio)) * 100).quantize(Decimal("1e-10")).normalize()


def percent_to_ratio(percent: float) -> float:
    """A catalogue percentage as a ratio: 99.9 -> 0.999 (not 0.9990000000000001)."""
    return float(Decimal(str(percent)) / 100)
