"""How numbers, times and verdicts read in the human formats (HTML, Markdown).

The same words in both, so a report printed from HTML and one pasted from Markdown say
the same thing. Missing values show as an en dash, never as 0.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from exporters.reports.model import BreachEntry, ObjectiveRow, Trend, VantageSla
from slamon.core.numbers import percent_value_text

DASH = "\u2013"
OBJECTIVE_NAMES = {
    "availability": "Availability",
    "latency": "Latency",
    "steps": "Transaction steps",
    "unplanned_outages": "Unplanned outages",
}
KIND_NAMES = {"biennium": "biennium", "year": "year", "quarter": "quarter", "month": "month", "rolling 30d": "rolling 30 days"}


def value(number: float | None, unit: str, target: float | None = None, met: bool | None = None) -> str:
    """``12``, ``66.7 %``; a dash for nothing. A percentage with its target and verdict
    is rounded toward the verdict (94.96 % against a 95 % target not met is ``94.9 %``)."""
    if number is None:
        return DASH
    if unit == "percent":
        return percent_value_text(number, target_percent=target, met=met, decimals=1)
    return f"{number:g}" if number != int(number) else str(int(number))


def change(delta: float | None, unit: str) -> str:
    """``+2``, ``-33.3 pts`` (percentage points), ``0``; a dash for nothing."""
    if delta is None:
        return DASH
    if abs(delta) < 1e-9:
        return "0"
    sign = "+" if delta > 0 else "\u2212"
    if unit == "percent":
        return f"{sign}{abs(delta):.1f} pts"
    return f"{sign}{value(abs(delta), unit)}"


def trend_arrow(trend: Trend | str) -> str:
    return {"up": "\u25b2", "down": "\u25bc", "flat": "\u25b6", "none": ""}[str(trend)]


def target_status(met: bool | None, has_target: bool = True) -> str:
    if met is None:
        return "no target" if not has_target else "not known"
    return "met" if met else "not met"


def verdict(met: bool | None) -> str:
    """A service level verdict: met, not met, or unknown (nothing observed)."""
    return {True: "met", False: "not met", None: "unknown"}[met]


def duration(minutes: float | None) -> str:
    """``1d 02h 05m``, ``3h 00m``, ``12m``, ``0m``."""
    if minutes is None:
        return DASH
    negative = minutes < 0
    if 0 < abs(minutes) < 1:  # a small error budget: seconds
        return ("\u2212" if negative else "") + f"{round(abs(minutes) * 60)}s"
    total = round(abs(minutes))
    days, rest = divmod(total, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        text = f"{days}d {hours:02d}h {mins:02d}m"
    elif hours:
        text = f"{hours}h {mins:02d}m"
    else:
        text = f"{mins}m"
    return ("\u2212" if negative and total else "") + text


def mean_time(minutes: float | None) -> str:
    """A mean time (MTRS, MTBF, MTBSI): ``16.8m`` under an hour, else as a duration; a
    dash when there was no outage to average over."""
    if minutes is None:
        return DASH
    return f"{minutes:.1f}m" if minutes < 60 else duration(minutes)


def when(at: dt.datetime | None) -> str:
    """``2013-05-02 10:00 UTC``; a dash for nothing (e.g. a breach still open)."""
    if at is None:
        return DASH
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def day(at: dt.datetime) -> str:
    return f"{at.day} {at:%B %Y}"


def objective_target(row: ObjectiveRow | BreachEntry) -> str:
    """The target of an objective row or a breach: ``99.95 %``, ``\u2264 0 bad min``."""
    if row.unit == "bad_minutes":
        return DASH if row.allowed_bad_minutes is None else f"\u2264 {row.allowed_bad_minutes:g} bad min"
    return DASH if row.target_percent is None else f"{Decimal(repr(row.target_percent)).normalize():f} %"


def objective_actual(row: ObjectiveRow) -> str:
    """The measure of an objective row, rounded toward its verdict (a measure below
    its target never reads as the target: ``slamon.core.numbers``)."""
    if row.unit == "bad_minutes":
        return DASH if row.bad_minutes is None else f"{row.bad_minutes:g} bad min"
    return percent_value_text(row.actual_percent, target_percent=row.target_percent, met=row.met)


def breach_measure(b: BreachEntry) -> str:
    """A breach's measure: below its target when opened, so rounded down."""
    if b.unit == "bad_minutes":
        return DASH if b.bad_minutes is None else f"{b.bad_minutes:g} bad min"
    met = None
    if b.measure_percent is not None and b.target_percent is not None:
        met = b.measure_percent >= b.target_percent
    return percent_value_text(b.measure_percent, target_percent=b.target_percent, met=met)


def budget_left(v: VantageSla) -> str:
    """``80.8 %``, ``0.0 % (overspent)``, or ``n/a (no budget: target 100 %)``."""
    if v.remaining_percent is None:
        return f"n/a ({v.budget_note})" if v.budget_note else DASH
    return percent(v.remaining_percent) + (" (overspent)" if v.overspent else "")


def percent(number: float | None, digits: int = 1) -> str:
    return DASH if number is None else f"{number:.{digits}f} %"


def burn(rate: float | None) -> str:
    return "\u221e" if rate is None else f"{rate:.2f}"


def filters() -> dict:
    """The helpers above as Jinja2 filters."""
    return {
        "value": value,
        "change": change,
        "arrow": trend_arrow,
        "status": target_status,
        "verdict": verdict,
        "duration": duration,
        "mean_time": mean_time,
        "when": when,
        "day": day,
        "objective_target": objective_target,
        "objective_actual": objective_actual,
        "breach_measure": breach_measure,
        "budget_left": budget_left,
        "percent": percent,
        "burn": burn,
        "objective_name": lambda name: OBJECTIVE_NAMES.get(name, name),
        "kind_name": lambda kind: KIND_NAMES.get(kind, kind),
    }
