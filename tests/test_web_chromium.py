"""The status pages in a real headless Chromium (Debian's package), driven through the
DevTools protocol: each page loads with no console message, script exception or
logged error (a missing asset included), the rendered DOM has the grid and the
states, and a screenshot of each is kept under tests/artifacts/ (gitignored).

The check is shown to fail on a page that throws and on a missing asset, so a quiet
browser cannot pass for a clean page.
"""

from __future__ import annotations

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
    app = build_app(runtime_for(catalogue, down={DOWN}), lambda accept: (b"", "text/plain"),
                    store=store, clock=NOW.timestamp)
    app.router.add_get("/test-broken", broken)
    app.router.add_get("/test-broken.js", broken_js)
    server = WebServer(app, "127.0.0.1", 0)
    host, port = await server.start()
    yield f"http://{host}:{port}"
    await server.close()
    store.close()


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
