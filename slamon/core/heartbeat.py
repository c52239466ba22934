"""Heartbeat (push) checks: whether a batch job's heartbeat is on time, as a result.

A job calls the daemon when it ran; the daemon records each probe's heartbeat state as
a result every ``interval`` (so heartbeats count per minute like any probe). The rules
(docs/probes.md, "heartbeat"):

- ``every: D``: the next heartbeat is due ``D`` after the last one (or after the daemon
  began watching the probe, when none arrived since); it is **missed** once ``grace``
  has passed after that.
- ``cron: EXPR`` (in the office's timezone): each occurrence ``t`` of the expression
  expects a heartbeat received at or after ``t - grace``; the latest occurrence whose
  ``t + grace`` has passed is **missed** when none came. Occurrences before the daemon
  began watching are not judged (it cannot know).
- Otherwise the last heartbeat decides: ``status=fail`` is a failure (``reported``,
  with the job's message), else a success.
- Before the first heartbeat and before the first deadline there is nothing to say:
  no result (unobserved time, never counted as up or down).

Pure: times are unix seconds passed in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from slamon.core.results import ProbeOutcome, Reason

MAX_MESSAGE_CHARS = 200


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a five-field cron expression, or None when it is one."""
    from croniter import croniter

    if len(expression.split()) != 5:
        return f"{len(expression.split())} fields, a cron expression has 5"
    try:
        croniter(expression)
    except (ValueError, KeyError) as exc:  # croniter's errors derive from ValueError
        return str(exc) or type(exc).__name__
    return None


def clean_message(text: str) -> str:
    """A job's message as it may be shown: printable, one line, at most 200 characters."""
    one_line = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return one_line[:MAX_MESSAGE_CHARS]


@dataclass(frozen=True, slots=True)
class Beat:
    """One heartbeat as received: when, whether the job said it succeeded, its message."""

    at: float
    ok: bool
    message: str = ""


def _iso(unix_seconds: float) -> str:
    return dt.datetime.fromtimestamp(unix_seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def latest_cron_deadline(expression: str, timezone: str, grace_seconds: float, now: float) -> float:
    """The latest occurrence ``t`` of ``expression`` (in ``timezone``) with ``t + grace <= now``."""
    from croniter import croniter

    start = dt.datetime.fromtimestamp(now - grace_seconds, ZoneInfo(timezone))
    # get_prev gives the latest occurrence strictly before start; an occurrence exactly at
    # start also counts (its grace ends exactly now)
    if croniter.match(expression, start) and start.second == 0 and start.microsecond == 0:
        return start.timestamp()
    return croniter(expression, start).get_prev(float)


def judge(
    *,
    every_seconds: float | None,
    cron: str | None,
    grace_seconds: float,
    timezone: str,
    watched_since: float,
    last: Beat | None,
    now: float,
) -> ProbeOutcome | None:
    """The heartbeat's state at ``now`` as an outcome, or None when nothing is known yet."""
    if every_seconds is not None:
        anchor = last.at if last is not None else watched_since
        due = anchor + every_seconds
        if now >= due + grace_seconds:
            since = f"since {_iso(last.at)}" if last is not None else f"since watching began at {_iso(watched_since)}"
            return ProbeOutcome(
                success=False,
                duration_seconds=0.0,
                reason=Reason.missed,
                detail=f"no heartbeat {since}; one was due by {_iso(due)} (grace {grace_seconds:g}s)",
            )
    elif cron is not None:
        occurrence = latest_cron_deadline(cron, timezone, grace_seconds, now)
        if occurrence >= watched_since and (last is None or last.at < occurrence - grace_seconds):
            return ProbeOutcome(
                success=False,
                duration_seconds=0.0,
                reason=Reason.missed,
                detail=f"no heartbeat for the run due at {_iso(occurrence)} ({cron}, grace {grace_seconds:g}s)",
            )
    if last is None:
        return None
    if not last.ok:
        said = f": {last.message}" if last.message else ""
        return ProbeOutcome(
            success=False,
            duration_seconds=0.0,
            reason=Reason.reported,
            detail=f"the job reported a failure at {_iso(last.at)}{said}",
        )
    said = f": {last.message}" if last.message else ""
    return ProbeOutcome(success=True, duration_seconds=0.0, detail=f"heartbeat at {_iso(last.at)}{said}")
