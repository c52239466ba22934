"""Rules on one service file that the schema alone cannot express: secrets written in
clear, ``${...}`` references, and journey variables used before they are extracted.

They read the raw YAML data (not the validated model), so they run even when the file
has schema errors elsewhere, and every problem is reported in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from slamon.core.model import ENV_REF_RE, VAR_REF_RE, split_url
from slamon.loader.findings import Finding
from slamon.loader.yaml_nodes import DocPath

_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "apikey",
     "x-auth-token", "x-access-token", "private-token", "x-vault-token"}
)
_SECRET_WORDS = ("password", "passwd", "pwd", "secret", "token", "apikey", "privatekey", "credential")
_BODY_SECRET = re.compile(
    r"""(?ix)["']?([a-z_-]*(?:password|passwd|pwd|secret|token|api[_-]?key)[a-z_-]*)["']?
        \s*[:=]\s*["']?([^"'&\s,}]*)"""
)
_ANY_REF = re.compile(r"\$\{[^}]*\}?")

CLEAR_SECRET = (
    "secret written in clear; keep it in the environment of the daemon and write "
    "${env:NAME} here"
)


def _secret_name(name: str) -> bool:
    norm = re.sub(r"[-_.\s]", "", name.lower())
    return name.lower() in _SECRET_HEADERS or any(w in norm for w in _SECRET_WORDS)


def _is_reference(value: str) -> bool:
    return bool(ENV_REF_RE.search(value) or VAR_REF_RE.search(value))


def _literal(value: Any) -> bool:
    """A value written in clear: not empty and not a ${...} reference."""
    if isinstance(value, bool) or value is None:
        return False
    text = str(value)
    # an attempted but malformed ${...} is reported as such (E214), not as a clear secret
    return bool(text.strip()) and not _is_reference(text) and "${" not in text


def _requests(probe: dict[str, Any], base: DocPath) -> Iterator[tuple[DocPath, dict[str, Any]]]:
    """The HTTP requests a probe makes: itself (http) or each journey step."""
    if probe.get("kind") == "journey" and isinstance(probe.get("steps"), list):
        for j, step in enumerate(probe["steps"]):
            if isinstance(step, dict):
                yield (*base, "steps", j), step
    elif probe.get("kind") == "http":
        yield base, probe


def _secrets(file: str, where: DocPath, req: dict[str, Any]) -> Iterator[Finding]:
    headers = req.get("headers")
    if isinstance(headers, dict):
        for name, value in headers.items():
            if _secret_name(name) and _literal(value):
                yield Finding(file, (*where, "headers", name), "E212", CLEAR_SECRET, "a literal value")
    form = req.get("form")
    if isinstance(form, dict):
        for name, value in form.items():
            if _secret_name(name) and _literal(value):
                yield Finding(file, (*where, "form", name), "E212", CLEAR_SECRET, "a literal value")
    body = req.get("body")
    if isinstance(body, str):
        for m in _BODY_SECRET.finditer(body):
            if m.group(2) and not m.group(2).startswith("${"):
                yield Finding(
                    file, (*where, "body"), "E212", f"{CLEAR_SECRET} (field {m.group(1)!r})", "a literal value"
                )
    url = req.get("url")
    if isinstance(url, str) and ("@" in url or "?" in url):  # else no password and no query
        try:
            parts = split_url(url)
            password = parts.password
        except ValueError:
            return
        if password and not _is_reference(password):
            yield Finding(
                file, (*where, "url"), "E212",
                "password written in clear in the URL; write https://user:${env:NAME}@host/...",
                "a password in the URL",
            )
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if _secret_name(name) and _literal(value):
                yield Finding(
                    file, (*where, "url"), "E212", f"{CLEAR_SECRET} (query parameter {name!r})", "a literal value"
                )


def _option_secrets(file: str, probe: dict[str, Any], base: DocPath) -> Iterator[Finding]:
    """Passwords of the connection options: proxy, basic_auth, client_key_password."""
    auth = probe.get("basic_auth")
    places: list[tuple[DocPath, Any]] = [
        ((*base, "proxy"), probe.get("proxy")),
        ((*base, "client_key_password"), probe.get("client_key_password")),
    ]
    if isinstance(auth, dict):
        places += [((*base, "basic_auth", k), auth.get(k)) for k in ("username", "password")]
    for path, text in places:
        if isinstance(text, str) and "${" in ENV_REF_RE.sub("", text):
            yield Finding(
                file, path, "E214",
                "malformed reference; connection options take ${env:NAME} references only",
                "a malformed ${...}",
            )
    if isinstance(auth, dict) and _literal(auth.get("password")):
        yield Finding(
            file, (*base, "basic_auth", "password"), "E212",
            "password written in clear; write password: ${env:NAME}", "a literal value",
        )
    if _literal(probe.get("client_key_password")):
        yield Finding(
            file, (*base, "client_key_password"), "E212",
            "key password written in clear; write client_key_password: ${env:NAME}", "a literal value",
        )
    proxy = probe.get("proxy")
    if isinstance(proxy, str) and "@" in proxy:
        try:
            password = split_url(proxy).password
        except ValueError:
            return
        if password and not _is_reference(password):
            yield Finding(
                file, (*base, "proxy"), "E212",
                "proxy password written in clear; write http://user:${env:NAME}@proxy:port",
                "a password in the proxy URL",
            )


def _dialogue(file: str, probe: dict[str, Any], base: DocPath) -> Iterator[Finding]:
    """A tcp dialogue: ``send`` takes ``${env:NAME}`` only (no journey variables), and a
    starttls key password is a reference, never the password."""
    steps = probe.get("dialogue")
    if not isinstance(steps, list):
        return
    for j, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        where: DocPath = (*base, "dialogue", j)
        send = step.get("send")
        if isinstance(send, str) and "${" in send:
            if "${" in ENV_REF_RE.sub("", send):
                yield Finding(
                    file, (*where, "send"), "E214",
                    "malformed reference; a dialogue sends ${env:NAME} secrets only", "a malformed ${...}",
                )
        tls = step.get("starttls")
        if isinstance(tls, dict) and "client_key_password" in tls:
            text = tls["client_key_password"]
            path = (*where, "starttls", "client_key_password")
            if isinstance(text, str) and "${" in ENV_REF_RE.sub("", text):
                yield Finding(
                    file, path, "E214",
                    "malformed reference; connection options take ${env:NAME} references only",
                    "a malformed ${...}",
                )
            elif _literal(text):
                yield Finding(
                    file, path, "E212",
                    "key password written in clear; write client_key_password: ${env:NAME}", "a literal value",
                )


def _strings(req: dict[str, Any], where: DocPath) -> Iterator[tuple[DocPath, str]]:
    if isinstance(req.get("url"), str):
        yield (*where, "url"), req["url"]
    if isinstance(req.get("body"), str):
        yield (*where, "body"), req["body"]
    for field in ("headers", "form"):
        mapping = req.get(field)
        if isinstance(mapping, dict):
            for name, value in mapping.items():
                if isinstance(value, str):
                    yield (*where, field, name), value


def _references(file: str, probe: dict[str, Any], base: DocPath) -> Iterator[Finding]:
    journey = probe.get("kind") == "journey"
    extracted: dict[str, int] = {}  # variable -> index of the step that extracts it
    if journey and isinstance(probe.get("steps"), list):
        for j, step in enumerate(probe["steps"]):
            extract = step.get("extract") if isinstance(step, dict) else None
            if isinstance(extract, dict):
                for name in extract:
                    extracted.setdefault(str(name), j)
    for where, req in _requests(probe, base):
        step_index = where[-1] if journey else None
        for path, text in _strings(req, where):
            if "${" not in text:  # no reference, so nothing below can apply
                continue
            leftover = VAR_REF_RE.sub("", ENV_REF_RE.sub("", text))
            if "${" in leftover:
                yield Finding(
                    file, path, "E214",
                    "malformed reference; write ${env:NAME} for a secret or ${variable} for a value a journey extracted",
                    "a malformed ${...}" if _secret_path(path) else repr(_ANY_REF.search(leftover).group(0)),
                )
            for m in VAR_REF_RE.finditer(text):
                name = m.group(1)
                if not journey:
                    yield Finding(
                        file, path, "E213",
                        f"${{{name}}} is a journey variable, but only journey steps extract variables; "
                        "for a secret write ${env:NAME}",
                    )
                elif name not in extracted:
                    yield Finding(file, path, "E213", f"${{{name}}} is not extracted by any step of this journey")
                elif isinstance(step_index, int) and extracted[name] >= step_index:
                    yield Finding(
                        file, path, "E213",
                        f"${{{name}}} is used before it is extracted (by step {extracted[name] + 1}); "
                        "a step can use only what earlier steps extract",
                    )


def _secret_path(path: DocPath) -> bool:
    return any(p in ("headers", "form", "body") for p in path)


def check_service_data(file: str, data: dict[str, Any]) -> list[Finding]:
    """Secrets in clear, malformed references, journey variables out of order."""
    out: list[Finding] = []
    probes = data.get("probes")
    if not isinstance(probes, list):
        return out
    for i, probe in enumerate(probes):
        if not isinstance(probe, dict):
            continue
        if "basic_auth" in probe or "client_key_password" in probe or "proxy" in probe:
            out.extend(_option_secrets(file, probe, ("probes", i)))
        if "dialogue" in probe:
            out.extend(_dialogue(file, probe, ("probes", i)))
        if probe.get("kind") == "http" and "headers" not in probe and "form" not in probe and "body" not in probe:
            url = probe.get("url")
            if not isinstance(url, str) or ("@" not in url and "?" not in url and "${" not in url):
                continue  # nothing below can apply: no secret place, no password, no query, no reference
        base: DocPath = ("probes", i)
        for where, req in _requests(probe, base):
            out.extend(_secrets(file, where, req))
        out.extend(_references(file, probe, base))
    return out
