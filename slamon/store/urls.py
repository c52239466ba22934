"""Database URLs as they may be shown to a person: never with the password.

``mask_url`` works on URLs SQLAlchemy cannot parse too (a bad port, a stray
character), because those are exactly the ones an error message repeats.
"""

from __future__ import annotations

import re

from sqlalchemy.engine import make_url

# "scheme://user:" then everything up to the LAST "@" (a password may hold "@" or "/")
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)(?P<password>.*)@", re.DOTALL)


def mask_url(url: str) -> str:
    """``url`` as written, with everything between ``user:`` and the last ``@`` masked.

    Done on the text, not on a parse: an unencoded ``@`` or ``/`` in a password makes
    a parser split the URL elsewhere and show the password's tail as a host."""
    return _USERINFO.sub(lambda m: f"{m['head']}***@", url)


def password_of(url: str) -> str | None:
    """The password in ``url`` (parsable or not), to scrub it from driver messages."""
    m = _USERINFO.search(url)
    raw = m["password"] if m else None
    try:
        parsed = make_url(url).password
    except Exception:
        parsed = None
    return str(parsed) if parsed else raw


def scrub(text: str, url: str) -> str:
    """``text`` (an error message about ``url``) with the URL's password masked."""
    m = _USERINFO.search(url)
    secrets = {password_of(url), m["password"] if m else None}
    for secret in sorted((x for x in secrets if x), key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, "***")
    return text
