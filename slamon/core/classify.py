"""Per-service verdicts behind the indicators (a)(i) and (b), with the reasons a
service is not counted. Pure: ``today`` is passed in.
"""

from __future__ import annotations

import datetime as dt

from slamon.core.model import Fulfilment, Lifecycle, PracticesFile, Service


def automation_gaps(service: Service) -> list[str]:
    """Why the service is not an automated service ((a)(i)); empty when it is."""
    gaps = []
    if service.lifecycle != Lifecycle.production:
        gaps.append(f"lifecycle is {service.lifecycle.value}, not production")
    if service.automation.fulfilment != Fulfilment.automated:
        gaps.append(f"fulfilment is {service.automation.fulfilment.value}, not automated")
    elif not service.automation.evidence:
        gaps.append("automation has no evidence")
    if not any(p.enabled for p in service.probes):
        gaps.append("no enabled probe monitors it")
    return gaps


def iso_gaps(
    service: Service, profile: PracticesFile, today: dt.date, required: frozenset[str] | None = None
) -> list[str]:
    """Why the service is not ISO-aligned ((b)); empty when it is. ``required``: the
    profile's required clauses, when the caller has them already (many services)."""
    gaps = []
    if service.lifecycle != Lifecycle.production:
        gaps.append(f"lifecycle is {service.lifecycle.value}, not production")
    oldest = today - dt.timedelta(days=profile.review_max_age_days)
    covered: set[str] = set()
    for p in service.practices:
        if not p.evidence:
            gaps.append(f"clause {p.clause} has no evidence")
        elif p.reviewed is None:
            gaps.append(f"clause {p.clause} has no review date")
        elif p.reviewed < oldest:
            gaps.append(f"clause {p.clause} last reviewed {p.reviewed.isoformat()}, over {profile.review_max_age_days} days before {today.isoformat()}")
        elif p.reviewed > today:
            gaps.append(f"clause {p.clause} review date {p.reviewed.isoformat()} is in the future")
        else:
            covered.add(p.clause)
    if required is None:
        required = profile.required_clauses
    missing = sorted(required - {p.clause for p in service.practices})
    if missing:
        gaps.append("missing required clauses " + ", ".join(missing))
    return gaps


def is_automated(service: Service) -> bool:
    return not automation_gaps(service)


def is_iso_aligned(service: Service, profile: PracticesFile, today: dt.date) -> bool:
    return not iso_gaps(service, profile, today)
