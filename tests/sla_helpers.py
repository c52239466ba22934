"""Small builders for the SLA tests: targets, and rollups from a list of bad minutes."""

from __future__ import annotations

import datetime as dt

from slamon.core.catalogue import EffectiveSLA
from slamon.core.model import Budgeting, LatencyObjective, Period
from slamon.core.sla.rollup import ALL_MINUTES, DayRollup

UTC = dt.UTC
ONES = bytes([1]) * 1440


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def sla(
    availability: float = 99.9,
    *,
    schedule: str = "24x7",
    budgeting: Budgeting = Budgeting.timeslices,
    latency: tuple[str, float] | None = None,
    unplanned_outages: int | None = None,
    period: Period = Period.month,
) -> EffectiveSLA:
    return EffectiveSLA(
        availability=availability,
        latency=LatencyObjective.model_validate({"threshold": latency[0], "percent": latency[1]})
        if latency
        else None,
        steps=None,
        unplanned_outages=unplanned_outages,
        schedule=schedule,
        period=period,
        budgeting=budgeting,
    )


def rollups(
    days: list[dt.date],
    bad: list[tuple[dt.datetime, int]] = (),
    missing: set[dt.date] = frozenset(),
    service: str = "svc",
    vantage: str = "v",
) -> dict[dt.date, DayRollup]:
    """Every minute observed, good and fast, one result each, except ``bad`` stretches
    (start, minutes: observed, failed) and ``missing`` days (no data)."""
    bad_bits: dict[dt.date, int] = {}
    for start, minutes in bad:
        for i in range(minutes):
            at = start.astimezone(UTC) + dt.timedelta(minutes=i)
            bad_bits[at.date()] = bad_bits.get(at.date(), 0) | 1 << (at.hour * 60 + at.minute)
    out = {}
    for day in days:
        if day in missing:
            continue
        b = bad_bits.get(day, 0)
        good = ALL_MINUTES & ~b
        goods = bytes(1 if good >> i & 1 else 0 for i in range(1440)) if b else ONES
        out[day] = DayRollup(vantage, service, day, ALL_MINUTES, good, ALL_MINUTES, ALL_MINUTES, ONES, goods)
    return out
