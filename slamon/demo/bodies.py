"""Response bodies that satisfy a probe's expectations (``expect.body``, ``extract``).

The catalogue's patterns are plain fragments with a few regular-expression
decorations (anchors, ``\\s*``, escapes); a fragment is made from each and checked
against the pattern, so a pattern this cannot satisfy fails loudly at start-up.
"""

from __future__ import annotations

import re

_GROUP = re.compile(r"\((?!\?)(?:\\.|\[[^\]]*\]|[^()\\])*\)")
_CLASS_DIGIT = re.compile(r"\[1-9\]|\[0-9\]|\\d\+?")


def fragment(pattern: str) -> str:
    """A text matching ``pattern`` for the simple patterns catalogues use."""
    text = pattern.removeprefix("^").removesuffix("$")
    text = re.sub(r"\\s[*+]", " ", text)
    text = _CLASS_DIGIT.sub("1", text)
    text = re.sub(r"\\(.)", r"\1", text)
    if not re.search(pattern, text):
        raise ValueError(f"the demo cannot make a body matching {pattern!r}")
    return text


def with_token(pattern: str, token: str) -> str:
    """A text in which ``pattern``'s first group captures ``token``."""
    marker = "\x00"
    text = fragment(_GROUP.sub(marker, pattern, count=1).replace(marker, "TOKEN"))
    text = text.replace("TOKEN", token)
    m = re.search(pattern, text)
    if not m or (m.groups() and m.group(1) != token):
        raise ValueError(f"the demo cannot make a body whose {pattern!r} captures a token")
    return text


def body_for(required: list[str], forbidden: list[str], tokens: dict[str, str] | None = None) -> str:
    """A body matching every ``required`` pattern and none of ``forbidden``.

    ``tokens`` maps extract patterns to the token each must capture. A required
    pattern anchored at the start comes first."""
    parts: list[str] = []
    for pattern in required:
        text = fragment(pattern)
        if pattern.startswith("^"):
            parts.insert(0, text)
        else:
            parts.append(text)
    for pattern, token in (tokens or {}).items():
        parts.append(with_token(pattern, token))
    if not parts:
        parts.append('{"status": "up"}')
    body = "\n".join(parts)
    for pattern in forbidden:
        if re.search(pattern, body):
            raise ValueError(f"the demo body {body!r} matches the forbidden {pattern!r}")
    return body
