"""The JSON API over real HTTP on 127.0.0.1, against a Runtime filled from real
ProbeResults and a real SQLite store; every answer checked against the OpenAPI
document the app serves."""

from __future__ import annotations

import datetime as dt
import re

import aiohttp
import pytest
import pytest_asyncio
from jsonschema import Draft202012Validator

from slamon.core.indicators import IndicatorValue
from slamon.core.model import IndicatorId
from slamon.loader import load_catalogue
from slamon.store import Store
from slamon.web import WebServer, admin_exposure_problem, build_app
from slamon.web.openapi import openapi_document
from tests.conftest import CATALOGUE_DIR
from tests.web_support import NOW, fill_history, runtime_for

TOKEN = "s3cret-admin-token-for-tests"
SECRET = "probe-password-never-shown"
DOWN = "unhq-fax"
HISTORY = "unhq-conference"
DOC = openapi_document()



@pytest.fixture(scope="module")
def bundled():
    report = load_catalogue(CATALOGUE_DIR)
    assert report.catalogue is not None
    return report.catalogue


@pytest.fixture(scope="module")
def store(tmp_path_factory, bundled):
    s = Store.open(f"sqlite:///{tmp_path_factory.mktemp('api')}/slamon.db")
    s.record_catalogue(bundled, NOW - dt.timedelta(days=400))
    fill_history(s, bundled, HISTORY, days=40)
    s.open_breach(DOWN, "unhq", "availability", "2026-11", NOW - dt.timedelta(hours=3), 0.993, 99.5)
    s.open_breach(HISTORY, "unhq", "availability", "2026-10", dt.datetime(2026, 10, 10, tzinfo=dt.UTC), 0.99, 99.8)
    s.resolve_breach(HISTORY, "unhq", "availability", "2026-10", dt.datetime(2026, 10, 12, tzinfo=dt.UTC))
    s.add_exclusion(HISTORY, NOW - dt.timedelta(days=3), NOW - dt.timedelta(days=3, hours=-2),
                    "power works", "Chief ICT", NOW - dt.timedelta(days=4))
    yield s
    s.close()


