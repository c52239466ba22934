"""SLA periods as half-open UTC intervals, cut at midnight in the office's timezone.

Labels: ``2026-11`` (month), ``2026-Q3`` (quarter), ``2026`` (year), ``2026-2027``
(biennium: two calendar years starting in an even year), ``rolling-30d`` (the 30 x 24
hours ending at ``now``, floored to the minute).

A calendar period starts at local midnight of its first day. Where local midnight does
not exist (a zone that springs forward at 00:00) it starts at the first instant the
clock shows after the gap; where it repeats, at its first occurrence. All the office
zones of DESIGN.md change at 01:00-03:00 local, so their periods start at true midnight.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

from slamon.core.model import Period

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
ROLLING_LABEL = "rolling-30d"
ROLLING_SECONDS = 30 * 86400

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_BIENNIUM = re.compile(r"^(\d{4})-(\d{4})$")


class PeriodError(ValueError):
    """A period label that cannot be read."""


@dataclass(frozen=True, slots=True)
class PeriodWindow:
    """One SLA period: ``[start, end)`` as UTC instants, and how it was named."""

    kind: Period
    label: str
    start: dt.datetime
    end: dt.datetime
    timezone: str

    def closed(self, now: dt.datetime) -> bool:
        """Over and final. A rolling window moves with ``now``: it never closes."""
        return self.kind != Period.rolling_30d and self.end <= now

    def contains(self, at: dt.datetime) -> bool:
        return self.start <= at < self.end

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def start_minute(self) -> int:
        """Start as whole minutes since the Unix epoch."""
        return epoch_minute(self.start)

    @property
    def end_minute(self) -> int:
        return epoch_minute(self.end)

    def utc_days(self) -> list[dt.date]:
        """The UTC days this period touches, in order."""
        first = self.start.astimezone(UTC).date()
        last = (self.end - dt.timedelta(microseconds=1)).astimezone(UTC).date()
        return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


@lru_cache(maxsize=1024)  # pure; a report asks for the same few instants per service
def epoch_minute(at: dt.datetime) -> int:
    """Whole minutes since the epoch, rounded up: the first minute starting at or after ``at``."""
    _aware(at)
    micro = (at - EPOCH) // dt.timedelta(microseconds=1)
    return -(-micro // 60_000_000)


@lru_cache(maxsize=1024)
def epoch_minute_floor(at: dt.datetime) -> int:
    """Whole minutes since the epoch, rounded down: the minute that contains ``at``."""
    _aware(at)
    return ((at - EPOCH) // dt.timedelta(microseconds=1)) // 60_000_000


def floor_minute(at: dt.datetime) -> dt.datetime:
    _aware(at)
    at = at.astimezone(UTC)
    return at.replace(second=0, microsecond=0)


def _aware(at: dt.datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"a naive datetime cannot be placed in UTC: {at!r}")


def local_midnight(day: dt.date, timezone: str) -> dt.datetime:
    """The UTC instant at which ``day`` begins in ``timezone`` (see module doc for gaps)."""
    local = dt.datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(timezone))
    return local.astimezone(UTC)


def _calendar_window(kind: Period, label: str, first: dt.date, after: dt.date, tz: str) -> PeriodWindow:
    return PeriodWindow(kind, label, local_midnight(first, tz), local_midnight(after, tz), tz)


def month(year: int, month_: int, timezone: str) -> PeriodWindow:
    after = dt.date(year + 1, 1, 1) if month_ == 12 else dt.date(year, month_ + 1, 1)
    return _calendar_window(Period.month, f"{year:04d}-{month_:02d}", dt.date(year, month_, 1), after, timezone)


def quarter(year: int, q: int, timezone: str) -> PeriodWindow:
    first = dt.date(year, 3 * (q - 1) + 1, 1)
    after = dt.date(year + 1, 1, 1) if q == 4 else dt.date(year, 3 * q + 1, 1)
    return _calendar_window(Period.quarter, f"{year:04d}-Q{q}", first, after, timezone)


def year(year_: int, timezone: str) -> PeriodWindow:
    return _calendar_window(
        Period.year, f"{year_:04d}", dt.date(year_, 1, 1), dt.date(year_ + 1, 1, 1), timezone
    )


def biennium(first_year: int, timezone: str) -> PeriodWindow:
    if first_year % 2:
        raise PeriodError(f"a biennium starts in an even year (found {first_year})")
    return _calendar_window(
        Period.biennium,
        f"{first_year:04d}-{first_year + 1:04d}",
        dt.date(first_year, 1, 1),
        dt.date(first_year + 2, 1, 1),
        timezone,
    )


def rolling_30d(now: dt.datetime) -> PeriodWindow:
    end = floor_minute(now)
    start = end - dt.timedelta(seconds=ROLLING_SECONDS)
    return PeriodWindow(Period.rolling_30d, ROLLING_LABEL, start, end, "UTC")


def parse_period(label: str, timezone: str, now: dt.datetime | None = None) -> PeriodWindow:
    """Read a period label; ``now`` is needed only for ``rolling-30d``."""
    text = label.strip()
    if text in (ROLLING_LABEL, "rolling 30d", "rolling-30"):
        if now is None:
            raise PeriodError("a rolling period needs the current time")
        return rolling_30d(now)
    if m := _MONTH.match(text):
        return month(int(m.group(1)), int(m.group(2)), timezone)
    if m := _QUARTER.match(text):
        return quarter(int(m.group(1)), int(m.group(2)), timezone)
    if m := _YEAR.match(text):
        return year(int(m.group(1)), timezone)
    if m := _BIENNIUM.match(text):
        first, second = int(m.group(1)), int(m.group(2))
        if second != first + 1 or first % 2:
            raise PeriodError(
                f"a biennium is two calendar years starting in an even year, e.g. 2026-2027 (found {text})"
                + _did_you_mean(text)
            )
        return biennium(first, timezone)
    raise PeriodError(
        f"unknown period {label!r}{_did_you_mean(text)}: use 2026-11, 2026-Q3, 2026, 2026-2027 or rolling-30d"
    )


def suggest_period(text: str) -> str | None:
    """The label a mistyped one most likely meant (``2013-13`` -> ``2013-12``,
    ``2013-2014`` -> ``2012-2013``, ``2013Q2`` -> ``2013-Q2``), or None."""
    t = text.strip().lower().replace("/", "-").replace("_", "-").replace(" ", "-")
    if re.fullmatch(r"rolling-?30(-?d(ays?)?)?|30d|last-?30-?days?", t):
        return ROLLING_LABEL
    if m := re.fullmatch(r"(\d{4})-?q(\d)", t) or re.fullmatch(r"q(\d)-?(\d{4})", t):
        y, q = (m.group(1), m.group(2)) if len(m.group(1)) == 4 else (m.group(2), m.group(1))
        return f"{y}-Q{min(max(int(q), 1), 4)}"
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})", t):
        y, n = int(m.group(1)), int(m.group(2))
        if len(m.group(2)) == 2 and n > 12 and n == (y + 1) % 100:  # 2012-13: a biennium
            return f"{y:04d}-{y + 1:04d}" if y % 2 == 0 else f"{y - 1:04d}-{y:04d}"
        return f"{y:04d}-{min(max(n, 1), 12):02d}"
    if m := re.fullmatch(r"(\d{4})-(\d{4})", t):
        first = int(m.group(1))
        first -= first % 2
        return f"{first:04d}-{first + 1:04d}"
    return None


def _did_you_mean(text: str) -> str:
    hint = suggest_period(text)
    return f" (did you mean {hint!r}?)" if hint and hint != text.strip() else ""


CURRENT = "current"  # each service's own SLA period containing now (a report: the biennium)
PREVIOUS = "previous"  # the one before it
PERIOD_FORMS = "current, previous, 2026-11, 2026-Q3, 2026, 2026-2027 or rolling-30d"


def check_label(label: str, now: dt.datetime) -> str:
    """The label every command and page accepts, stripped; a ``PeriodError`` naming the
    forms, with a did-you-mean where the intent is plain (``2026q3``, ``2026-3``,
    ``Q3 2026``, ``2026-27``, ``curent``)."""
    text = label.strip()
    if text in (CURRENT, PREVIOUS):
        return text
    try:
        parse_period(text, "UTC", now)
        return text
    except PeriodError as exc:
        message = str(exc).split(": use ")[0]
        guess = _period_guess(text)
        if guess and guess != text and "did you mean" not in message:
            message += f" (did you mean {guess!r}?)"
        raise PeriodError(f"{message}: use {PERIOD_FORMS}") from None


def _period_guess(text: str) -> str | None:
    import difflib

    t = text.strip().lower().replace("_", "-").replace(" ", "-").replace("/", "-")
    words = [CURRENT, PREVIOUS, ROLLING_LABEL]
    close = difflib.get_close_matches(t, words, n=1, cutoff=0.7)
    if close:
        return close[0]
    if m := re.fullmatch(r"(\d{4})(0[1-9]|1[0-2])", t):
        return f"{m[1]}-{m[2]}"
    return suggest_period(text)


def relative_period(kind: Period, label: str, now: dt.datetime, timezone: str) -> PeriodWindow:
    """``current`` or ``previous`` period of ``kind`` as of ``now``."""
    window = period_containing(kind, now, timezone)
    return previous_period(window) if label == PREVIOUS else window


def period_containing(kind: Period, at: dt.datetime, timezone: str) -> PeriodWindow:
    """The period of ``kind`` that contains ``at`` (for rolling: the 30 days ending at ``at``)."""
    _aware(at)
    if kind == Period.rolling_30d:
        return rolling_30d(at)
    local = at.astimezone(ZoneInfo(timezone))
    y = local.year
    if kind == Period.month:
        return month(y, local.month, timezone)
    if kind == Period.quarter:
        return quarter(y, (local.month - 1) // 3 + 1, timezone)
    if kind == Period.year:
        return year(y, timezone)
    if kind == Period.biennium:
        return biennium(y - y % 2, timezone)
    raise PeriodError(f"unknown period kind {kind!r}")


def previous_period(window: PeriodWindow) -> PeriodWindow:
    """The calendar period just before ``window`` (a rolling window: the 30 days before it)."""
    if window.kind == Period.rolling_30d:
        return rolling_30d(window.start)
    return period_containing(window.kind, window.start - dt.timedelta(seconds=1), window.timezone)


def sla_periods_within(kind: Period, window: PeriodWindow, timezone: str, now: dt.datetime) -> list[PeriodWindow]:
    """The SLA periods of ``kind`` (cut in ``timezone``) that overlap ``window`` and have
    begun by ``now``, in order: whole periods, even where one reaches outside ``window``
    (it is judged on its own result).

    ``rolling 30d`` has no calendar: the window is cut into consecutive 30 x 24-hour
    periods from its start, the last one ending with the window (so it may be shorter);
    each is labelled by its first and last local days, e.g. ``2013-01-01/2013-01-30``.
    """
    _aware(now)
    out: list[PeriodWindow] = []
    if kind == Period.rolling_30d:
        step = dt.timedelta(seconds=ROLLING_SECONDS)
        tz = ZoneInfo(timezone)
        start = window.start
        while start < window.end and start < now:
            end = min(start + step, window.end)
            first = start.astimezone(tz).date()
            last = (end - dt.timedelta(microseconds=1)).astimezone(tz).date()
            out.append(PeriodWindow(Period.rolling_30d, f"{first.isoformat()}/{last.isoformat()}", start, end, timezone))
            start = end
        return out
    p = period_containing(kind, window.start, timezone)
    while p.start < window.end and p.start < now:
        out.append(p)
        p = period_containing(kind, p.end, timezone)
    return out
