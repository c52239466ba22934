"""Multi-window, multi-burn-rate alerting maths (SRE workbook, chapter 5), scaled to
each SLA's period.

Both the rule generator and the ``promtool`` test generator take their numbers from
here, so a test's expected firing time is derived from the very formula the rule uses.

Burn rate
    The error ratio divided by the error budget ratio (1 - objective). A burn rate of 1
    spends exactly the whole budget over the SLA period; 14.4 spends it 14.4 times
    faster.

Where the workbook's factors come from
    The workbook alerts when a given *share of the period's budget* has been spent
    within a window, for a 30-day period::

        page    2 % of the budget in 1 h   -> 0.02 * 720 h / 1 h  = 14.4   (short window 5m)
        page    5 % of the budget in 6 h   -> 0.05 * 720 h / 6 h  = 6      (short window 30m)
        ticket 10 % of the budget in 1 d   -> 0.10 * 720 h / 24 h = 3      (short window 2h)
        ticket 10 % of the budget in 3 d   -> 0.10 * 720 h / 72 h = 1      (short window 6h)

    The factors 14.4 / 6 / 3 / 1 are therefore only right for 30 days. slamon keeps the
    *share of budget* fixed and recomputes the factor for the SLA's period length::

        factor = budget_share * period_hours / long_window_hours

    A quarter (90 d) pages at 43.2x over 1 h; a month stays at 14.4x (Sloth scales its
    28-day windows the same way). The short window (1/12 of the long one) only makes
    the alert stop quickly once the burn is over; it uses the same threshold.

Unreachable thresholds
    The error ratio cannot exceed 1, so a burn factor above ``1 / budget`` could never
    fire: a year-long 99 % SLA would need 175x over 1 h, i.e. 175 % of events failing.
    Such thresholds are capped at ``MAX_ERROR_RATIO`` (half of the eligible events
    failing over the window), so that a hard outage always alerts.

Service hours
    SLI events only exist inside the service's eligible time (service hours, outside
    maintenance and exclusions), so windows outside service hours hold no events and
    no series; a business-hours SLA spends its budget faster per eligible hour than
    the calendar scaling assumes, which makes these alerts a little late (never
    early) for it. The daemon's own period measures (``slamon_sla_*``) are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

from slamon.core.model import Period

# The SRE workbook's windows, in seconds, with their Prometheus spelling.
WINDOWS: tuple[tuple[str, int], ...] = (
    ("5m", 300),
    ("30m", 1800),
    ("1h", 3600),
    ("2h", 7200),
    ("6h", 21600),
    ("1d", 86400),
    ("3d", 259200),
)
WINDOW_SECONDS = dict(WINDOWS)

# Nominal length of each SLA period, in days (what ``slo:time_period:days`` exports and
# what the burn factors are scaled to). Calendar months and quarters vary by a day or
# two; the nominal length keeps the rules stable from one month to the next.
PERIOD_DAYS: dict[Period, int] = {
    Period.month: 30,
    Period.rolling_30d: 30,
    Period.quarter: 90,
    Period.year: 365,
    Period.biennium: 730,
}

WORKBOOK_PERIOD_DAYS = 30
MAX_ERROR_RATIO = 0.5


@dataclass(frozen=True, slots=True)
class WindowPair:
    """One condition of a multi-window alert: both windows above the same threshold."""

    severity: str  # "page" | "ticket"
    long: str  # e.g. "1h"
    short: str  # e.g. "5m"
    budget_share: float  # share of the period's budget spent in the long window

    @property
    def long_seconds(self) -> int:
        return WINDOW_SECONDS[self.long]

    @property
    def short_seconds(self) -> int:
        return WINDOW_SECONDS[self.short]

    def factor(self, period_days: int) -> float:
        """Burn-rate factor for an SLA period of ``period_days`` days."""
        return round(self.budget_share * period_days * 86400 / self.long_seconds, 6)

    def threshold(self, period_days: int, error_budget: float) -> float:
        """Error ratio above which both windows must be for this pair to fire."""
        return round(min(self.factor(period_days) * error_budget, MAX_ERROR_RATIO), 9)


PAIRS: tuple[WindowPair, ...] = (
    WindowPair("page", "1h", "5m", 0.02),
    WindowPair("page", "6h", "30m", 0.05),
    WindowPair("ticket", "1d", "2h", 0.10),
    WindowPair("ticket", "3d", "6h", 0.10),
)
PAGE_PAIRS = tuple(p for p in PAIRS if p.severity == "page")
TICKET_PAIRS = tuple(p for p in PAIRS if p.severity == "ticket")


def period_window(period: Period) -> str:
    """The Prometheus range covering the SLA period, e.g. ``30d``."""
    return f"{PERIOD_DAYS[period]}d"


def hard_outage_fire_seconds(pair: WindowPair, period_days: int, error_budget: float) -> float:
    """Seconds after a total outage starts (with healthy traffic before it) until the
    long window's error ratio exceeds the pair's threshold: the ratio over the long
    window grows as ``outage / window``; the short window gets there 12 times sooner."""
    return pair.threshold(period_days, error_budget) * pair.long_seconds


def prometheus_duration(seconds: float) -> str:
    """Whole minutes or hours, as Prometheus writes them: 120 -> '2m', 7200 -> '2h'."""
    whole = round(seconds)
    if whole % 3600 == 0:
        return f"{whole // 3600}h"
    if whole % 60 == 0:
        return f"{whole // 60}m"
    return f"{whole}s"
