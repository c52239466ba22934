"""Where the daemon's alerts go: Alertmanagers and plain webhooks, each for some offices.

On the command line a target is a URL, optionally prefixed by the offices whose alerts
it takes: ``--alertmanager http://am:9093`` (every office) or
``--alertmanager unog,unov=http://am.geneva:9093``. Routing by owner group is left to
Alertmanager's routes on the ``owner`` label.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from slamon.core.model import OFFICE_ID_RE

Kind = Literal["alertmanager", "webhook"]
KINDS: tuple[Kind, ...] = ("alertmanager", "webhook")
FLAGS: dict[str, str] = {"alertmanager": "--alertmanager", "webhook": "--alert-webhook"}
ALERTMANAGER_API = "/api/v2/alerts"
_PREFIX_RE = re.compile(r"^([a-z0-9,\s]+)=(.*)$", re.S)


class AlertTargetError(ValueError):
    """A target given by the user is not usable; the message says which and why."""


@dataclass(frozen=True, slots=True)
class AlertTarget:
    url: str
    kind: Kind = "alertmanager"
    offices: frozenset[str] | None = None  # None: every office

    def accepts(self, office: str) -> bool:
        return self.offices is None or office in self.offices

    @property
    def post_url(self) -> str:
        """Where alerts are POSTed: Alertmanager's v2 API under its base URL."""
        if self.kind == "webhook" or self.url.rstrip("/").endswith(ALERTMANAGER_API):
            return self.url
        return self.url.rstrip("/") + ALERTMANAGER_API

    @property
    def name(self) -> str:
        """Safe to log and to use as a metric label: host and port only.

        Paths and credentials of webhook URLs often hold tokens, so they never appear.
        """
        parts = urlsplit(self.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return f"{parts.hostname}:{port}"


def parse_alert_target(value: str, kind: Kind = "alertmanager", known_offices: Iterable[str] | None = None) -> AlertTarget:
    if kind not in KINDS:
        raise AlertTargetError(f"unknown alert target kind {kind!r} (expected one of {', '.join(KINDS)})")
    flag = FLAGS[kind]
    raw = value.strip()
    offices: frozenset[str] | None = None
    m = _PREFIX_RE.match(raw)
    if m and "://" not in m.group(1):
        names = [n.strip() for n in m.group(1).split(",")]
        bad = [n for n in names if not OFFICE_ID_RE.match(n)]
        if bad or not names:
            raise AlertTargetError(
                f"{flag} {_shown(value)}: {', '.join(repr(b) for b in bad) or 'empty office'} "
                "is not an office id (expected e.g. unog=http://alertmanager:9093)"
            )
        if known_offices is not None:
            known = set(known_offices)
            unknown = sorted(set(names) - known)
            if unknown:
                raise AlertTargetError(
                    f"{flag} {_shown(value)}: unknown office {', '.join(unknown)} "
                    f"(offices: {', '.join(sorted(known))})"
                )
        offices = frozenset(names)
        raw = m.group(2).strip()
    _check_url(raw, flag, value)
    return AlertTarget(url=raw, kind=kind, offices=offices)


def parse_alert_targets(
    values: Iterable[str] | None,
    kind: Kind = "alertmanager",
    known_offices: Iterable[str] | None = None,
) -> list[AlertTarget]:
    """Targets from repeated ``--alertmanager`` / ``--alert-webhook`` values.

    Raises ``AlertTargetError`` naming the flag and the bad value (credentials hidden).
    """
    known = list(known_offices) if known_offices is not None else None
    return [parse_alert_target(v, kind, known) for v in values or ()]


def _check_url(url: str, flag: str, value: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise AlertTargetError(f"{flag} {_shown(value)}: not a URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise AlertTargetError(f"{flag} {_shown(value)}: the URL must start with http:// or https://")
    if not parts.hostname:
        raise AlertTargetError(f"{flag} {_shown(value)}: the URL has no host")
    if parts.fragment:
        raise AlertTargetError(f"{flag} {_shown(value)}: the URL must not have a #fragment")
    if any(c.isspace() for c in url):
        raise AlertTargetError(f"{flag} {_shown(value)}: the URL contains spaces")


def _shown(value: str) -> str:
    """The value as the user typed it, with any user:password@ hidden."""
    return repr(re.sub(r"(://)[^/@\s]*@", r"\1***@", value))
