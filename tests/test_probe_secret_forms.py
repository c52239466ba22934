"""A secret never shows, in any encoding, in what leaves a probe.

Random secrets (unicode, spaces, ``%``, ``+``, ``/``, ``@``, ``:``) go through a URL path,
a query, a header, ``basic_auth`` and the URL's user information, to a loopback server
that fails in several ways and echoes what it received where a failure detail quotes
it (a redirect's ``Location``). Every output is then searched for every form the secret
can take: raw, percent-encoded by ``urllib.parse`` with each safe set, ``+`` for spaces,
upper- and lower-case hex, IDNA, base64 in the ``Basic`` token, and the exact bytes that
crossed the wire. Outputs: the outcome's detail, log records, ``slamon probe``'s text
and JSON, and the result as the web API and pages serve it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import re
import socket
import struct
import time
from urllib.parse import quote, quote_plus, unquote

import idna
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slamon.cli.probe import _as_json, _print_text
from slamon.core.results import ProbeResult
from slamon.probes import ProbeContext, run_probe
from slamon.web.views import result_dict
from tests.probe_helpers import make_probe
from tests.servers import start_tcp
from tests.test_probe_cli import slamon_in_process, write_catalogue

pytest_plugins = ["tests.servers"]

MODES = ("status", "body", "reset", "location", "auth-location", "decoded-location", "idna-location")
SAFE_SETS = ("", "/", ":@", "/:@", "/:@!$&'()*+,;=", "~")
USER = "probe"

_secret_chars = st.one_of(
    st.sampled_from(list(" %+/@:")),
    st.characters(
        blacklist_categories=("Cs", "Cc", "Cf", "Zl", "Zp", "Co", "Cn"),
        blacklist_characters="?#&${}*\\",  # URL structure, reference syntax, the mask
    ),
)
SECRETS = st.text(_secret_chars, min_size=8, max_size=24).filter(
    lambda s: sum(c.isalpha() for c in s) >= 2 and s.strip() == s
    # a secret of identifier characters alone may be a word of the output itself
    # ("cert_exp" in "cert_expiry_timestamp"): no real secret looks like that, and the
    # search could not tell a leak from a field name
    and any(not (c.isascii() and (c.isalnum() or c == "_")) for c in s)
)


# --------------------------------------------------------------------------- the server


class Recorder:
    def __init__(self) -> None:
        self.heads: list[bytes] = []


def _header(head: bytes, name: bytes) -> bytes:
    m = re.search(rb"\r\n" + name + rb":[ \t]*([^\r\n]*)", head, re.IGNORECASE)
    return m.group(1) if m else b""


def _idna_host(text: str) -> bytes | None:
    for encode in (lambda: idna.encode(text, uts46=True), lambda: text.encode("idna")):
        try:
            return encode()
        except (idna.IDNAError, UnicodeError, ValueError):
            continue
    return None


def _answer(mode: str, head: bytes) -> bytes:
    target = head.split(b" ", 2)[1]
    if mode == "status":
        return b"HTTP/1.1 500 " + target + b"\r\nContent-Length: %d\r\n\r\n" % len(head) + head
    if mode == "body":
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(head) + head
    if mode == "location":
        location = b"ftp://h" + target
    elif mode == "auth-location":
        location = b"ftp://h/" + _header(head, b"authorization") + b"/" + _header(head, b"x-token")
    elif mode == "decoded-location":
        location = b"http://[::1/" + unquote(target.decode("latin-1"), encoding="utf-8").encode()
    else:  # idna-location: the header's secret as a host name
        host = _idna_host(_header(head, b"x-token").decode("utf-8", "replace"))
        location = b"ftp://" + (host or b"h") + b".example/"
    return b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n"


def handler(recorder: Recorder):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        recorder.heads.append(head)
        mode = head.split(b" ", 2)[1].split(b"/")[2].decode()
        if mode == "reset":
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        writer.write(_answer(mode, head))
        await writer.drain()

    return handle


# --------------------------------------------------------------------------- the forms


def encoded_forms(secret: str, heads: list[bytes]) -> set[str]:
    """Every form of ``secret`` to search for, computed here independently of the code
    under test, plus what the server actually received."""
    forms = {secret}
    for safe in SAFE_SETS:
        forms.add(quote(secret, safe=safe))
        forms.add(quote_plus(secret, safe=safe))
    for form in list(forms):
        forms.add(re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), form))
    host = _idna_host(secret)
    if host is not None:
        forms.add(host.decode("ascii"))
    forms.add(base64.b64encode(f"{USER}:{secret}".encode()).decode())
    for head in heads:
        text = head.decode("utf-8", "replace")
        for pattern in (r"/s/(.*?)/end", r"[?&]k=(.*?)&z=1", r"\r\nX-Token: ([^\r\n]*)", r"\r\nAuthorization: Basic ([^\r\n]*)"):
            m = re.search(pattern, text, re.IGNORECASE)
            if m is not None:  # as sent, and as a message quoting it decoded would show it
                forms.update((m.group(1), unquote(m.group(1)), unquote(m.group(1).replace("+", " "))))
    return {f for f in forms if len(f) >= 4}


def probes(port: int, secret: str):
    url = f"http://127.0.0.1:{port}/m/MODE/s/${{env:S}}/end?k=${{env:S}}&z=1"
    common = dict(timeout="2s", headers={"X-Token": "${env:S}"}, expect={"body": "^never$"})
    for mode in MODES:
        yield make_probe(
            kind="http", url=url.replace("MODE", mode),
            basic_auth={"username": USER, "password": "${env:S}"}, **common,
        )  # fmt: skip
    if not set(secret) & set("/@"):  # a reference written raw in the URL cannot hold its delimiters
        userinfo = f"http://{USER}:${{env:S}}@127.0.0.1:{port}/m/MODE/s/${{env:S}}/end?k=${{env:S}}&z=1"
        for mode in ("location", "status"):
            yield make_probe(kind="http", url=userinfo.replace("MODE", mode), **common)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(record.getMessage())
        self.texts.append(json.dumps({k: str(v) for k, v in vars(record).items()}, ensure_ascii=False))


def outputs(result: ProbeResult) -> list[str]:
    """The result as every output shows it (JSON read back, so no \\u escapes hide a form)."""
    o = result.outcome
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        _print_text(result.service_id, [result], [])
    cli_json = json.loads(json.dumps([_as_json(result)]))
    api = json.loads(json.dumps(result_dict(result)))
    return [
        o.detail, *(s.detail for s in o.steps), text.getvalue(),
        json.dumps(cli_json, ensure_ascii=False), json.dumps(api, ensure_ascii=False),
    ]


def leaks(secret: str, heads: list[bytes], texts: list[str]) -> list[tuple[str, str]]:
    forms = encoded_forms(secret, heads)
    return [(form, text) for text in texts for form in forms if form in text]


# --------------------------------------------------------------------------- the tests


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secret=SECRETS)
def test_no_form_of_a_secret_leaves_a_probe(secret: str) -> None:
    asyncio.run(_one_secret(secret))


async def _one_secret(secret: str) -> None:
    recorder = Recorder()
    records = Records()
    root = logging.getLogger()
    root.addHandler(records)
    try:
        async with start_tcp(handler(recorder)) as port:
            async with ProbeContext.create(env={"S": secret}) as ctx:
                texts: list[str] = []
                reasons = set()
                for probe in probes(port, secret):
                    outcome = await run_probe(probe, ctx)
                    assert not outcome.success
                    reasons.add(outcome.reason.value)
                    result = ProbeResult("unog", "unog-x", probe.id, probe.kind, time.time(), outcome)
                    texts.extend(outputs(result))
    finally:
        root.removeHandler(records)
    assert {"status", "body", "reset", "error"} <= reasons, reasons
    found = leaks(secret, recorder.heads, texts + records.texts)
    assert not found, found[:3]


async def test_slamon_probe_output_never_shows_the_secret(tmp_path, capsys, monkeypatch):
    secret = "Pä ss+w%2Ord/@:ñ%41"
    monkeypatch.setenv("FORMS_SECRET", secret)
    recorder = Recorder()
    async with start_tcp(handler(recorder)) as port:
        lines = []
        for i, mode in enumerate(MODES):
            lines.append(
                f"  - {{id: p{i}, kind: http, url: 'http://127.0.0.1:{port}/m/{mode}/s/${{env:FORMS_SECRET}}/end"
                f"?k=${{env:FORMS_SECRET}}&z=1', timeout: 3s, headers: {{X-Token: '${{env:FORMS_SECRET}}'}},"
                f" basic_auth: {{username: {USER}, password: '${{env:FORMS_SECRET}}'}}, expect: {{body: '^never$'}}}}"
            )
        cat = write_catalogue(tmp_path / "catalogue", {"unog-forms": "\n".join(lines)})
        code, out, err = await slamon_in_process(capsys, "probe", "unog-forms", "--catalogue", str(cat))
        assert code == 1 and f"0 of {len(MODES)} succeeded" in out, (out, err)
        assert "invalid URL: ftp://h/m/location/s/***/end?k=***&z=1" in out, out
        code, js, err2 = await slamon_in_process(
            capsys, "probe", "unog-forms", "--catalogue", str(cat), "--format", "json"
        )
        shown = json.dumps(json.loads(js), ensure_ascii=False)
    assert len(recorder.heads) == 2 * len(MODES)
    found = leaks(secret, recorder.heads, [out, err, shown, err2])
    assert not found, found[:3]
