"""``${env:NAME}`` secrets and journey ``${name}`` variables, resolved at probe time.

A probe resolves its references through one ``Secrets`` per run. It remembers every
secret value it handed out, so whatever text leaves the probe (the outcome's detail,
an exception message) is passed through ``mask()`` first and never shows a value.
Variable names are fine to show; values never are.

A secret can travel in another form than the one written: a URL library
percent-encodes it (each part of a URL with its own safe characters, ``+`` or ``%20``
for a space, upper- or lower-case hex), a host name becomes IDNA (``xn--...``), a
password goes out inside a base64 ``Basic`` token. ``mask()`` hides every such form:

- the forms are computed once per value (``encoded_forms``): the raw text,
  ``urllib.parse.quote``/``quote_plus`` with each safe set a URL part uses, what
  ``yarl`` (the URL library of both HTTP clients) makes of it in a path, a query, a
  fragment and the user information (and that decoded again), the IDNA form of a
  host; percent escapes in a text are compared in one case (``%c3`` is ``%C3``);
- values derived from a secret (a ``Basic`` token) are added with ``add()``;
- a base64 or IDNA token in the text that decodes to something holding a secret is
  masked whole, whoever built it.

Substitution is a single pass: a value that itself contains ``${...}`` (say, a token a
server sent back) is inserted as is and never resolved again, so a target cannot make
the probe read the environment.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Mapping
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import idna
import yarl

REF_RE = re.compile(r"\$\{(env:)?([A-Za-z_][A-Za-z0-9_]*)\}")
MASK = "***"
MIN_DECODED_TOKEN = 8  # shorter base64 runs are ordinary words, not worth decoding
MIN_DECODED_SECRET = 3  # shorter secrets turn up by chance in any decoded garbage

# the safe characters each URL part keeps as they are (RFC 3986 and what clients use)
_SAFE_SETS = ("", "/", ":@", "/:@", "/:@!$&'()*+,;=", "/?:@!$&'()*+,;=", "~")
_MARK = "QzSLAMONz"  # unreserved letters: no URL library changes them
_MARKED = re.compile(re.escape(_MARK) + "(.*?)" + re.escape(_MARK), re.DOTALL)
_ANY_PERCENT = re.compile(r"%[0-9a-f][0-9A-Fa-f]|%[0-9A-F][a-f]")
_B64_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{" + str(MIN_DECODED_TOKEN) + r",}={0,2}")
_IDNA_LABEL = re.compile(r"xn--[A-Za-z0-9-]+", re.IGNORECASE)


class MissingSecret(Exception):
    """An ``${env:NAME}`` reference whose variable is not set (the message names it)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"environment variable {name} is not set")
        self.name = name


class MissingVariable(Exception):
    """A ``${name}`` reference that no earlier journey step extracted."""

    def __init__(self, name: str) -> None:
        super().__init__(f"variable {name} is not defined by an earlier step")
        self.name = name


def _yarl_forms(value: str) -> list[str]:
    """What yarl makes of ``value`` in each part of a URL (between two markers)."""
    out: list[str] = []
    built = (
        lambda: str(yarl.URL(f"http://h/{_MARK}{value}{_MARK}")),
        lambda: str(yarl.URL(f"http://h/?k={_MARK}{value}{_MARK}")),
        lambda: str(yarl.URL(f"http://h/#{_MARK}{value}{_MARK}")),
        lambda: str(yarl.URL(f"http://u:{_MARK}{value}{_MARK}@h/")),
        lambda: str(yarl.URL("http://h/").with_query({"k": f"{_MARK}{value}{_MARK}"})),
        lambda: str(yarl.URL.build(scheme="http", host="h", path=f"/{_MARK}{value}{_MARK}")),
        lambda: str(yarl.URL.build(scheme="http", user=f"{_MARK}{value}{_MARK}", host="h")),
        lambda: str(yarl.URL.build(scheme="http", user="u", password=f"{_MARK}{value}{_MARK}", host="h")),
    )
    for build in built:
        try:
            text = build()
        except (ValueError, TypeError, UnicodeError):
            continue
        m = _MARKED.search(text)
        if m is not None:
            out.append(m.group(1))
    return out


