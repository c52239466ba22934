"""HTTP response checks shared by the http probe and journey steps.

``resp`` is an ``h1.Response`` (the client of http probes and journey steps), with
``.headers.getall()`` and ``.charset``.

The body is read up to the context's cap and never beyond (``h1.Response.read``): a
response that announces or sends more is a ``body_too_large`` failure, whatever its
size (an endless or 1 GB body costs at most ``max_body_bytes`` of memory and the time
to read it).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from slamon.core.model import HttpExpect
from slamon.core.results import Reason


class BodyTooLarge(Exception):
    def __init__(self, limit: int, announced: int | None = None) -> None:
        what = f"announces {announced} bytes" if announced is not None else "is longer"
        super().__init__(f"response body {what}, more than the {limit}-byte read cap")


@lru_cache(maxsize=4096)
def compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def body_text(resp: Any, body: bytes) -> str:
    """The body as text for regexes: the declared charset, else UTF-8; never guessed."""
    charset = resp.charset or "utf-8"
    try:
        return body.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        return body.decode("utf-8", errors="replace")


def status_accepted(expect: HttpExpect, status: int) -> bool:
    if expect.status is None:
        return 200 <= status < 400
    return status in expect.status


def describe_statuses(expect: HttpExpect) -> str:
    return "200-399" if expect.status is None else ", ".join(str(s) for s in expect.status)


def check_headers(expect: HttpExpect, resp: Any) -> tuple[Reason, str] | None:
    for name, pattern in expect.headers.items():
        values = resp.headers.getall(name, ())
        if not values:
            return Reason.header, f"header {name} missing"
        rx = compiled(pattern)
        if not any(rx.search(v) for v in values):
            return Reason.header, f"header {name} does not match {pattern!r}"
    return None


def check_body(expect: HttpExpect, text: str) -> tuple[Reason, str] | None:
    if expect.body is not None and not compiled(expect.body).search(text):
        return Reason.body, f"body does not match {expect.body!r}"
    if expect.body_not is not None and compiled(expect.body_not).search(text):
        return Reason.body, f"body matches {expect.body_not!r}, which it must not"
    return None


def needs_text(expect: HttpExpect) -> bool:
    return expect.body is not None or expect.body_not is not None
