"""The tcp probe's dialogues against SMTP, IMAP, POP3 and LDAP servers on 127.0.0.1,
with real STARTTLS upgrades (tests/dialogue_servers.py).

The ready-made dialogues of docs/probes.md are run as written there, only pointed at
the loopback servers and the test CA.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import pytest_asyncio
import yaml

from slamon.core.results import Reason
from slamon.probes import ProbeContext, run_probe
from tests.probe_helpers import make_probe

pytest_plugins = ["tests.servers", "tests.dialogue_servers"]

DOCS = Path(__file__).resolve().parent.parent / "docs" / "probes.md"
EXAMPLE_RE = re.compile(r"<!-- dialogue example: (\w+) -->\n```yaml\n(.*?)```", re.DOTALL)


def documented() -> dict[str, dict]:
    return {name: yaml.safe_load(text)[0] for name, text in EXAMPLE_RE.findall(DOCS.read_text())}


def pointed(example: dict, port: int, ca_file: str) -> dict:
    """A documented probe aimed at a loopback server trusting the test CA."""
    probe = {**example, "host": "127.0.0.1", "port": port}
    steps = []
    for step in probe["dialogue"]:
        if "starttls" in step:
            step = {**step, "starttls": {**step["starttls"], "server_name": "localhost", "ca_file": ca_file}}
        steps.append(step)
    probe["dialogue"] = steps
    return probe


@pytest_asyncio.fixture
async def ctx():
    c = ProbeContext.create(max_body_bytes=4096, env={"HELO_NAME": "probe.test"})
    yield c
    await c.close()


def test_docs_hold_the_four_examples():
    assert set(documented()) == {"smtp", "imap", "pop3", "ldap"}


@pytest.mark.parametrize("protocol", ["smtp", "imap", "pop3", "ldap"])
async def test_documented_dialogue_upgrades_and_goes_on_in_tls(protocol, ctx, dialogue_servers, pki):
    port = await dialogue_servers.start(protocol)
    example = documented()[protocol]
    out = await run_probe(make_probe(**pointed(example, port, str(pki.ca_file))), ctx)
    assert out.success, out.detail
    assert [s.name for s in out.steps] == [s["name"] for s in example["dialogue"]]
    assert all(s.success and s.duration_seconds >= 0 for s in out.steps)
    assert out.tls_version is not None and out.tls_version.startswith("TLS")
    assert out.phases["tls"] > 0 and "connect" in out.phases
    assert abs(out.cert_expiry_timestamp - pki.not_after["valid"].timestamp()) < 1


def smtp_probe(port: int, ca_file: str, after_tls: str = "^250-AUTH", **fields):
    """SMTP with a post-TLS step that only the upgraded server can satisfy (AUTH is
    offered inside TLS only)."""
    dialogue = [
        {"name": "banner", "expect": "^220 "},
        {"name": "ehlo", "send": "EHLO ${env:HELO_NAME}\r\n", "expect": "^250[ -]STARTTLS"},
        {"name": "starttls", "send": "STARTTLS\r\n", "expect": "^220 "},
        {"name": "upgrade", "starttls": {"ca_file": ca_file, **fields.pop("starttls", {})}},
        {"name": "ehlo-tls", "send": "EHLO probe.test\r\n", "expect": after_tls},
    ]
    return make_probe(kind="tcp", host="127.0.0.1", port=port, dialogue=dialogue, **fields)


async def test_after_the_upgrade_the_server_is_heard_inside_tls(ctx, dialogue_servers, pki):
    port = await dialogue_servers.start("smtp")
    out = await run_probe(smtp_probe(port, str(pki.ca_file)), ctx)
    assert out.success, out.detail
    # AUTH is offered before TLS by no server here: the same pattern before the upgrade fails
    probe = make_probe(kind="tcp", host="127.0.0.1", port=port, dialogue=[
        {"name": "banner", "expect": "^220 "},
        {"name": "ehlo", "send": "EHLO x\r\n", "expect": "^250-AUTH", "timeout": "300ms"},
    ])  # fmt: skip
    out = await run_probe(probe, ctx)
    assert out.reason is Reason.step_timeout and "step 'ehlo'" in out.detail
    assert [(s.name, s.success) for s in out.steps] == [("banner", True), ("ehlo", False)]
    assert out.steps[1].reason is Reason.step_timeout


async def test_no_starttls_offered_is_an_assertion_naming_the_step(ctx, dialogue_servers, pki):
    port = await dialogue_servers.start("smtp", starttls=False)
    probe = make_probe(kind="tcp", host="127.0.0.1", port=port, dialogue=[
        {"name": "banner", "expect": "^220 "},
        {"name": "starttls", "send": "STARTTLS\r\n", "expect": "^220 ", "timeout": "300ms"},
        {"name": "upgrade", "starttls": {"ca_file": str(pki.ca_file)}},
    ])  # fmt: skip
    out = await run_probe(probe, ctx)
    # the server answers 454 and waits for the next command: 220 never comes
    assert out.reason is Reason.step_timeout and "step 'starttls'" in out.detail
    assert [s.name for s in out.steps] == ["banner", "starttls"] and out.tls_version is None
    # closing the connection without the expected answer is an assertion with what was said
    probe = make_probe(kind="tcp", host="127.0.0.1", port=port, dialogue=[
        {"name": "quit", "send": "QUIT\r\n", "expect": "^250 "},
    ])  # fmt: skip
    out = await run_probe(probe, ctx)
    assert out.reason is Reason.assertion
    assert "step 'quit'" in out.detail and "closed" in out.detail and "221 2.0.0 Bye" in out.detail
    assert out.steps[-1].name == "quit" and not out.steps[-1].success


async def test_a_refused_ldap_starttls_fails_the_step(ctx, dialogue_servers, pki):
    port = await dialogue_servers.start("ldap", ldap_result=2)  # protocolError
    probe = pointed(documented()["ldap"], port, str(pki.ca_file))
    out = await run_probe(make_probe(**probe), ctx)
    # the documented fail_on: an extendedResponse with another resultCode fails at once
    assert out.reason is Reason.assertion and out.detail.startswith("step 'starttls': the server answered")
    assert out.tls_version is None and out.duration_seconds < 1
    # without fail_on the step waits for a success that never comes
    probe["dialogue"][0] = {**probe["dialogue"][0], "timeout": "300ms"}
    del probe["dialogue"][0]["fail_on"]
    out = await run_probe(make_probe(**probe), ctx)
    assert out.reason is Reason.step_timeout and "step 'starttls'" in out.detail


async def test_certificate_checks_of_the_upgrade(ctx, dialogue_servers, pki):
    port = await dialogue_servers.start("smtp")
    # the system store does not know the test CA
    out = await run_probe(smtp_probe(port, None), ctx)
    assert out.reason is Reason.tls and "step 'upgrade'" in out.detail
    assert "certificate verify failed" in out.detail
    assert [s.name for s in out.steps][-1] == "upgrade" and out.steps[-1].reason is Reason.tls
    # the name checked is server_name
    out = await run_probe(smtp_probe(port, str(pki.ca_file), starttls={"server_name": "wrong.example"}), ctx)
    assert out.reason is Reason.tls
    # verify: false accepts it
    out = await run_probe(smtp_probe(port, None, starttls={"verify": False}), ctx)
    assert out.success, out.detail
    # an unreadable ca_file is the deployment's fault, found before connecting
    out = await run_probe(smtp_probe(port, "/nonexistent/ca.pem"), ctx)
    assert out.reason is Reason.error and "ca_file" in out.detail and "connect" not in out.phases


async def test_client_certificate_in_the_upgrade(ctx, dialogue_servers, pki):
    port = await dialogue_servers.start("smtp", client_ca=str(pki.ca_file))
    cert, key = pki.files["expiring"]
    out = await run_probe(smtp_probe(port, str(pki.ca_file), starttls={"client_cert": str(cert), "client_key": str(key)}), ctx)
    assert out.success, out.detail
    # without one, the server ends the connection: with TLS 1.3 the client has finished
    # its handshake first, so it sees the alert (tls), a reset, or the connection closed
    # before the next answer (assertion), as docs/probes.md says for tcp with tls: true
    out = await run_probe(smtp_probe(port, str(pki.ca_file), timeout="2s"), ctx)
    assert not out.success and out.reason in (Reason.tls, Reason.reset, Reason.assertion), out.detail
    assert any(s.name in ("upgrade", "ehlo-tls") and not s.success for s in out.steps)


async def test_plaintext_sent_with_the_starttls_answer_is_not_read_inside_tls(ctx, dialogue_servers, pki):
    port = await dialogue_servers.start("smtp", inject=b"250 INJECTED\r\n")
    out = await run_probe(smtp_probe(port, str(pki.ca_file)), ctx)
    assert out.success, out.detail  # the injection does not break the dialogue...
    out = await run_probe(smtp_probe(port, str(pki.ca_file), after_tls="INJECTED"), ctx)
    assert not out.success  # ...and is never taken as the server's answer inside TLS
    assert out.steps[-1].name == "ehlo-tls" and out.steps[-1].success is False


async def test_step_timeout_and_probe_timeout(ctx, dialogue_servers, pki):
    port = await dialogue_servers.start("imap", silent_after=1)
    base = pointed(documented()["imap"], port, str(pki.ca_file))
    steps = base["dialogue"]
    probe = make_probe(**{**base, "dialogue": [steps[0], steps[1], {**steps[2], "timeout": "200ms"}]})
    t0 = time.monotonic()
    out = await run_probe(probe, ctx)
    assert out.reason is Reason.step_timeout and "step 'starttls' took longer than 0.2 s" in out.detail
    assert time.monotonic() - t0 < 2
    # without a step timeout the probe's own timeout names the step in progress
    probe = make_probe(**{**base, "timeout": "300ms", "dialogue": steps[:3]})
    out = await run_probe(probe, ctx)
    assert out.reason is Reason.timeout and "step 'starttls'" in out.detail
    assert out.steps[-1].name == "starttls" and out.steps[-1].reason is Reason.timeout


async def test_implicit_tls_then_dialogue(ctx, dialogue_servers, pki):
    port = await dialogue_servers.start("smtp", implicit_tls=True)
    probe = make_probe(kind="tcp", host="127.0.0.1", port=port, tls=True, ca_file=str(pki.ca_file), dialogue=[
        {"name": "banner", "expect": "^220 "},
        {"name": "ehlo", "send": "EHLO probe.test\r\n", "expect": "^250 HELP"},
    ])  # fmt: skip
    out = await run_probe(probe, ctx)
    assert out.success, out.detail
    assert out.tls_version is not None and len(out.steps) == 2


async def test_secret_in_send_is_masked(dialogue_servers, pki):
    port = await dialogue_servers.start("pop3")
    c = ProbeContext.create(env={"POP_PASSWORD": "s3cret-Value"})
    try:
        probe = make_probe(kind="tcp", host="127.0.0.1", port=port, dialogue=[
            {"name": "greeting", "expect": r"^\+OK"},
            {"name": "pass", "send": "PASS ${env:POP_PASSWORD}\r\n", "expect": "^s3cret-Value", "timeout": "300ms"},
        ])  # fmt: skip
        out = await run_probe(probe, c)
    finally:
        await c.close()
    assert out.reason is Reason.step_timeout and "step 'pass'" in out.detail
    assert "s3cret-Value" not in out.detail and all("s3cret-Value" not in s.detail for s in out.steps)


async def test_a_step_reads_no_more_than_the_read_cap(ctx, http_server):
    # an endless answer never matching: the step stops at the context's cap (4096 bytes)
    probe = make_probe(kind="tcp", host="127.0.0.1", port=http_server.port, dialogue=[
        {"name": "get", "send": "GET /endless HTTP/1.1\r\nHost: x\r\n\r\n", "expect": "nomatch"},
    ])  # fmt: skip
    out = await run_probe(probe, ctx)
    assert out.reason is Reason.assertion and "step 'get'" in out.detail and "'nomatch' not found" in out.detail
    assert out.duration_seconds < 2


async def test_fail_on_ends_a_step_as_soon_as_the_answer_shows_it_failed(ctx, dialogue_servers, pki):
    # the documented SMTP dialogue against a server that offers no STARTTLS: the EHLO
    # answer ends (250 HELP) without it, and the step fails at once, not at its timeout
    port = await dialogue_servers.start("smtp", starttls=False)
    out = await run_probe(make_probe(**pointed(documented()["smtp"], port, str(pki.ca_file))), ctx)
    assert out.reason is Reason.assertion, out.detail
    assert out.detail == "step 'ehlo': the server answered '250 HELP' without '^250[ -]STARTTLS'"
    assert out.duration_seconds < 1 and [s.name for s in out.steps] == ["banner", "ehlo"]
    # an error reply to STARTTLS itself
    probe = make_probe(kind="tcp", host="127.0.0.1", port=port, dialogue=[
        {"name": "banner", "expect": "^220 "},
        {"name": "starttls", "send": "STARTTLS\r\n", "expect": "^220 ", "fail_on": r"^[45]\d\d "},
    ])  # fmt: skip
    out = await run_probe(probe, ctx)
    assert out.detail == "step 'starttls': the server answered '454 4.7.0 TLS not available' without '^220 '"