def _host_forms(value: str) -> list[str]:
    """The IDNA (punycode) forms of ``value`` as a host name or a part of one."""
    out: list[str] = []
    for encode in (
        lambda: idna.encode(value, uts46=True).decode("ascii"),
        lambda: value.encode("idna").decode("ascii"),
        lambda: yarl.URL.build(scheme="http", host=value).raw_host or "",
    ):
        try:
            out.append(encode())
        except (ValueError, TypeError, UnicodeError, idna.IDNAError):
            continue
    return out


@functools.lru_cache(maxsize=256)
def encoded_forms(value: str) -> tuple[str, ...]:
    """Every text form ``value`` can take on its way through a URL, longest first."""
    forms = {value}
    for safe in _SAFE_SETS:
        forms.add(quote(value, safe=safe))
        forms.add(quote_plus(value, safe=safe))
    for form in _yarl_forms(value):  # as sent, and decoded again (yarl turns %41 into A)
        forms.update((form, unquote(form), unquote_plus(form)))
    forms.update(_host_forms(value))
    forms.discard("")
    return tuple(sorted(forms, key=len, reverse=True))


def _decoded_texts(token: str) -> list[str]:
    """What a base64 or IDNA token in a message may stand for."""
    out: list[str] = []
    if _IDNA_LABEL.fullmatch(token) or "xn--" in token.lower():
        try:
            out.append(idna.decode(token))
        except (idna.IDNAError, UnicodeError, ValueError):
            pass
    # a run of base64 letters may start before the token or go on after it (``x/<token>``,
    # ``<token>/more``): decode from each of the four alignments, standard and URL-safe
    bare = token.rstrip("=")
    for alphabet in (bare, bare.replace("-", "+").replace("_", "/")):
        for offset in range(4):
            part = alphabet[offset:]
            if len(part) % 4 == 1:
                part = part[:-1]
            try:
                raw = base64.b64decode(part + "=" * (-len(part) % 4), validate=True)
            except (binascii.Error, ValueError):
                continue
            out.append(raw.decode("utf-8", "replace"))
            out.append(raw.decode("latin-1"))
    return out


class Secrets:
    """Resolves references for one probe run and masks the values it resolved."""

    __slots__ = ("_env", "_raw", "_values")

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self._raw: list[str] = []  # the values themselves (for decoded tokens)
        self._values: list[str] = []  # every form to mask, longest first

    def resolve(self, text: str, variables: Mapping[str, str] | None = None) -> str:
        """Replace ``${env:NAME}`` (and, given ``variables``, ``${name}``) in ``text``.

        Without ``variables`` a plain ``${name}`` is left as written (an http probe has
        no variables). Raises ``MissingSecret`` / ``MissingVariable``.
        """
        if "${" not in text:  # the common case costs one scan
            return text

        def substitute(m: re.Match[str]) -> str:
            name = m.group(2)
            if m.group(1):
                value = self._env.get(name)
                if value is None:
                    raise MissingSecret(name)
                if value and value not in self._raw:
                    self.add(value)
                return value
            if variables is None:
                return m.group(0)
            if name not in variables:
                raise MissingVariable(name)
            return variables[name]

        return REF_RE.sub(substitute, text)

    def add(self, value: str) -> None:
        """Mask ``value`` (and its encoded forms) from now on: a secret, or a value
        made from one such as a ``Basic`` token."""
        if not value or value in self._raw:
            return
        self._raw.append(value)
        values = set(self._values)
        values.update(encoded_forms(value))
        self._values = sorted(values, key=len, reverse=True)

    def mask(self, text: str) -> str:
        """``text`` with every secret value resolved so far replaced by ``***``."""
        if not self._values or not text:
            return text
        if "%" in text:  # one case for percent escapes (equivalent, RFC 3986 2.1)
            text = _ANY_PERCENT.sub(lambda m: m.group(0).upper(), text)
        # longest first, so a secret that contains another is masked whole
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        if _B64_TOKEN.search(text) or "xn--" in text.lower():
            text = _B64_TOKEN.sub(self._mask_token, text)
            text = _IDNA_LABEL.sub(self._mask_token, text)
        return text

    def _mask_token(self, m: re.Match[str]) -> str:
        token = m.group(0)
        raws = [raw for raw in self._raw if len(raw) >= MIN_DECODED_SECRET]
        if not raws:
            return token
        for decoded in _decoded_texts(token):
            low = decoded.lower()
            if any(raw in decoded or raw.lower() in low for raw in raws):
                return MASK
        return token

    def __repr__(self) -> str:  # never the values
        return "Secrets(...)"
