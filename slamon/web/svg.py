"""Inline SVG charts for the status page (no script, no external asset).

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
