"""The status page lists each office's planned maintenance of the next 7 days, in the
office's local time: checked on the real page served on 127.0.0.1 against the bundled
catalogue's windows, computed by hand."""

from __future__ import annotations

import datetime as dt
import re

import aiohttp

from slamon.web import WebServer, build_app
from slamon.web.upcoming import upcoming_maintenance
from tests.alerting_support import bundled_catalogue
from tests.web_support import NOW, runtime_for


def rows(html: str, office: str) -> list[tuple[str, str, str, str]]:
    table = re.search(rf'<table class="grid maintenance" data-office="{office}">(.*?)</table>', html, re.S)
    assert table, f"no maintenance table for {office}"
    out = []
    for row in re.findall(r"<tr data-service=.*?</tr>", table.group(1), re.S):
        sid = re.search(r'data-service="([^"]+)"', row).group(1)
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
        out.append((sid, *cells))
    return out


async def test_status_page_shows_the_next_seven_days_of_maintenance():
    catalogue = bundled_catalogue()
    runtime = runtime_for(catalogue)
    server = WebServer(build_app(runtime, lambda accept: (b"", "text/plain"), clock=NOW.timestamp), "127.0.0.1", 0)
    host, port = await server.start()
    try:
        async with aiohttp.ClientSession() as s, s.get(f"http://{host}:{port}/") as resp:
            assert resp.status == 200
            html = await resp.text()
    finally:
        await server.close()
    assert "Planned maintenance, next 7 days" in html
    # NOW is Saturday 28 November 2026, 12:00 UTC; the page covers up to 5 December 12:00 UTC
    unog = rows(html, "unog")
    # Wednesday's release window, 19:00-20:00 Geneva time
    assert ("unog-gdoc", "release window", "Wed 02 Dec 19:00", "20:00") in unog
    assert ("unog-hosting", "rolling patching", "Sun 29 Nov 02:00", "06:00") in unog
    # monthly windows on the 20th and the 7th fall outside the 7 days
    assert not [r for r in unog if r[0] in ("unog-campus-network", "unog-file-storage")]
    unhq = rows(html, "unhq")
    # Saturday 20:00 New York (01:00 UTC Sunday) is inside; the next Saturday's is not
    assert ("unhq-talent", "application maintenance", "Sat 28 Nov 20:00", "23:00") in unhq
    assert len([r for r in unhq if r[0] == "unhq-talent"]) == 1
    starts = [dt.datetime.fromisoformat(m) for m in re.findall(r'data-start="([^"]+)"', html)]
    assert starts and all(NOW - dt.timedelta(days=1) < t < NOW + dt.timedelta(days=7) for t in starts)


def test_a_window_under_way_is_listed_and_marked():
    catalogue = bundled_catalogue()
    during = dt.datetime(2026, 12, 2, 18, 30, tzinfo=dt.UTC)  # 19:30 in Geneva, Wednesday
    unog = next(o for o in upcoming_maintenance(catalogue, during, ["unog"]) if o["office"] == "unog")
    gdoc = [w for w in unog["windows"] if w["service_id"] == "unog-gdoc"]
    assert gdoc[0]["under_way"] and gdoc[0]["start"] == "Wed 02 Dec 19:00"
    assert [w["under_way"] for w in unog["windows"]].count(True) == 1
