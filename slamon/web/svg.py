"""Inline SVG charts for the pages and the HTML report (no script, no external asset):
daily availability and latency, the error budget burn of the current period,
baseline/target/actual per office, an indicator across bienniums.

The daily availability chart draws one bar per day, its height on a scale from a
floor (five times the allowed downtime below the target) up to 100 %: green when the
day met the target, amber below it, red below the floor (drawn as a stub at the
foot). An unobserved day draws only a faint grey tick: a gap, never 0 or 100 %.
Every bar carries a ``<title>`` (the browser's own tooltip, no JavaScript). Labels
are HTML beside the SVG, so the stretched drawing never distorts text.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from slamon.core.numbers import percent_text, target_text
from slamon.web.history import DayPoint

WIDTH = 900
HEIGHT = 56


def scale_floor(target_ratio: float) -> float:
    return max(0.0, target_ratio - 5 * (1.0 - target_ratio))


def availability_chart(points: Sequence[DayPoint], target_ratio: float, label: str) -> Markup:
    n = max(len(points), 1)
    slot = WIDTH / n
    bar = max(slot - 2.0, 1.0)
    floor = scale_floor(target_ratio)

    def y(ratio: float) -> float:
        clipped = min(max(ratio, floor), 1.0)
        return HEIGHT - 2 - (clipped - floor) / (1.0 - floor or 1.0) * (HEIGHT - 4)

    parts = [
        f'<svg class="history" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" height="{HEIGHT}" '
        f'preserveAspectRatio="none" role="img" aria-label="{escape(label)}">',
    ]
    for i, p in enumerate(points):
        x = i * slot
        day = p.day.isoformat()
        if p.availability is None and p.eligible_minutes == 0:
            parts.append(
                f'<rect class="off" x="{x:.1f}" y="{HEIGHT - 2}" width="{bar:.1f}" height="2">'
                f"<title>{day}: outside service hours</title></rect>"
            )
            continue
        if p.availability is None:
            parts.append(
                f'<rect class="gap" x="{x:.1f}" y="{HEIGHT - 3}" width="{bar:.1f}" height="3">'
                f"<title>{day}: not observed</title></rect>"
            )
            continue
        a = p.availability
        css = "ok" if a >= target_ratio else ("warn" if a >= floor else "bad")
        top = y(a) if css != "bad" else HEIGHT - 10
        parts.append(
            f'<rect class="{css}" x="{x:.1f}" y="{top:.1f}" width="{bar:.1f}" height="{HEIGHT - top:.1f}">'
            f"<title>{day}: {percent_text(a, target_ratio=target_ratio, met=a >= target_ratio)} "
            f"of {p.observed_minutes} observed minutes</title></rect>"
        )
    ty = y(target_ratio)
    parts.append(
        f'<line class="target" x1="0" x2="{WIDTH}" y1="{ty:.1f}" y2="{ty:.1f}">'
        f"<title>target {target_text(target_ratio)}</title></line>"
    )
    parts.append("</svg>")
    ticks = [
        f'<span style="left:{100 * i / n:.2f}%">{p.day.strftime("%d %b")}</span>'
        for i, p in enumerate(points)
        if p.day.day == 1 and i / n < 0.93  # a label that would run off the right edge is left out
    ]
    first = points[0].day.isoformat() if points else ""
    last = points[-1].day.isoformat() if points else ""
    axis = (
        f'<div class="chart-axis" aria-hidden="true">{"".join(ticks)}</div>'
        f'<div class="chart-scale">scale {floor * 100:.2f}\u2013100 % · {first} to {last} (UTC days)</div>'
    )
    return Markup("".join(parts) + axis)


# ------------------------------------------------------------------ more charts
# Fixed-size drawings (viewBox, scaled as a whole, never stretched), so the text inside
# keeps its shape. Each carries a <title> and an aria-label; the page puts the numbers
# in a table next to it.

FONT = 'font-family="system-ui, sans-serif"'


def _fmt(value: float, unit: str) -> str:
    if unit == "percent":
        return f"{value:.1f} %"
    return f"{value:g}"


def latency_chart(points: Sequence[DayPoint], label: str) -> Markup:
    """One bar per UTC day: the share of observed minutes under the latency threshold,
    on the same scale rules as the availability chart (floor five times the allowed
    slow share below the target); a gap where nothing was observed."""
    target = next((p.latency_target for p in reversed(points) if p.latency_target is not None), None)
    if target is None:
        return Markup("")
    shown = [DayPoint(p.day, p.latency, p.observed_minutes if p.latency is not None else 0, p.eligible_minutes)
             for p in points]
    chart = availability_chart(shown, target, label)
    # the bars' tooltips speak of latency, not availability
    return Markup(str(chart).replace(" observed minutes</title>", " observed minutes under the threshold</title>")
                  .replace('class="history"', 'class="history latency"', 1))


def burn_chart(days: int, points: Sequence, label: str) -> Markup:
    """The error budget of the current period: cumulative bad minutes (bars: green
    within the budget so far, red beyond it) against the cumulative budget (a line),
    one step per day over the whole period (days to come are empty)."""
    w, h, left, bottom, top = 600, 150, 44, 18, 8
    plot_w, plot_h = w - left - 6, h - bottom - top
    high = max([1.0, *(p.bad_minutes for p in points), *(p.budget_minutes for p in points)]) * 1.1
    slot = plot_w / max(days, 1)

    def y(v: float) -> float:
        return top + plot_h - v / high * plot_h

    parts = [f'<svg class="chart burn" viewBox="0 0 {w} {h}" role="img" aria-label="{escape(label)}">',
             f"<title>{escape(label)}</title>",
             f'<rect class="plot" x="{left}" y="{top}" width="{plot_w}" height="{plot_h}"/>']
    for i, p in enumerate(points):
        x = left + i * slot
        css = "ok" if p.bad_minutes <= p.budget_minutes else "bad"
        parts.append(
            f'<rect class="{css}" x="{x + 0.5:.1f}" y="{y(p.bad_minutes):.1f}" width="{max(slot - 1, 0.5):.1f}" '
            f'height="{top + plot_h - y(p.bad_minutes):.1f}"><title>{p.day.isoformat()}: {p.bad_minutes} bad minutes so far, '
            f"budget so far {p.budget_minutes:.1f} min</title></rect>"
        )
    line = " ".join(f"{left + i * slot:.1f},{y(p.budget_minutes):.1f} {left + (i + 1) * slot:.1f},{y(p.budget_minutes):.1f}"
                    for i, p in enumerate(points))
    if line:
        parts.append(f'<polyline class="budget-line" points="{line}"/>')
    parts.append(f'<text x="{left - 4}" y="{top + 9}" text-anchor="end" {FONT} font-size="10">{high:.0f}</text>')
    parts.append(f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" {FONT} font-size="10">0 min</text>')
    if points:
        parts.append(f'<text x="{left}" y="{h - 4}" {FONT} font-size="10">{points[0].day.isoformat()}</text>')
        parts.append(f'<text x="{w - 6}" y="{h - 4}" text-anchor="end" {FONT} font-size="10">day {len(points)} of {days}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def indicator_chart(rows: Sequence[dict], unit: str, label: str) -> Markup:
    """Baseline, target and actual per office: a bar for the actual (green when it
    reaches the target), a grey tick for the baseline and a dark diamond for the target.
    ``rows``: ``{"name", "baseline", "target", "actual"}`` (None where unknown)."""
    values = [v for r in rows for v in (r["baseline"], r["target"], r["actual"]) if v is not None]
    high = 100.0 if unit == "percent" else max([1.0, *values]) * 1.15
    w, row_h, left, right = 560, 24, 120, 64
    plot_w = w - left - right
    h = row_h * len(rows) + 22

    def x(v: float) -> float:
        return left + min(max(v, 0.0), high) / high * plot_w

    parts = [f'<svg class="chart bars" viewBox="0 0 {w} {h}" role="img" aria-label="{escape(label)}">',
             f"<title>{escape(label)}</title>"]
    for i, r in enumerate(rows):
        cy = 6 + i * row_h
        mid = cy + row_h / 2 - 3
        a, b, t = r["actual"], r["baseline"], r["target"]
        met = a is not None and t is not None and a >= t
        words = [f"actual {_fmt(a, unit) if a is not None else 'n/a'}",
                 f"baseline {_fmt(b, unit) if b is not None else 'none'}",
                 f"target {_fmt(t, unit) if t is not None else 'none'}"]
        parts.append(f'<g><title>{escape(r["name"])}: {", ".join(words)}</title>')
        parts.append(f'<text x="{left - 8}" y="{mid + 4}" text-anchor="end" {FONT} font-size="12">{escape(r["name"])}</text>')
        parts.append(f'<rect class="track" x="{left}" y="{cy + 2}" width="{plot_w}" height="{row_h - 10}"/>')
        if a is not None:
            parts.append(f'<rect class="{"ok" if met else "actual"}" x="{left}" y="{cy + 4}" '
                         f'width="{max(x(a) - left, 1):.1f}" height="{row_h - 14}"/>')
        if b is not None:
            parts.append(f'<line class="baseline" x1="{x(b):.1f}" x2="{x(b):.1f}" y1="{cy}" y2="{cy + row_h - 6}"/>')
        if t is not None:
            tx = x(t)
            parts.append(f'<path class="target" d="M{tx:.1f} {cy - 1} l5 {row_h / 2 - 3} l-5 {row_h / 2 - 3} l-5 -{row_h / 2 - 3} z"/>')
        parts.append(f'<text x="{w - 4}" y="{mid + 4}" text-anchor="end" {FONT} font-size="12" class="value">'
                     f'{_fmt(a, unit) if a is not None else "n/a"}</text>')
        parts.append("</g>")
    ay = 6 + len(rows) * row_h + 12
    parts.append(f'<text x="{left}" y="{ay}" {FONT} font-size="10" class="axis">0</text>')
    parts.append(f'<text x="{left + plot_w}" y="{ay}" text-anchor="end" {FONT} font-size="10" class="axis">{_fmt(high, unit) if unit == "percent" else f"{high:.0f}"}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def trend_chart(points: Sequence[dict], unit: str, label: str) -> Markup:
    """An indicator (all offices) over successive bienniums: one bar each, with the
    biennium's target as a dark tick. ``points``: ``{"period", "actual", "target"}``."""
    values = [v for p in points for v in (p["actual"], p["target"]) if v is not None]
    high = 100.0 if unit == "percent" else max([1.0, *values]) * 1.15
    w, h, top, bottom = 360, 150, 20, 22
    plot_h = h - top - bottom
    slot = w / max(len(points), 1)

    def y(v: float) -> float:
        return top + plot_h - min(max(v, 0.0), high) / high * plot_h

    parts = [f'<svg class="chart trend" viewBox="0 0 {w} {h}" role="img" aria-label="{escape(label)}">',
             f"<title>{escape(label)}</title>",
             f'<line class="axis-line" x1="0" x2="{w}" y1="{top + plot_h}" y2="{top + plot_h}"/>']
    for i, p in enumerate(points):
        cx = i * slot + slot / 2
        bw = min(slot * 0.5, 48)
        a, t = p["actual"], p["target"]
        words = f'{p["period"]}: actual {_fmt(a, unit) if a is not None else "n/a"}, target {_fmt(t, unit) if t is not None else "none"}'
        parts.append(f"<g><title>{escape(words)}</title>")
        if a is not None:
            met = t is not None and a >= t
            parts.append(f'<rect class="{"ok" if met else "actual"}" x="{cx - bw / 2:.1f}" y="{y(a):.1f}" width="{bw:.1f}" height="{top + plot_h - y(a):.1f}"/>')
            inside = top + plot_h - y(a) > 18  # the figure inside the bar's top, else just above it
            css = ' class="inside"' if inside else ""
            parts.append(f'<text x="{cx:.1f}" y="{y(a) + 14 if inside else y(a) - 4:.1f}" text-anchor="middle" {FONT} '
                         f'font-size="11"{css}>{_fmt(a, unit)}</text>')
        else:
            parts.append(f'<text x="{cx:.1f}" y="{top + plot_h - 4}" text-anchor="middle" {FONT} font-size="11" class="axis">n/a</text>')
        if t is not None:
            parts.append(f'<line class="target-tick" x1="{cx - bw / 2 - 4:.1f}" x2="{cx + bw / 2 + 4:.1f}" y1="{y(t):.1f}" y2="{y(t):.1f}"/>')
        parts.append(f'<text x="{cx:.1f}" y="{h - 6}" text-anchor="middle" {FONT} font-size="11">{escape(p["period"])}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))
