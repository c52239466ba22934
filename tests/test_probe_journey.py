"""The journey probe: cookies, an extracted CSRF token, a secret, time limits."""

from __future__ import annotations

import pytest_asyncio

from slamon.core.results import Reason
from slamon.probes import ProbeContext, run_probe
from tests.probe_helpers import make_probe

pytest_plugins = ["tests.servers"]

PASSWORD = "s3cret-pass-42"  # what the test server expects (tests.servers.JOURNEY_PASSWORD)


@pytest_asyncio.fixture
async def ctx():
    c = ProbeContext.create(env={"PROBE_PASSWORD": PASSWORD, "WRONG_PASSWORD": "not-it-9f8e"})
    yield c
    await c.close()


def login_journey(base: str, password: str = "${env:PROBE_PASSWORD}", **fields):
    steps = [
        {"name": "open", "url": f"{base}/login", "max_duration": "2s",
         "extract": {"token": 'name="csrf" value="([^"]+)"'}},
        {"name": "sign-in", "method": "POST", "url": f"{base}/login",
         "form": {"csrf": "${token}", "user": "probe", "password": password},
         "max_duration": "2s", "expect": {"status": [302]}},
        {"name": "home", "url": f"{base}/home", "expect": {"body": "^Welcome probe$"}},
    ]
    return make_probe(kind="journey", steps=steps, **fields)


async def test_login_journey(ctx, http_server):
    out = await run_probe(login_journey(http_server.url), ctx)
    assert out.success, (out.detail, out.steps)
    assert [s.name for s in out.steps] == ["open", "sign-in", "home"]
    assert all(s.success for s in out.steps)
    assert [s.status_code for s in out.steps] == [200, 302, 200]
    assert out.status_code == 200
    assert "connect" in out.phases and "processing" in out.phases
    assert sum(s.duration_seconds for s in out.steps) <= out.duration_seconds + 1e-6


async def test_each_run_starts_with_an_empty_cookie_jar(ctx, http_server):
    assert (await run_probe(login_journey(http_server.url), ctx)).success
    home_only = make_probe(kind="journey", steps=[{"name": "home", "url": f"{http_server.url}/home"}])
    out = await run_probe(home_only, ctx)
    assert out.reason is Reason.status and out.steps[0].status_code == 401
    # nor does the shared http session keep cookies
    out = await run_probe(make_probe(kind="http", url=f"{http_server.url}/home"), ctx)
    assert out.status_code == 401


async def test_wrong_password_fails_the_step_and_never_shows_the_secret(ctx, http_server):
    out = await run_probe(login_journey(http_server.url, password="${env:WRONG_PASSWORD}"), ctx)
    assert out.reason is Reason.status
    assert "sign-in" in out.detail and "403" in out.detail
    assert [(s.name, s.success) for s in out.steps] == [("open", True), ("sign-in", False)]
    assert out.steps[1].reason is Reason.status and out.steps[1].status_code == 403
    assert out.steps[1].detail == "status 403, expected 302"
    assert "not-it-9f8e" not in repr(out)
    assert PASSWORD not in repr(out)


async def test_secret_never_in_detail_even_when_it_is_in_the_url(ctx, closed_port):
    probe = make_probe(
        kind="journey",
        steps=[{"name": "s", "url": f"http://127.0.0.1:{closed_port}/?p=${{env:PROBE_PASSWORD}}"}],
    )
    out = await run_probe(probe, ctx)
    assert out.reason is Reason.refused
    assert PASSWORD not in repr(out)


async def test_missing_secret(ctx, http_server):
    out = await run_probe(login_journey(http_server.url, password="${env:NOT_SET_X1}"), ctx)
    assert out.reason is Reason.secret and "NOT_SET_X1" in out.detail
    assert out.steps[-1].name == "sign-in" and out.steps[-1].reason is Reason.secret


async def test_extract_failure_and_undefined_variable(ctx, http_server):
    probe = make_probe(
        kind="journey",
        steps=[{"name": "open", "url": f"{http_server.url}/ok", "extract": {"token": "csrf=(\\w+)"}}],
    )
    out = await run_probe(probe, ctx)
    assert out.reason is Reason.extract and "token" in out.detail
    probe = make_probe(
        kind="journey",
        steps=[{"name": "use", "url": f"{http_server.url}/ok?t=${{later}}"}],
    )
    out = await run_probe(probe, ctx)
    assert out.reason is Reason.extract and "later" in out.detail


