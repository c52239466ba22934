"""Reports: the three ICT-operations indicators in the baseline / target / actual shape,
per office and in total, with the services behind each number and per-service SLA
tables, rendered as HTML, Markdown, CSV or JSON (docs/reports.md).

    report = build_report(store, catalogue, "2012-2013", now)
    html = render(report, "html")
    rows = render(report, "csv", table="sla")
"""

from __future__ import annotations

import orjson

from exporters.reports.build import build_report
from exporters.reports.model import SCHEMA, Report
from exporters.reports.tables import TABLES, render_csv
from exporters.reports.templated import render_html, render_markdown

FORMATS = ("html", "md", "csv", "json")

__all__ = ["FORMATS", "SCHEMA", "TABLES", "Report", "build_report", "render", "render_json"]


_JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def render_json(report: Report) -> str:
    """The whole model (what ``Report.to_dict`` gives: dataclass fields in order, times
    in UTC with ``Z``, enums as their values, infinities as null), two-space indent.

    orjson serialises the dataclasses directly: for 10,000 services the report is tens
    of megabytes, which the standard library's indenting encoder (pure Python) takes
    tens of seconds to write. A test checks the result reads back as ``to_dict``."""
    return orjson.dumps(report, option=_JSON_OPTIONS).decode() + "\n"


def render(report: Report, fmt: str, *, table: str = "indicators") -> str:
    """``report`` as text in ``fmt`` (one of ``FORMATS``); ``table`` picks the CSV table."""
    if fmt == "html":
        return render_html(report)
    if fmt == "md":
        return render_markdown(report)
    if fmt == "csv":
        return render_csv(report, table)
    if fmt == "json":
        return render_json(report)
    raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
