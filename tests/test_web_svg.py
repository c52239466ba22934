"""The server-side SVG charts against hand-computed positions and texts (no browser)."""

from __future__ import annotations

import datetime as dt
import re

from slamon.web.history import BurnPoint, DayPoint
from slamon.web.svg import burn_chart, indicator_chart, latency_chart, trend_chart


def test_indicator_chart_places_baseline_target_and_actual():
    svg = str(indicator_chart(
        [{"name": "New York", "baseline": 50.0, "target": 80.0, "actual": 90.0},
         {"name": "Geneva <b>", "baseline": None, "target": 80.0, "actual": None}],
        "percent", "(a)(ii) per office",
    ))
    # plot: x from 120 over 560 - 120 - 64 = 376 px for 0..100 %
    assert re.search(r'<rect class="ok" x="120" y="\d+" width="338.4"', svg)  # 90 % of 376
    assert '<line class="baseline" x1="308.0" x2="308.0"' in svg  # 120 + 0.5 * 376
    assert '<path class="target" d="M420.8 ' in svg  # 120 + 0.8 * 376
    assert "<title>New York: actual 90.0 %, baseline 50.0 %, target 80.0 %</title>" in svg
    assert "<title>Geneva &lt;b&gt;: actual n/a, baseline none, target 80.0 %</title>" in svg
    assert svg.count('class="ok"') == 1 and 'class="actual"' not in svg  # no bar without an actual
    assert 'role="img" aria-label="(a)(ii) per office"' in svg


def test_indicator_chart_of_counts_scales_to_the_largest_value():
    svg = str(indicator_chart([{"name": "Total", "baseline": 10, "target": 20, "actual": 15}], "count", "x"))
    # high = 20 * 1.15 = 23; actual 15 -> 15 / 23 * 376 = 245.2, below target: not "ok"
    assert re.search(r'<rect class="actual" x="120" y="\d+" width="245.2"', svg)
    assert ">23</text>" in svg


def test_trend_chart_marks_each_biennium():
    svg = str(trend_chart(
        [{"period": "2022-2023", "actual": 30.0, "target": 40.0}, {"period": "2024-2025", "actual": None, "target": None}],
        "count", "trend",
    ))
    assert re.findall(r"<title>([^<]*)</title>", svg) == [
        "trend", "2022-2023: actual 30, target 40", "2024-2025: actual n/a, target none"]
    assert svg.count("<rect") == 1 and ">n/a</text>" in svg


def test_burn_chart_colours_days_beyond_the_budget():
    day = dt.date(2026, 11, 1)
    points = [BurnPoint(day, 0, 2.0), BurnPoint(day + dt.timedelta(days=1), 5, 4.0)]
    svg = str(burn_chart(30, points, "burn"))
    rects = re.findall(r'<rect class="(ok|bad)"[^>]*><title>([^<]*)</title>', svg)
    assert rects == [("ok", "2026-11-01: 0 bad minutes so far, budget so far 2.0 min"),
                     ("bad", "2026-11-02: 5 bad minutes so far, budget so far 4.0 min")]
    assert "day 2 of 30" in svg and '<polyline class="budget-line"' in svg


def test_latency_chart_only_with_a_latency_objective():
    day = dt.date(2026, 11, 1)
    assert str(latency_chart([DayPoint(day, 1.0, 60, 60)], "x")) == ""
    svg = str(latency_chart([DayPoint(day, 1.0, 60, 60, latency=0.9, latency_target=0.95)], "x"))
    assert 'class="history latency"' in svg
    assert "<title>2026-11-01: 90.000 % of 60 observed minutes under the threshold</title>" in svg
    # below the 95 % target but above the floor (95 - 5 x 5 = 70 %): amber, on a 70-100 % scale
    assert '<rect class="warn"' in svg and "scale 70.00\u2013100 %" in svg