async def test_step_timeout_is_recorded(ctx, http_server):
    probe = make_probe(
        kind="journey",
        steps=[
            {"name": "fast", "url": f"{http_server.url}/ok"},
            {"name": "slow", "url": f"{http_server.url}/delay/2000", "max_duration": "200ms"},
            {"name": "never", "url": f"{http_server.url}/ok"},
        ],
    )
    out = await run_probe(probe, ctx)
    assert out.reason is Reason.step_timeout
    assert [s.name for s in out.steps] == ["fast", "slow"]
    slow = out.steps[1]
    assert slow.reason is Reason.step_timeout and not slow.success
    assert 0.15 < slow.duration_seconds < 1.5
    assert http_server.state["hits"].get("/ok") == 1  # "never" did not run


async def test_whole_journey_time_limit(ctx, http_server):
    probe = make_probe(
        kind="journey",
        timeout="300ms",
        steps=[
            {"name": "fast", "url": f"{http_server.url}/ok"},
            {"name": "hang", "url": f"{http_server.url}/hang", "max_duration": "10s"},
        ],
    )
    out = await run_probe(probe, ctx)
    assert out.reason is Reason.timeout and "hang" in out.detail
    assert [(s.name, s.success) for s in out.steps] == [("fast", True), ("hang", False)]
    assert out.steps[1].reason is Reason.timeout
    assert out.duration_seconds < 2.0


async def test_unreadable_ca_file_is_a_result(ctx, http_server, tmp_path):
    probe = make_probe(
        kind="journey", ca_file=str(tmp_path / "missing.pem"),
        steps=[{"name": "s", "url": f"{http_server.url}/ok"}],
    )
    out = await run_probe(probe, ctx)
    assert out.reason is Reason.error and "ca_file" in out.detail


async def test_following_redirects_when_asked(ctx, http_server):
    probe = make_probe(
        kind="journey",
        follow_redirects=True,
        steps=[{"name": "r", "url": f"{http_server.url}/redirect/2", "expect": {"body": "OK"}}],
    )
    out = await run_probe(probe, ctx)
    assert out.success and out.steps[0].status_code == 200


async def test_a_step_and_an_http_probe_give_the_same_verdict(ctx):
    """One HTTP engine: every case of the verdict table gets the same verdict, reason
    and status from a journey step as from an http probe."""
    from tests.test_probe_h1 import FAILING, LENIENT, Scripted

    routes = dict(LENIENT)
    routes.update({path: answer for path, (answer, _, _) in FAILING.items()})
    routes["/redirect-with-cookie"] = (
        b"HTTP/1.1 302 Found\r\nLocation: /needs-cookie\r\nSet-Cookie: s=1\r\nContent-Length: 0\r\n\r\n"
    )
    routes["/needs-cookie"] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"
    async with Scripted(routes) as srv:
        for path in routes:
            http_out = await run_probe(make_probe(kind="http", url=srv.url(path)), ctx)
            step = {"name": "s", "url": srv.url(path)}
            journey_out = await run_probe(
                make_probe(kind="journey", follow_redirects=True, steps=[step]), ctx
            )
            assert (journey_out.success, journey_out.reason, journey_out.status_code) == (
                http_out.success, http_out.reason, http_out.status_code
            ), (path, http_out.detail, journey_out.detail)
    # the redirect's cookie reached its target in both; asked directly, no cookie is left
    cookies = [h.get("cookie") for line, h, _ in srv.requests if line == "GET /needs-cookie"]
    assert cookies == ["s=1", "s=1", None, None]


async def test_journey_with_the_pure_python_parser_and_url_credentials(http_server):
    c = ProbeContext.create(env={"PROBE_PASSWORD": PASSWORD}, http_parser="python")
    try:
        out = await run_probe(login_journey(http_server.url), c)
        assert out.success, (out.detail, out.steps)
        base = http_server.url.replace("http://", "http://probe:${env:PROBE_PASSWORD}@")
        probe = make_probe(
            kind="journey",
            steps=[{"name": "echo", "url": f"{base}/echo", "expect": {"body": '"Authorization": "Basic '}}],
        )
        out = await run_probe(probe, c)
        assert out.success, out.detail
        assert PASSWORD not in repr(out)
    finally:
        await c.close()


async def test_a_redirect_loop_in_a_step_is_a_redirects_failure(ctx, http_server):
    probe = make_probe(
        kind="journey", follow_redirects=True, steps=[{"name": "loop", "url": f"{http_server.url}/loop"}]
    )
    out = await run_probe(probe, ctx)
    assert out.reason is Reason.redirects and "more than 10 redirects" in out.detail
    assert out.steps[0].reason is Reason.redirects and not out.steps[0].success
