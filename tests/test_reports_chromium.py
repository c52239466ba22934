"""An HTML report as a real browser shows it: Debian's headless Chromium renders the
self-contained page (no network needed) to a screenshot, kept in tmp_path, and lays it
out cleanly at 1400 and 800 px (screenshots under tests/artifacts/, gitignored)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from exporters.reports import build_report, render
from slamon.store import Store
from tests import reports_estate as estate
from tests.cdp import Chromium
from tests.conftest import require_binary

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LAYOUT_CHECK = (Path(__file__).resolve().parent / "layout_check.js").read_text(encoding="utf-8")


@pytest.mark.integration
def test_chromium_renders_the_html_report(tmp_path):
    chromium = require_binary("chromium", "/usr/bin/chromium")
    store = Store.open(f"sqlite:///{tmp_path}/slamon.db")
    try:
        cat = estate.catalogue()
        estate.fill(store, cat)
        html = render(build_report(store, cat, "2012-2013", estate.NOW), "html")
    finally:
        store.close()
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    shot = tmp_path / "report.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             f"--user-data-dir={tmp_path / 'profile'}"]
    done = subprocess.run(
        [chromium, *flags, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
        capture_output=True, text=True, timeout=90,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a page with content, not a blank one
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=90,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Mail &lt;b&gt;bold&lt;/b&gt; &amp; co" in dom.stdout  # still text once parsed by a browser
    assert "Indicators of achievement, biennium 2012-2013" in dom.stdout


@pytest.mark.integration
async def test_the_html_report_reads_well_at_1400_and_800_px(tmp_path):
    """The report's charts and tables laid out with no box out of its cell, no clipped
    or overlapping text and no sideways page (tests/layout_check.js), at both widths."""
    chromium = require_binary("chromium", "/usr/bin/chromium")
    store = Store.open(f"sqlite:///{tmp_path}/slamon.db")
    try:
        cat = estate.catalogue()
        estate.fill(store, cat)
        html = render(build_report(store, cat, "2012-2013", estate.NOW), "html")
    finally:
        store.close()
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    async with Chromium(chromium, tmp_path / "profile") as browser:
        for width in (1400, 800):
            await browser.resize(width)
            loaded = await browser.load(page.as_uri())
            assert loaded.messages == [], loaded.messages
            (ARTIFACTS / f"report-{width}-top.png").write_bytes(loaded.png)
            (ARTIFACTS / f"report-{width}.png").write_bytes(await browser.full_screenshot())
            faults = await browser.evaluate(LAYOUT_CHECK)
            assert faults == [], f"report at {width} px: {faults}"
            charts = await browser.evaluate(
                "[...document.querySelectorAll('svg.chart.bars')].map(s => [s.getAttribute('aria-label'), "
                "s.getBoundingClientRect().width, s.querySelectorAll('g > title').length])"
            )
            assert len(charts) == 3, charts
            for label, drawn, rows in charts:
                assert "actual against baseline and target" in label and drawn > 300 and rows >= 2
