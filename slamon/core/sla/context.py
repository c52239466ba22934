"""What the SLA maths needs to know about one service, built from the catalogue.

``ServiceContext`` carries eligibility (office calendars, maintenance, recorded
exclusions); ``TargetSegment`` a set of targets and the date from which it applies.
The store keeps target history (catalogue revisions); the caller turns it into a list
of segments, oldest first or in any order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from slamon.core.catalogue import Catalogue, EffectiveSLA, effective_sla
from slamon.core.model import Office, Service, Tier
from slamon.core.sla.calendar import OfficeCalendar, office_calendars
from slamon.core.sla.exclusions import Exclusion
from slamon.core.sla.maintenance import MaintenanceSchedule
from slamon.core.sla.masks import Scope


@dataclass(frozen=True, slots=True)
class TargetSegment:
    """Targets in force from ``effective_from``: a date (from local midnight in the
    office timezone), an aware instant, or None for "since the beginning"."""

    effective_from: dt.date | dt.datetime | None
    sla: EffectiveSLA


@dataclass(frozen=True)
class ServiceContext:
    """Eligibility of one service: its office's calendars, maintenance and exclusions."""

    service_id: str
    timezone: str
    calendars: Mapping[str, OfficeCalendar]
    maintenance: MaintenanceSchedule | None = None
    exclusions: tuple[Exclusion, ...] = ()

    def scope(self, schedule: str) -> Scope:
        try:
            calendar = self.calendars[schedule]
        except KeyError:
            raise KeyError(f"{self.service_id}: unknown calendar {schedule!r}") from None
        maintenance = None if self.maintenance is None or self.maintenance.empty else self.maintenance
        return Scope(calendar, maintenance, self.exclusions)


def service_context(
    service: Service,
    office: Office,
    exclusions: Iterable[Exclusion] = (),
    calendars: Mapping[str, OfficeCalendar] | None = None,
) -> ServiceContext:
    """Build a context. Pass ``calendars`` (from ``office_calendars``) shared across the
    office's services so that their masks are computed once."""
    cals = calendars if calendars is not None else office_calendars(office)
    maintenance = MaintenanceSchedule.from_models(list(service.maintenance), office.timezone)
    return ServiceContext(
        service.id,
        office.timezone,
        cals,
        None if maintenance.empty else maintenance,
        tuple(sorted(exclusions, key=lambda e: (e.start, e.end))),
    )


def current_targets(service: Service, tier: Tier) -> list[TargetSegment]:
    """The targets of one catalogue revision, effective from its ``sla.effective`` date."""
    when = service.sla.effective if service.sla else None
    return [TargetSegment(when, effective_sla(service, tier))]


def catalogue_contexts(
    catalogue: Catalogue,
    exclusions: Mapping[str, Iterable[Exclusion]] | None = None,
) -> dict[str, ServiceContext]:
    """A context for every service of a loaded catalogue, sharing each office's
    calendars (build once per catalogue load; the daemon asks
    ``is_eligible(at, contexts[sid].scope(catalogue.sla(sid).schedule), cache)``)."""
    calendars = {oid: office_calendars(office) for oid, office in catalogue.offices.items()}
    exclusions = exclusions or {}
    return {
        sid: service_context(
            svc, catalogue.offices[svc.office], exclusions.get(sid, ()), calendars[svc.office]
        )
        for sid, svc in catalogue.services.items()
    }
