"""``${env:NAME}`` secrets and journey ``${name}`` variables, resolved at probe time.

A probe resolves its references through one ``Secrets`` per run. It remembers every
secret value it handed out, so whatever text leaves the probe (the outcome's detail,
an exception message) is passed through ``mask()`` first and never shows a value.
Variable names are fine to show; values never are.

Substitution is a single pass: a value that itself contains ``${...}`` (say, a token a
server sent back) is inserted as is and never resolved again, so a target cannot make
the probe read the environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote, quote_plus

REF_RE = re.compile(r"\$\{(env:)?([A-Za-z_][A-Za-z0-9_]*)\}")
MASK = "***"


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


class Secrets:
    """Resolves references for one probe run and masks the values it resolved."""

    __slots__ = ("_env", "_values")

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self._values: list[str] = []

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
                if value and value not in self._values:
                    self._remember(value)
                return value
            if variables is None:
                return m.group(0)
            if name not in variables:
                raise MissingVariable(name)
            return variables[name]

        return REF_RE.sub(substitute, text)

    def _remember(self, value: str) -> None:
        # also the forms a URL or a form body gives it, should a message quote those
        for form in (value, quote(value, safe=""), quote(value), quote_plus(value)):
            if form not in self._values:
                self._values.append(form)

    def mask(self, text: str) -> str:
        """``text`` with every secret value resolved so far replaced by ``***``."""
        if not self._values or not text:
            return text
        # longest first, so a secret that contains another is masked whole
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, MASK)
        return text

    def __repr__(self) -> str:  # never the values
        return "Secrets(...)"
