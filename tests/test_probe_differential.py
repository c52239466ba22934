"""The http probe against curl and blackbox_exporter on the HTTP zoo (docs/probes-differential.md).

Every endpoint of ``tests/http_zoo.py`` is probed by slamon (``run_probe``, the entry
point the daemon uses), by curl and by Debian's prometheus-blackbox-exporter (through
its ``/probe`` endpoint). ``TABLE`` holds, per endpoint, slamon's expected verdict
("up" or the failure reason) and the verdicts the two reference clients gave when the
table was written. The tests check:

- ``test_references``: curl and blackbox_exporter still give the recorded verdicts
  (a changed reference is noticed, and the "why" re-read);
- ``test_slamon``: slamon gives the expected verdict and reason; where it disagrees
  with both references, the row names the docs/probes.md text that explains why, and
  that text is there. Rows marked ``pending_engine_fix`` are known defects of the
  probe (issue 11): strict xfail, so the fix is noticed and the marker removed.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from slamon.probes import ProbeContext, run_probe
from tests.conftest import ROOT, missing, require_binary
from tests.http_zoo import AUTH_PASSWORD, AUTH_USER, ENDPOINTS, Zoo
from tests.probe_helpers import make_probe

if TYPE_CHECKING:
    from tests.servers import TestPKI

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.servers"]  # the test CA and its certificates: fixture ``pki``

UP = "up"
DOWN = "down"
DEFAULT_STATUSES = tuple(range(200, 400))
REFERENCE_WORKERS = 8  # curl and blackbox_exporter probes in flight at once
PROBES_MD = ROOT / "docs" / "probes.md"
DIFFERENTIAL_MD = ROOT / "docs" / "probes-differential.md"
BLACKBOX_BINARY = "/usr/bin/prometheus-blackbox-exporter"
# endpoints only reached through a redirect
HELPER_ENDPOINTS = {"nonascii-target", "latin1-target", "cookie-target"}


@dataclass(frozen=True)
class Row:
    """One endpoint: how it is probed, and the verdict of each client.

    slamon: "up" or the expected failure reason; curl: "up", "status", "header", "body" (curl
    succeeded but the answer fails the same expectations) or "exit N" (curl's exit
    code); blackbox: "up" or "down" (``probe_success``).
    """

    name: str
    slamon: str
    curl: str
    blackbox: str
    why: str = ""  # wherever the verdicts differ: why each client says what it says
    listener: str = "http"
    path: str = ""  # default: /<name>
    auth: str = ""  # "right" or "wrong": credentials in the URL
    status: tuple[int, ...] | None = None  # default 200-399, as slamon's default
    body: str | None = None
    body_not: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # (name, regex) the final answer must have
    timeout: float = 3.0
    verify: bool = True
    encoding: str = ""  # blackbox_exporter's ``compression`` (it decodes nothing unless told)
    docs: str = ""  # text of docs/probes.md explaining why slamon differs from both
    pending_engine_fix: bool = False  # slamon gets it wrong today: strict xfail
    defect: str = ""  # what slamon does wrong today (with pending_engine_fix)

    @property
    def needs_ipv6(self) -> bool:
        return "ipv6" in self.name  # the IPv6 rows say so in their names

    @property
    def statuses(self) -> tuple[int, ...]:
        return self.status or DEFAULT_STATUSES

    def url(self, zoo: Zoo, password: str | None = None) -> str:
        url = zoo.url(self.listener, self.path or f"/{self.name}")
        if self.auth:
            if password is None:
                password = AUTH_PASSWORD if self.auth == "right" else "wrong-password"
            scheme, rest = url.split("://", 1)
            url = f"{scheme}://{AUTH_USER}:{password}@{rest}"
        return url


T = 1.0  # the probe timeout of rows that must time out (the zoo's slow endpoints take 2.5 s)
_REDIRECT_CAP = (
    "blackbox_exporter stops after 10 redirects without failing and judges the last 3xx answer, "
    "accepted here because every row accepts 200-399 as slamon does (with blackbox_exporter's own "
    "default, 2xx, it is down)"
)  # fmt: skip
_HEADER_CAP = (
    "slamon caps the response header section at 64 KiB by default; curl's cap is 300 KiB (100 KiB "
    "a line), Go's 10 MiB"
)
_NEW = "new, not in issue 11's list: "
# fmt: off
TABLE: tuple[Row, ...] = (
    Row("ok", UP, UP, UP),
    Row("status-500", "status", "status", DOWN),
    Row("status-404-expected", UP, UP, UP, status=(404,)),
    Row("status-list-miss", "status", "status", DOWN, status=(201,)),
    Row("status-204", UP, UP, UP),
    Row("status-304", UP, UP, UP),
    Row("status-204-with-length", UP, UP, UP),
    Row("status-304-with-length", UP, UP, UP),
    Row("status-line-no-reason", UP, UP, UP),
    Row("status-line-bare", UP, UP, UP),
    Row("status-line-http2", UP, UP, UP),
    Row("header-space-before-colon", UP, UP, UP),
    Row("status-line-lowercase", "protocol", UP, DOWN,
        why="'http/1.1 200': curl accepts it; Go and slamon refuse it (RFC 9112 2.3: HTTP-name "
            "is case-sensitive)"),
    Row("reason-phrase-utf8", UP, UP, UP),
    Row("header-nul", UP, "exit 8", UP, why="a NUL in a header value: curl refuses the answer (8); Go and slamon accept it (RFC "
            "9110 5.5 allows either refusing it or reading the NUL as a space)"),
    Row("cl-plus-sign", "protocol", UP, DOWN,
        why="'Content-Length: +2': curl reads 2; Go and slamon refuse it (RFC 9110 8.6: digits "
            "only)"),
    Row("te-uppercase", UP, UP, UP),
    Row("te-unknown", "protocol", "exit 61", DOWN, why="an unknown Transfer-Encoding: curl (61) and Go refuse the answer"),
    Row("interim-then-close", "reset", "exit 52", DOWN),
    Row("switching-101", "status", "exit 52", DOWN),
    Row("redirect-to-ipv6", UP, UP, UP),
    Row("redirect-https-to-http", UP, UP, UP, listener="good", path="/redirect-other-port"),
    Row("header-obs-text", UP, UP, UP, headers=(("X-Place", "^Gen.ve caf"),)),
    Row("body-match", UP, UP, UP, body="^hello zoo"),
    Row("body-miss", "body", "body", DOWN, body="absent-word"),
    Row("body-not", "body", "body", DOWN, body_not="maintenance"),
    Row("body-latin1", UP, "body", DOWN, body="café",
        why="slamon decodes the body with its declared charset (ISO-8859-1) before matching; "
            "curl (as read here, UTF-8) and blackbox_exporter match the raw bytes",
        docs="decoded with its declared charset"),
    # credentials in the URL
    Row("auth-basic-url", UP, UP, UP, auth="right"),
    Row("auth-basic-url-wrong", "status", "status", DOWN, auth="wrong"),
    # framing
    Row("short-cl-one-write", UP, UP, UP),
    Row("short-cl-split", UP, UP, UP),
    Row("stray-204-one-write", UP, UP, UP),
    Row("stray-204-split", UP, UP, UP),
    Row("obs-fold", UP, UP, UP, headers=(("X-Folded", "^first part +second part$"),)),
    Row("bare-lf", UP, UP, UP),
    Row("chunk-size-space", UP, UP, UP),
    Row("chunked", UP, UP, UP, body="hello chunked zoo"),
    Row("chunk-extension", UP, UP, UP),
    Row("chunked-trailer", UP, UP, UP),
    Row("chunked-truncated", "reset", "exit 18", DOWN),
    Row("cl-truncated", "reset", "exit 18", DOWN),
    Row("cl-conflict", "protocol", UP, DOWN,
        why="two different Content-Length values: curl 7.88 reads one of them; Go (blackbox_exporter) "
            "and slamon refuse the response (RFC 9112 6.3: unrecoverable framing error)"),
    Row("cl-duplicate-same", UP, UP, UP),
    Row("cl-list-same", "protocol", UP, DOWN,
        why="'Content-Length: 2, 2': curl reads 2; Go and slamon refuse the value (RFC 9110 8.6 "
            "allows either)"),
    Row("cl-invalid", "protocol", "exit 8", DOWN),
    Row("chunked-and-cl", UP, UP, UP),
    Row("http10-close", UP, UP, UP, body="hello from 1.0"),
    Row("http10-keepalive", UP, UP, UP),
    Row("close-delimited", UP, UP, UP, body="hello until the end"),
    Row("keepalive-open", UP, UP, UP),
    # 1xx before the final answer
    Row("info-100", UP, UP, UP),
    Row("info-103", UP, UP, UP),
    Row("info-100-103-one-write", UP, UP, UP),
    # compression (blackbox_exporter decodes only with `compression:` set, as here)
    Row("gzip", UP, UP, UP, body="hello compressed zoo", encoding="gzip"),
    Row("gzip-chunked", UP, UP, UP, body="hello compressed zoo", encoding="gzip"),
    Row("gzip-multi-member", UP, "exit 23", UP, body="first member, second member", encoding="gzip",
        why="curl 7.88 stops at the second gzip member with a write error; Go and slamon read "
            "every member (RFC 1952 2.2)"),
    Row("gzip-truncated", "protocol", UP, DOWN, encoding="gzip", why="curl 7.88 accepts a gzip stream cut short when the HTTP framing is complete; Go "
            "(unexpected EOF) and slamon do not"),
    Row("gzip-corrupt", "protocol", "exit 61", DOWN, encoding="gzip"),
    Row("gzip-empty-body", UP, UP, DOWN, encoding="gzip",
        why="an empty body labelled gzip: Go's gzip reader fails on it (EOF); curl and slamon read "
            "an empty body"),
    Row("deflate-zlib", UP, UP, DOWN, body="hello compressed zoo", encoding="deflate",
        why="blackbox_exporter's `compression: deflate` reads raw deflate only; the zlib wrapping "
            "is what RFC 9110 8.4.1.2 calls deflate, and curl and slamon read it"),
    Row("deflate-raw", UP, UP, UP, body="hello compressed zoo", encoding="deflate"),
    Row("encoding-unknown", UP, "exit 61", UP, body="hello plain zoo",
        why="an unknown Content-Encoding: curl refuses to pass it on (exit 61); Go and slamon "
            "check the bytes as they are"),
    Row("encoding-identity", UP, UP, UP, body="hello plain zoo"),
    # redirects
    Row("redirect-301", UP, UP, UP),
    Row("redirect-302", UP, UP, UP),
    Row("redirect-303", UP, UP, UP),
    Row("redirect-307", UP, UP, UP),
    Row("redirect-308", UP, UP, UP),
    Row("redirect-relative", UP, UP, UP, path="/redirect-relative/start"),
    Row("redirect-dot-segments", UP, UP, UP, path="/redirect-dot-segments/a/b"),
    Row("redirect-scheme-relative", UP, UP, UP),
    Row("redirect-other-port", UP, UP, UP),
    Row("redirect-to-https", UP, UP, UP),
    Row("redirect-to-expired-tls", "tls", "exit 60", DOWN),
    Row("redirect-fragment", UP, UP, UP),
    Row("redirect-space-in-location", UP, UP, UP),
    Row("redirect-query-only", UP, UP, UP),
    Row("redirect-cookie-other-port", UP, UP, UP),
    Row("redirect-loop", "redirects", "exit 47", UP, why=_REDIRECT_CAP),
    Row("redirects-9", UP, UP, UP),
    Row("redirects-10", UP, UP, UP),
    Row("redirects-11", "redirects", "exit 47", UP, why=_REDIRECT_CAP),
    Row("redirect-no-location", UP, UP, UP),
    Row("redirect-non-ascii", UP, UP, UP),
    Row("redirect-latin1-location", UP, UP, UP),
    Row("redirect-cookie", UP, UP, UP),
    # header section size (slamon's cap: 64 KiB; curl's 300 KiB, 100 KiB a line; Go's 10 MiB)
    Row("headers-60k", UP, UP, UP),
    Row("headers-70k", "protocol", UP, UP, docs="64 KiB",
        why=_HEADER_CAP),
    Row("header-value-90k", "protocol", UP, UP, docs="64 KiB",
        why=_HEADER_CAP),
    Row("headers-endless", "protocol", "exit 56", DOWN),
    Row("header-value-endless", "protocol", "exit 27", DOWN),
    # body size and time
    Row("body-endless", "body_too_large", "exit 28", DOWN),
    Row("body-over-cap", "body_too_large", UP, UP, docs="larger than the read cap",
        why="2 MiB announced: slamon stops at its read cap (1 MiB); the references read it all"),
    Row("slow-headers", "timeout", "exit 28", DOWN, timeout=T),
    Row("slow-body", "timeout", "exit 28", DOWN, timeout=T),
    Row("dribble", UP, UP, UP),
    Row("hang", "timeout", "exit 28", DOWN, timeout=T),
    Row("close-no-answer", "reset", "exit 52", DOWN),
    Row("garbage", "protocol", "exit 1", DOWN),
    Row("reset", "reset", "exit 56", DOWN),
    # TLS and IPv6
    Row("tls-good", UP, UP, UP, listener="good", path="/ok"),
    Row("tls-expired", "tls", "exit 60", DOWN, listener="expired", path="/ok"),
    Row("tls-expiring", UP, UP, UP, listener="expiring", path="/ok"),
    Row("tls-wrong-host", "tls", "exit 60", DOWN, listener="wrong_host", path="/ok"),
    Row("tls-self-signed", "tls", "exit 60", DOWN, listener="self_signed", path="/ok"),
    Row("tls-self-signed-no-verify", UP, UP, UP, listener="self_signed", path="/ok", verify=False),
    Row("tls-expired-no-verify", UP, UP, UP, listener="expired", path="/ok", verify=False),
    Row("ipv6", UP, UP, UP, listener="ipv6", path="/ok"),
    Row("ipv6-redirect", UP, UP, UP, listener="ipv6", path="/redirect-302"),
)
# fmt: on
ROWS = {row.name: row for row in TABLE}


def _words(text: str) -> str:
    return " ".join(text.lower().split())


def _differs_from_both(row: Row) -> bool:
    slamon_up = row.slamon == UP
    return slamon_up != (row.curl == UP) and slamon_up != (row.blackbox == UP)


# --------------------------------------------------------------------------- references


def curl_verdict(curl: str, row: Row, zoo: Zoo, ca_file: Path) -> tuple[str, str]:
    """Run curl as an operator would check the URL by hand, with the row's expectations:
    (the verdict, curl's error message for people)."""
    with tempfile.NamedTemporaryFile(prefix="zoo-curl-") as out:
        write_out = "".join(["%{http_code}"] + [f"\\n%header{{{name}}}" for name, _ in row.headers])
        cmd = [curl, "--silent", "--show-error", "--globoff", "--output", out.name, "--write-out", write_out,
               "--max-time", f"{row.timeout:g}", "--location", "--max-redirs", "10",
               "--compressed", "--cookie", "", "--cacert", str(ca_file)]  # fmt: skip
        if not row.verify:
            cmd.append("--insecure")
        cmd.append(row.url(zoo))
        done = subprocess.run(cmd, capture_output=True, encoding="utf-8", errors="replace",
                              timeout=row.timeout + 10)  # fmt: skip
        if done.returncode != 0:
            return f"exit {done.returncode}", done.stderr
        status, *values = done.stdout.split("\n")
        if int(status or 0) not in row.statuses:
            return "status", f"status {status}"
        for (name, pattern), value in zip(row.headers, values, strict=True):
            if not re.search(pattern, value):
                return "header", f"header {name}: {value!r} does not match {pattern!r}"
        text = Path(out.name).read_bytes().decode("utf-8", "replace")
    if row.body is not None and not re.search(row.body, text):
        return "body", f"body does not match {row.body!r}"
    if row.body_not is not None and re.search(row.body_not, text):
        return "body", f"body matches {row.body_not!r}"
    return UP, ""


def blackbox_config(rows: tuple[Row, ...], ca_file: Path) -> str:
    """One blackbox_exporter module per row (JSON is YAML: no quoting to get wrong)."""
    modules = {}
    for row in rows:
        http: dict = {
            "valid_status_codes": list(row.statuses),
            "follow_redirects": True,
            "preferred_ip_protocol": "ip6" if row.listener == "ipv6" else "ip4",
            "ip_protocol_fallback": False,
            "tls_config": {"ca_file": str(ca_file), "insecure_skip_verify": not row.verify},
        }
        if row.encoding:
            http["compression"] = row.encoding
        if row.headers:
            http["fail_if_header_not_matches"] = [
                {"header": name, "regexp": pattern} for name, pattern in row.headers
            ]
        if row.body is not None:
            http["fail_if_body_not_matches_regexp"] = [row.body]
        if row.body_not is not None:
            http["fail_if_body_matches_regexp"] = [row.body_not]
        modules[row.name] = {"prober": "http", "timeout": f"{row.timeout:g}s", "http": http}
    return json.dumps({"modules": modules}, indent=1)


class Blackbox:
    """prometheus-blackbox-exporter on 127.0.0.1 with one module per row."""

    def __init__(self, binary: str, config: Path) -> None:
        self.binary = binary
        self.config = config
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def start(self) -> Blackbox:
        for _attempt in range(3):  # the free port may be taken between probe and bind
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
            self.proc = subprocess.Popen(
                [self.binary, f"--config.file={self.config}",
                 f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                        return self
                except OSError:
                    time.sleep(0.05)
            self.stop()
        raise RuntimeError("prometheus-blackbox-exporter did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.proc = None

    def probe(self, row: Row, zoo: Zoo) -> tuple[str, str]:
        """("up" or "down", the exporter's debug log for people)."""
        query = urllib.parse.urlencode(
            {"module": row.name, "target": row.url(zoo), "debug": "true"}
        )
        url = f"http://127.0.0.1:{self.port}/probe?{query}"
        with urllib.request.urlopen(url, timeout=row.timeout + 10) as resp:
            text = resp.read().decode("utf-8", "replace")
        verdict = UP if re.search(r"^probe_success 1$", text, re.M) else DOWN
        return verdict, text.split("Metrics that would have been returned")[0]  # the log lines


@dataclass
class Observed:
    """Per row and reference: (verdict, what the reference said, for people)."""

    curl: dict[str, tuple[str, str]]
    blackbox: dict[str, tuple[str, str]]


def _outcome(future: concurrent.futures.Future) -> tuple[str, str]:
    try:
        return future.result()
    except Exception as exc:  # one reference run failing fails its row, not the module
        return f"error: {type(exc).__name__}", str(exc)


def observe_references(zoo: Zoo, ca_file: Path, curl: str, blackbox: Blackbox) -> Observed:
    with concurrent.futures.ThreadPoolExecutor(REFERENCE_WORKERS) as pool:
        # the slow rows first, so they overlap with the many quick ones
        rows = sorted(TABLE, key=lambda r: r.timeout != T)
        if zoo.ipv6_missing:
            rows = [row for row in rows if not row.needs_ipv6]
        curls = {row.name: pool.submit(curl_verdict, curl, row, zoo, ca_file) for row in rows}
        boxes = {row.name: pool.submit(blackbox.probe, row, zoo) for row in rows}
        return Observed(
            {name: _outcome(f) for name, f in curls.items()},
            {name: _outcome(f) for name, f in boxes.items()},
        )


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def zoo(pki: TestPKI) -> Iterator[Zoo]:
    with Zoo(pki) as z:
        yield z
    assert not z.errors, z.errors


@pytest.fixture(scope="module")
def observed(zoo: Zoo, pki: TestPKI, tmp_path_factory: pytest.TempPathFactory) -> Observed:
    curl = require_binary("curl")
    binary = require_binary("prometheus-blackbox-exporter", BLACKBOX_BINARY)
    config = tmp_path_factory.mktemp("blackbox") / "blackbox.yml"
    config.write_text(blackbox_config(TABLE, pki.ca_file))
    exporter = Blackbox(binary, config).start()
    try:
        return observe_references(zoo, pki.ca_file, curl, exporter)
    finally:
        exporter.stop()


@pytest_asyncio.fixture
async def ctx():
    c = ProbeContext.create(env={"ZOO_PASSWORD": AUTH_PASSWORD, "ZOO_WRONG": "wrong-password"})
    yield c
    await c.close()


def slamon_probe(row: Row, zoo: Zoo, ca_file: Path):
    password = {"right": "${env:ZOO_PASSWORD}", "wrong": "${env:ZOO_WRONG}", "": None}[row.auth]
    expect: dict = {}
    if row.status is not None:
        expect["status"] = list(row.status)
    if row.body is not None:
        expect["body"] = row.body
    if row.body_not is not None:
        expect["body_not"] = row.body_not
    if row.headers:
        expect["headers"] = dict(row.headers)
    return make_probe(
        kind="http", url=row.url(zoo, password), timeout=f"{row.timeout:g}s", expect=expect,
        tls_verify=row.verify, ca_file=str(ca_file), max_redirects=10,
    )  # fmt: skip


def _params(pending_marks: bool):
    for row in TABLE:
        marks = []
        if pending_marks and row.pending_engine_fix:
            marks.append(
                pytest.mark.xfail(strict=True, reason=f"probe defect, pending a fix: {row.defect}")
            )
        yield pytest.param(row, id=row.name, marks=marks)


# --------------------------------------------------------------------------- tests


def test_every_endpoint_has_a_row_and_the_zoo_is_large_enough():
    routes = {(row.path or f"/{row.name}").split("/")[1] for row in TABLE}
    assert routes <= set(ENDPOINTS), routes - set(ENDPOINTS)
    assert set(ENDPOINTS) - routes == HELPER_ENDPOINTS
    assert len(TABLE) >= 60
    assert len(ROWS) == len(TABLE), "row names must be unique"
    for row in TABLE:
        verdicts = {row.slamon == UP, row.curl == UP, row.blackbox == UP}
        assert len(verdicts) == 1 or row.why, f"{row.name}: the clients disagree; say why"
        assert row.pending_engine_fix == bool(row.defect), f"{row.name}: name the defect"
        assert row.listener != "ipv6" or row.needs_ipv6, f"{row.name}: put ipv6 in the name"
    listed = set(re.findall(r"`([a-z0-9-]+)`", DIFFERENTIAL_MD.read_text()))
    explained = {row.name for row in TABLE if row.why or row.pending_engine_fix}
    assert explained <= listed, f"docs/probes-differential.md does not list {explained - listed}"


@pytest.mark.parametrize("row", list(_params(pending_marks=False)))
def test_references(row: Row, zoo: Zoo, observed: Observed):
    if row.needs_ipv6 and zoo.ipv6_missing:
        missing(zoo.ipv6_missing)
    (curl, curl_said), (box, box_said) = observed.curl[row.name], observed.blackbox[row.name]
    assert (curl, box) == (row.curl, row.blackbox), (
        f"a reference changed its verdict on {row.name}: re-read the row's why\n"
        f"curl: {curl_said}\nblackbox_exporter:\n{box_said[-3000:]}"
    )


@pytest.mark.parametrize("row", list(_params(pending_marks=True)))
async def test_slamon(row: Row, zoo: Zoo, pki: TestPKI, ctx):
    if row.needs_ipv6 and zoo.ipv6_missing:
        missing(zoo.ipv6_missing)
    out = await run_probe(slamon_probe(row, zoo, pki.ca_file), ctx)
    verdict = UP if out.success else str(out.reason)
    assert verdict == row.slamon, f"{row.name}: {out.detail} (status {out.status_code})"
    if _differs_from_both(row):
        assert row.docs, (
            f"{row.name}: slamon differs from curl and blackbox_exporter; docs/probes.md must say why"
        )
        assert _words(row.docs) in _words(PROBES_MD.read_text()), (
            f"docs/probes.md lacks {row.docs!r}"
        )
