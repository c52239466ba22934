"""HTML and Markdown renderings of a report, from the Jinja2 templates beside this module.

HTML is autoescaped (a service name is text, never markup) and self-contained: inline
CSS, no script, no external asset, so the file can be mailed, archived or printed as is.
Markdown escapes the characters that would break a table or turn into markup.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from exporters.reports import text
from exporters.reports.model import TOTAL, IndicatorRow, OfficeSection, Report
from slamon.web.svg import indicator_chart

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#])")


def md_escape(value: object) -> str:
    """A cell of Markdown text: no table break, no markup, no raw HTML."""
    out = " ".join(str(value).split())
    out = _MD_SPECIAL.sub(r"\\\1", out)
    return out.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@cache
def _environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("exporters.reports", "templates"),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(text.filters())
    env.filters["md"] = md_escape
    return env


@dataclasses.dataclass(frozen=True)
class _Indicator:
    code: str
    title: str
    rows: list[tuple[OfficeSection, IndicatorRow]]

    def chart(self, period: str) -> str:
        """Baseline, target and actual per office as inline SVG (the table beside it has
        the figures)."""
        unit = self.rows[0][1].unit if self.rows else "count"
        rows = [
            {"name": "Total" if sec.office == TOTAL else (sec.city or sec.name), "baseline": row.baseline,
             "target": row.target, "actual": row.actual}
            for sec, row in self.rows
        ]
        return indicator_chart(rows, unit, f"{self.code} {self.title}, {period}: actual against baseline and target, per office")


def _by_indicator(report: Report) -> list[_Indicator]:
    """The summary tables: for each indicator, its row in each office and the total."""
    out: dict[str, _Indicator] = {}
    for sec in report.sections():
        for row in sec.indicators:
            ind = out.setdefault(row.indicator, _Indicator(row.code, row.title, []))
            ind.rows.append((sec, row))
    return list(out.values())


def _heading(report: Report) -> str:
    """``biennium 2012-2013``, ``quarter 2013-Q4``; ``the 30 days to 31 January 2014``."""
    if report.period_kind == "rolling 30d":
        return f"the 30 days to {text.when(report.end)}"
    return f"{text.KIND_NAMES.get(report.period_kind, report.period_kind)} {report.period}"


def _context(report: Report) -> dict:
    return {
        "r": report,
        "indicators": _by_indicator(report),
        "last_day": report.end - dt.timedelta(microseconds=1),
        "heading": _heading(report),
        "dash": text.DASH,
        "not_final": _not_final(report),
    }


def _not_final(report: Report) -> str:
    """Why a closed period's figures are not final."""
    why = []
    if not report.has_measurements:
        why.append("no measurement on record")
    if report.counts_from == "catalogue":
        why.append("its catalogue is not on record")
    return " and ".join(why) or "not on record"


def render_html(report: Report) -> str:
    return _environment(True).get_template("report.html.j2").render(_context(report))


def render_markdown(report: Report) -> str:
    out = _environment(False).get_template("report.md.j2").render(_context(report))
    return re.sub(r"\n{3,}", "\n\n", out)