class Client:
    """A session against a served app that checks every API answer against the
    OpenAPI document (the path template and status must be documented)."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base
        self.checked: set[tuple[str, str, int]] = set()

    async def call(self, method: str, url: str, template: str | None = None, **kw) -> tuple[int, dict, aiohttp.ClientResponse]:
        async with self.session.request(method, self.base + url, **kw) as r:
            body = await r.json(content_type=None)
            path = template or url.split("?")[0]
            validate(method.lower(), path, r.status, r.content_type, body)
            self.checked.add((method.lower(), path, r.status))
            return r.status, body, r

    async def get(self, url: str, template: str | None = None, **kw):
        status, body, _ = await self.call("GET", url, template, **kw)
        return status, body


def validate(method: str, path: str, status: int, content_type: str, body) -> None:
    op = DOC["paths"].get(path, {}).get(method)
    assert op is not None, f"{method.upper()} {path} is not in the OpenAPI document"
    response = op["responses"].get(str(status))
    assert response is not None, f"{method.upper()} {path} answered {status}, which is not documented"
    assert content_type in response["content"], f"{path} {status}: {content_type} not documented"
    schema = {**response["content"][content_type]["schema"], "components": DOC["components"]}
    errors = sorted(Draft202012Validator(schema).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"{method.upper()} {path} {status}: " + "; ".join(
        f"{list(e.path)}: {e.message}" for e in errors[:5]
    )


async def serve(runtime, **kw):
    server = WebServer(build_app(runtime, lambda accept: (b"", "text/plain"), clock=NOW.timestamp, **kw), "127.0.0.1", 0)
    host, port = await server.start()
    return server, f"http://{host}:{port}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api(bundled, store):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UNHQ_PROBE_PASSWORD", SECRET)
        runtime = runtime_for(bundled, down={DOWN})
        server, base = await serve(runtime, store=store)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
            yield Client(s, base)
        await server.close()


def test_the_document_is_valid_openapi_31_data():
    assert DOC["openapi"].startswith("3.1")
    for schema in DOC["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    refs = set(re.findall(r"#/components/schemas/(\w+)", str(DOC)))
    assert refs <= set(DOC["components"]["schemas"]), refs - set(DOC["components"]["schemas"])
    for path, ops in DOC["paths"].items():
        for method, op in ops.items():
            params = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert params == set(re.findall(r"\{(\w+)\}", path)), path
            assert "200" in op["responses"] or method == "post", path


def test_every_api_route_of_the_app_is_documented_and_nothing_else(bundled):
    app = build_app(runtime_for(bundled), lambda accept: (b"", "text/plain"))
    routes = {
        (r.method.lower(), r.resource.canonical)
        for r in app.router.routes()
        if r.resource is not None and r.resource.canonical.startswith("/api/") and r.method != "HEAD"
    }
    documented = {(m, p) for p, ops in DOC["paths"].items() for m in ops}
    assert routes == documented


@pytest.mark.asyncio(loop_scope="module")  # shares the module's served app
async def test_services_with_filters_and_problems(api):
    status, body = await api.get("/api/v1/services")
    assert status == 200 and body["count"] == 73
    status, body = await api.get("/api/v1/services?office=unog&lifecycle=production")
    assert body["count"] > 5
    assert {s["office"] for s in body["services"]} == {"unog"}
    assert {s["lifecycle"] for s in body["services"]} == {"production"}
    status, body = await api.get("/api/v1/services?state=down")
    assert [s["id"] for s in body["services"]] == [DOWN]
    assert body["services"][0]["open_breaches"] == 1
    snap = body["services"][0]["vantages"][0]["sla"]
    assert snap["open_breaches"] == ["availability"] and snap["error_budget_remaining_ratio"] == 0
    assert snap["error_budget_overspent"] is True and snap["error_budget_note"] is None
    status, body = await api.get("/api/v1/services?office=atlantis")
    assert status == 400 and "unknown office 'atlantis'" in body["detail"]
    status, body = await api.get("/api/v1/services?state=sideways")
    assert status == 400 and "state must be one of" in body["detail"]


@pytest.mark.asyncio(loop_scope="module")  # shares the module's served app
async def test_one_service_with_latest_and_recent_results(api):
    status, body = await api.get(f"/api/v1/services/{HISTORY}?limit=5", "/api/v1/services/{id}")
    assert status == 200
    assert body["id"] == HISTORY and body["owner"]["contacts"]
    assert len(body["recent_results"]) == 5
    times = [r["started_at"] for r in body["recent_results"]]
    assert times == sorted(times, reverse=True)  # newest first
    assert all(p["latest"] is not None for p in body["probes"] if p["enabled"])
    assert body["probes"][0]["latest"]["phases"]["connect"] > 0
    status, body = await api.get("/api/v1/services/nope-nothing", "/api/v1/services/{id}")
    assert status == 404 and body["detail"] == "unknown service 'nope-nothing'"
    status, body = await api.get(f"/api/v1/services/{HISTORY}?limit=0", "/api/v1/services/{id}")
    assert status == 400 and "limit" in body["detail"]


@pytest.mark.asyncio(loop_scope="module")  # shares the module's served app
async def test_no_secret_in_any_answer(api):
    texts = []
    for url in ("/api/v1/services", "/api/v1/services/unhq-identity", "/api/v1/services/unhq-erp"):
        async with api.session.get(api.base + url) as r:
            texts.append(await r.text())
    assert all(SECRET not in t and "${env:" not in t for t in texts)


@pytest.mark.asyncio(loop_scope="module")  # shares the module's served app
async def test_sla_of_a_service_and_of_an_office(api):
    status, body = await api.get(f"/api/v1/services/{HISTORY}/sla?period=2026-11", "/api/v1/services/{id}/sla")
    assert status == 200 and body["period"] == "2026-11"
    m = body["level"]["vantages"][0]
    assert m["vantage"] == "unhq" and m["seconds"]["observed"] > 0
    assert 0.9 < m["objectives"]["availability"]["actual_ratio"] <= 1.0
    status, body = await api.get("/api/v1/sla?office=unhq&period=2026-11", "/api/v1/sla")
    assert status == 200 and body["office"] == "unhq"
    ids = {s["service"] for s in body["services"]}
    assert HISTORY in ids and all(i.startswith("unhq-") for i in ids)
    assert body["summary"]["services"] == len(ids)
    status, body = await api.get("/api/v1/sla?period=2026-13", "/api/v1/sla")
    assert status == 400 and body["detail"].startswith("bad period '2026-13'")
    status, body = await api.get("/api/v1/services/zzz-none/sla?period=2026-11", "/api/v1/services/{id}/sla")
    assert status == 404


@pytest.mark.asyncio(loop_scope="module")  # shares the module's served app
async def test_indicators_per_office_and_total(api):
    status, body = await api.get("/api/v1/indicators?period=2026-2027&office=unog", "/api/v1/indicators")
    assert status == 200
    got = {(i["indicator"], i["office"]) for i in body["indicators"]}
    assert ("automated-services", "unog") in got and ("iso-aligned-services", "all") in got
    auto = next(i for i in body["indicators"] if i["indicator"] == "automated-services" and i["office"] == "unog")
    assert auto["value"] == len(auto["counted"]) and auto["target"] is not None
    assert all(nc["reasons"] for nc in auto["not_counted"])
    status, body = await api.get("/api/v1/indicators?period=someday", "/api/v1/indicators")
    assert status == 400


@pytest.mark.asyncio(loop_scope="module")  # shares the module's served app
async def test_breaches_and_exclusions(api):
    status, body = await api.get("/api/v1/breaches?state=open")
    assert status == 200 and [b["service"] for b in body["breaches"]] == [DOWN]
    status, body = await api.get("/api/v1/breaches")
    assert body["count"] == 2 and body["breaches"][0]["service"] == DOWN  # newest first
    # one set of units: the store keeps the target in percent, the API gives ratios
    (down,) = [b for b in body["breaches"] if b["service"] == DOWN]
    assert (down["measure_ratio"], down["target_ratio"]) == (0.993, 0.995)
    assert down["bad_minutes"] is None and down["allowed_bad_minutes"] is None
    status, body = await api.get(f"/api/v1/breaches?service={HISTORY}&since=2026-10-11")
    assert body["count"] == 1 and body["breaches"][0]["resolved_at"].startswith("2026-10-12")
    status, body = await api.get("/api/v1/breaches?since=yesterday")
    assert status == 400
    status, body = await api.get(f"/api/v1/exclusions?service={HISTORY}")
    assert body["count"] == 1 and body["exclusions"][0]["approver"] == "Chief ICT"


@pytest.mark.asyncio(loop_scope="module")  # shares the module's served app
async def test_openapi_served_and_unknown_routes_are_problems(api):
    status, body = await api.get("/api/v1/openapi.json")
    assert status == 200 and body == DOC
    async with api.session.get(api.base + "/api/v1/nothing") as r:
        assert r.status == 404 and r.content_type == "application/problem+json"
    async with api.session.post(api.base + "/api/v1/services") as r:
        assert r.status == 405 and (await r.json(content_type=None))["status"] == 405
    status, body = await api.get("/api/v1/status")
    assert body["catalogue"]["services"] == 73 and body["store"] is True


@pytest.mark.asyncio(loop_scope="module")  # shares the module's served app
async def test_without_a_store_history_answers_are_503(bundled):
    runtime = runtime_for(bundled)
    runtime.indicators = [IndicatorValue(IndicatorId.automated_services, "all", 45.0, "count", 41.0, 49.0,
                                         ["unhq-email"], [("unhq-fax", ["fulfilment is manual"])], "2026-2027")]
    server, base = await serve(runtime)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
            c = Client(s, base)
            for url, template in (("/api/v1/sla?period=2026-11", "/api/v1/sla"), ("/api/v1/breaches", None),
                                  ("/api/v1/exclusions", None), (f"/api/v1/services/{HISTORY}/sla", "/api/v1/services/{id}/sla")):
                status, body = await c.get(url, template)
                assert status == 503 and "without a store" in body["detail"]
            status, body = await c.get(f"/api/v1/services/{HISTORY}", "/api/v1/services/{id}")
            assert status == 200 and body["recent_results"] == []
            status, body = await c.get("/api/v1/indicators")  # the daemon's current values
            assert status == 200 and body["indicators"][0]["value"] == 45.0
            assert body["indicators"][0]["not_counted"] == [{"service": "unhq-fax", "reasons": ["fulfilment is manual"]}]
            status, body = await c.get("/api/v1/indicators?period=2026-2027", "/api/v1/indicators")
            assert status == 503
    finally:
        await server.close()


@pytest.mark.asyncio(loop_scope="module")  # shares the module's served app
async def test_admin_reload_needs_the_bearer_token(bundled):
    calls = []

    def reload():
        calls.append(1)

    server, base = await serve(runtime_for(bundled), reload=reload, admin_token=TOKEN)
    url = "/api/v1/admin/reload"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
            c = Client(s, base)
            status, body, r = await c.call("POST", url)
            assert status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
            status, body, r = await c.call("POST", url, headers={"Authorization": "Bearer wrong"})
            assert status == 401 and "wrong" in body["detail"]
            status, body, r = await c.call("POST", url, headers={"Authorization": f"Basic {TOKEN}"})
            assert status == 401
            assert calls == []
            status, body, r = await c.call("POST", url, headers={"Authorization": f"Bearer {TOKEN}"})
            assert status == 202 and body["status"] == "requested" and calls == [1]
            async with s.get(base + url) as r:
                assert r.status == 405  # an action: never a GET
            for page in ("/api/v1/status", "/api/v1/openapi.json", "/"):
                async with s.get(base + page) as r:
                    assert TOKEN not in await r.text()
    finally:
        await server.close()


@pytest.mark.asyncio(loop_scope="module")  # shares the module's served app
async def test_admin_reload_outcomes_and_off_without_token(bundled):
    async def refused():
        return False

    server, base = await serve(runtime_for(bundled), reload=refused, admin_token=TOKEN)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
            status, body, _ = await Client(s, base).call("POST", "/api/v1/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
            assert status == 409 and body["status"] == "refused"
    finally:
        await server.close()
    server, base = await serve(runtime_for(bundled), reload=lambda: True, admin_token=None)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
            status, body, _ = await Client(s, base).call("POST", "/api/v1/admin/reload", headers={"Authorization": "Bearer "})
            assert status == 403 and "SLAMON_ADMIN_TOKEN" in body["detail"]
    finally:
        await server.close()


def test_admin_routes_stay_on_loopback_without_a_token():
    assert "refusing" in admin_exposure_problem("0.0.0.0", admin_routes=True, token_set=False)
    assert "refusing" in admin_exposure_problem("192.0.2.10", admin_routes=True, token_set=False)
    assert admin_exposure_problem("::1", admin_routes=True, token_set=False) is None
    assert admin_exposure_problem("0.0.0.0", admin_routes=True, token_set=True) is None



async def test_an_icmp_result_carries_its_packets_and_round_trip(bundled):
    from slamon.core.results import ProbeOutcome, ProbeResult

    runtime = runtime_for(bundled)
    outcome = ProbeOutcome(success=True, duration_seconds=0.9, phases={"resolve": 0.001}, ip_protocol=4,
                           packets_sent=5, packets_received=4, rtt_seconds=0.0031)  # fmt: skip
    runtime.observations.record(ProbeResult("unhq", "unhq-network", "core-router", "icmp", NOW.timestamp(), outcome))
    server, base = await serve(runtime)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
            status, body = await Client(s, base).get("/api/v1/services/unhq-network", "/api/v1/services/{id}")
    finally:
        await server.close()
    assert status == 200
    row = next(p for p in body["probes"] if p["probe"] == "core-router")
    assert row["kind"] == "icmp"
    assert row["latest"]["icmp"] == {
        "packets_sent": 5, "packets_received": 4, "packet_loss_ratio": 0.2, "rtt_seconds": 0.0031,
    }  # 1 of 5 lost
    other = next(p for p in body["probes"] if p["probe"] == "proxy")
    assert "icmp" not in other["latest"]
