"""The status pages in a real headless Chromium (Debian's package), driven through the
DevTools protocol: each page loads with no console message, script exception or
logged error (a missing asset included), the rendered DOM has the grid and the
states, and a screenshot of each is kept under tests/artifacts/ (gitignored).

At 1400 and 800 px each page is laid out with no element sticking out of its table
cell, no text clipped, no text over other text and no sideways scrolling of the page
(``tests/layout_check.js``, run in the page); the status page updates itself in place.

Each check is shown to fail on a page built to fail it (a throwing page, a missing
asset, overlapping text, an overflowing cell), so a quiet browser cannot pass for a
clean page.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import re
from pathlib import Path

import pytest
from aiohttp import web

from slamon.loader import load_catalogue
from slamon.store import Store
from slamon.web import WebServer, build_app
from tests.cdp import Chromium
from tests.conftest import CATALOGUE_DIR, require_binary
from tests.web_support import NOW, fill_history, runtime_for

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LAYOUT_CHECK = (Path(__file__).resolve().parent / "layout_check.js").read_text(encoding="utf-8")
WIDTHS = (1400, 800)
DOWN = "unhq-fax"
HISTORY = "unhq-conference"
PAGES = {
    "status": "/",
    "service": f"/services/{HISTORY}",
    "indicators": "/indicators?period=2026-2027",
    "service-down": f"/services/{DOWN}",
}


async def broken(request: web.Request) -> web.Response:
    # the same-origin script runs (script-src 'self'); the inline one is refused by CSP
    return web.Response(
        text="<!doctype html><title>x</title><img src='/static/missing.png'>"
        "<script src='/test-broken.js'></script><script>console.error('inline ran')</script>",
        content_type="text/html",
    )


async def crowded(request: web.Request) -> web.Response:
    # text over text, a box wider than its cell, text cut by a hidden overflow, a page
    # wider than the window: the layout check must report each
    return web.Response(
        text="<!doctype html><title>x</title><body style='margin:0'>"
        "<p style='position:absolute;top:10px;left:10px'>first text here</p>"
        "<p style='position:absolute;top:12px;left:20px'>second text there</p>"
        "<table style='width:300px;table-layout:fixed;margin-top:80px'><tr><td style='width:100px'>"
        "<span style='display:inline-block;width:260px'>too wide</span></td><td>ok</td></tr></table>"
        "<div style='width:60px;overflow:hidden;white-space:nowrap'>Platinum 99.99 % target</div>"
        "<svg width='300' height='40' style='position:absolute;top:200px;left:400px'>"
        "<text x='10' y='20'>chart label one</text><text x='30' y='22'>chart label two</text></svg>"
        "<div style='width:3000px'>wide</div>",
        content_type="text/html",
    )


async def broken_js(request: web.Request) -> web.Response:
    return web.Response(text="console.error('bad'); undefinedCall();", content_type="text/javascript")


@pytest.fixture
async def served(tmp_path):
    catalogue = load_catalogue(CATALOGUE_DIR).catalogue
    assert catalogue is not None
    store = Store.open(f"sqlite:///{tmp_path}/slamon.db")
    store.record_catalogue(catalogue, NOW - dt.timedelta(days=400))
    fill_history(store, catalogue, HISTORY, days=60)
    store.open_breach(DOWN, "unhq", "availability", "2026-11", NOW - dt.timedelta(hours=3), 0.993, 0.995)
    runtime = runtime_for(catalogue, down={DOWN})
    app = build_app(runtime, lambda accept: (b"", "text/plain"), store=store, clock=NOW.timestamp)
    app.router.add_get("/test-crowded", crowded)
    app.router.add_get("/test-broken", broken)
    app.router.add_get("/test-broken.js", broken_js)
    server = WebServer(app, "127.0.0.1", 0)
    host, port = await server.start()
    yield Served(f"http://{host}:{port}", runtime)
    await server.close()
    store.close()


@dataclasses.dataclass
class Served:
    url: str
    runtime: object

    def __add__(self, path: str) -> str:
        return self.url + path


async def test_pages_render_in_chromium_without_console_errors(served, tmp_path):
    binary = require_binary("chromium", "/usr/bin/chromium")
    ARTIFACTS.mkdir(exist_ok=True)
    async with Chromium(binary, tmp_path / "profile") as browser:
        # the check can fail: a throwing page and a missing asset are caught
        bad = await browser.load(served + "/test-broken")
        assert any("console.error: bad" in m for m in bad.messages), bad.messages
        assert any(m.startswith("exception:") and "undefinedCall" in m for m in bad.messages), bad.messages
        assert any("404" in m and "missing.png" in m for m in bad.messages), bad.messages
        # the Content-Security-Policy holds: an inline script never runs
        assert not any("inline ran" in m for m in bad.messages), bad.messages
        assert any("Content Security Policy" in m for m in bad.messages), bad.messages

        pages = {}
        for name, path in PAGES.items():
            page = await browser.load(served + path)
            assert page.messages == [], f"{path}: {page.messages}"
            assert page.png[:8] == b"\x89PNG\r\n\x1a\n" and len(page.png) > 20_000
            (ARTIFACTS / f"web-{name}.png").write_bytes(page.png)
            pages[name] = page.dom

    status = pages["status"]
    assert 'id="status-grid"' in status
    assert len(re.findall(r'<tr class="service-row', status)) == 69  # the bundled catalogue, retired left out
    assert re.search(rf'data-service="{DOWN}" data-state="down"', status)
    assert len(re.findall(r'<td class="cell cell-up', status)) > 60
    assert "cell-breach" in status and status.count('class="office-name"') == 4
    assert '<svg class="history"' in pages["service"] and 'id="probes"' in pages["service"]
    assert "objective-breach" in pages["service-down"] and "row-breach" in pages["service-down"]
    assert pages["indicators"].count('data-office="all"') == 3


async def test_pages_read_well_at_1400_and_800_px(served, tmp_path):
    binary = require_binary("chromium", "/usr/bin/chromium")
    ARTIFACTS.mkdir(exist_ok=True)
    async with Chromium(binary, tmp_path / "profile") as browser:
        await browser.load(served + "/test-crowded")
        faults = await browser.evaluate(LAYOUT_CHECK)
        for kind in ("overlap: \"first text here\"", "overlap: \"chart label one\"", "overflow: span",
                     "clipped: \"Platinum", "page scrolls sideways"):
            assert any(f.startswith(kind) for f in faults), (kind, faults)
        pages = {**PAGES, "status-refresh": "/?refresh=0"}
        for width in WIDTHS:
            await browser.resize(width)
            for name, path in pages.items():
                page = await browser.load(served + path)
                assert page.messages == [], f"{path}: {page.messages}"
                (ARTIFACTS / f"web-{name}-{width}-top.png").write_bytes(page.png)  # the window
                (ARTIFACTS / f"web-{name}-{width}.png").write_bytes(await browser.full_screenshot())
                faults = await browser.evaluate(LAYOUT_CHECK)
                assert faults == [], f"{path} at {width} px: {faults}"
            # every office column is on screen at 800 px: the grid reflows, nothing to scroll
            await browser.load(served + "/")
            grid = await browser.evaluate(
                "(() => { const w = document.querySelector('.grid-wrap'); return [w.scrollWidth, w.clientWidth]; })()"
            )
            assert grid[0] <= grid[1] + 1, (width, grid)
        # a refused reload: the header says why and links to the list (still at 800 px)
        stats = served.runtime.catalogue_stats
        stats.load_success, stats.errors = False, 2
        stats.last_errors = ("catalogue/services/unon/unon-email.yaml:12:7: E104 tier: unknown tier 'Gold' "
                             "(one of platinum, gold, silver, bronze)", "catalogue/services/unon/unon-email.yaml:30:12: "
                             "E201 probes[0].url: the URL has a space in it")
        stats.last_failure_timestamp_seconds = NOW.timestamp() - 90
        for name, path in (("reload-failed", "/"), ("catalogue-errors", "/catalogue")):
            page = await browser.load(served + path)
            (ARTIFACTS / f"web-{name}-800-top.png").write_bytes(page.png)
            assert "last reload failed: 2 errors" in page.dom and "E104 tier" in page.dom
            faults = await browser.evaluate(LAYOUT_CHECK)
            assert faults == [], f"{path} after a refused reload: {faults}"
        stats.load_success, stats.errors, stats.last_errors = True, 0, ()
        # on a phone the grid scrolls inside its own box; nothing else is cut or crowded
        await browser.resize(390, 844)
        for name, path in (("status", "/"), ("service", f"/services/{HISTORY}"), ("indicators", PAGES["indicators"])):
            page = await browser.load(served + path)
            (ARTIFACTS / f"web-{name}-390-top.png").write_bytes(page.png)
            faults = await browser.evaluate(LAYOUT_CHECK)
            assert faults == [], f"{path} at 390 px: {faults}"


async def test_status_page_updates_itself_in_place(served, tmp_path):
    binary = require_binary("chromium", "/usr/bin/chromium")
    async with Chromium(binary, tmp_path / "profile") as browser:
        page = await browser.load(served + "/?refresh=2")
        assert page.messages == [], page.messages
        assert 'data-service="unhq-erp" data-state="up"' in page.dom
        await browser.evaluate("window.oldGrid = document.getElementById('status-grid'); true")
        # the service goes down in the daemon's memory; the page shows it without a reload
        runtime = served.runtime
        for key, snap in list(runtime.sla.items()):
            if key[1] == "unhq-erp":
                runtime.sla[key] = dataclasses.replace(snap, open_breaches=frozenset({"availability"}))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while loop.time() < deadline:
            if await browser.evaluate("document.body.getAttribute('data-refreshes')"):
                break
            await asyncio.sleep(0.25)
        assert await browser.evaluate("document.body.getAttribute('data-refreshes')") is not None
        # swapped in place: a new grid element, the same document (no navigation)
        assert await browser.evaluate("document.getElementById('status-grid') !== window.oldGrid && !!window.oldGrid")
        html = await browser.evaluate("document.getElementById('status-grid').outerHTML")
        assert re.search(r'data-service="unhq-erp"[^>]*>.*?breach availability', html, re.S)
        assert "updated" in await browser.evaluate("document.getElementById('refresh-state').textContent")
        assert browser.messages() == []
        # an update that fails says so and why, and the grid stays as it was
        catalogue, runtime.catalogue = runtime.catalogue, None  # the page now answers 503
        deadline = loop.time() + 15
        state = ""
        while loop.time() < deadline and "failed" not in state:
            await asyncio.sleep(0.25)
            state = await browser.evaluate("document.getElementById('refresh-state').textContent")
        runtime.catalogue = catalogue
        assert state.startswith("update failed (HTTP 503)"), state
        assert await browser.evaluate("document.querySelectorAll('#status-grid tr.service-row').length") == 69
