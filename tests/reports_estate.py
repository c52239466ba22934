"""A small estate over two bienniums for the report tests, written through the Store API.

The catalogue as recorded on 2010-01-01 (used for 2010-2011) and on 2012-01-01 (used
for 2012-2013), results in both bienniums, a breach and an exclusion in each. The
expected indicator values are worked out by hand in ``EXPECTED`` (see the comments).
"""

from __future__ import annotations

import datetime as dt

from slamon.core.catalogue import Catalogue
from slamon.core.model import IndicatorsFile, Service
from slamon.store import Store
from slamon.store.writer import catalogue_thresholds
from tests.exporters_estate import catalogue as estate_catalogue
from tests.exporters_estate import service
from tests.store_support import result, utc

NOW = utc(2014, 2, 1, 0, 0)
BOLD_NAME = "Mail <b>bold</b> & co"

REVIEWED_2013 = [
    {"clause": "8.3.3", "evidence": "https://docs.example/sla", "reviewed": "2013-06-01"},
    {"clause": "8.6.1", "evidence": "https://docs.example/desk", "reviewed": "2013-05-01"},
]
REVIEWED_EARLY_2012 = [
    {"clause": "8.3.3", "evidence": "https://docs.example/sla", "reviewed": "2012-01-01"},
    {"clause": "8.6.1", "evidence": "https://docs.example/desk", "reviewed": "2012-01-01"},
]


def services_2012() -> list[Service]:
    mail = service("unhq-mail", fulfilment="manual", evidence=None, practices=REVIEWED_2013[:1], tier="bronze")
    mail = mail.model_copy(update={"name": BOLD_NAME})
    return [
        service("unhq-erp", practices=REVIEWED_2013),  # automated, ISO, meets gold
        mail,  # manual, missing 8.6.1, misses bronze 99 %
        service("unog-portal", practices=REVIEWED_EARLY_2012),  # automated, stale reviews, meets gold
        service("unog-files", practices=REVIEWED_2013),  # automated, ISO, never observed
        service("unog-wiki", lifecycle="pipeline"),  # counted nowhere
    ]


def services_2010() -> list[Service]:
    mail = service("unhq-mail", fulfilment="manual", evidence=None, practices=REVIEWED_2013[:1], tier="bronze")
    return [
        service("unhq-erp", fulfilment="manual", evidence=None, practices=[]),
        mail.model_copy(update={"name": BOLD_NAME}),
        service("unog-portal", practices=REVIEWED_EARLY_2012),  # reviews in the future of 2011
    ]


def indicators() -> IndicatorsFile:
    def bt(b: float, t: float) -> dict:
        return {"baseline": b, "target": t}

    return IndicatorsFile.model_validate({
        "apiVersion": "slamon/v1",
        "kind": "Indicators",
        "indicators": [
            {"id": "automated-services", "code": "(a)(i)", "title": "Number of automated services", "unit": "count"},
            {"id": "services-meeting-levels", "code": "(a)(ii)",
             "title": "Percentage of services that meet expected standardized service levels", "unit": "percent"},
            {"id": "iso-aligned-services", "code": "(b)",
             "title": "Number of services delivered according to best practice as established by ISO", "unit": "count"},
        ],
        "targets": [
            {"biennium": "2012-2013", "offices": {
                "unhq": {"automated-services": bt(0, 1), "services-meeting-levels": bt(90, 95),
                         "iso-aligned-services": bt(0, 1)},
                "unog": {"automated-services": bt(1, 3), "services-meeting-levels": bt(0, 80),
                         "iso-aligned-services": bt(0, 2)},
                "all": {"services-meeting-levels": bt(70, 85)},
            }},
        ],
    })


def catalogue() -> Catalogue:
    base = estate_catalogue(services_2012())
    return Catalogue(
        offices=base.offices, tiers=base.tiers, practices=base.practices,
        indicators=indicators(), services=base.services,
    )


def _minutes(sid: str, vantage: str, start: dt.datetime, count: int, bad=()):
    return [
        result((start + dt.timedelta(minutes=i, seconds=5)).timestamp(), success=i not in bad,
               service=sid, vantage=vantage, probe="web")
        for i in range(count)
    ]


EXCLUSION_REASON = "Provider <outage> & repair"


def fill(store: Store, cat: Catalogue) -> None:
    """Everything the report reads, written through the Store API."""
    store.record_catalogue(services_2010(), utc(2010, 1, 1))
    store.record_catalogue(services_2012(), utc(2012, 1, 1))
    thresholds = catalogue_thresholds(lambda: cat)
    store.write_results(
        # 2010-2011: erp and mail all good; portal 30 bad minutes of 60
        _minutes("unhq-erp", "unhq", utc(2011, 3, 1, 10), 60)
        + _minutes("unhq-mail", "unhq", utc(2011, 3, 1, 10), 60)
        + _minutes("unog-portal", "unog", utc(2011, 3, 1, 10), 60, bad=range(30))
        # 2012-2013: erp 100 good; mail 7 bad of 100, 2 of them excluded; portal 60 good
        + _minutes("unhq-erp", "unhq", utc(2013, 5, 2, 10), 100)
        + _minutes("unhq-mail", "unhq", utc(2013, 5, 2, 10), 100, bad=range(10, 17))
        + _minutes("unog-portal", "unog", utc(2012, 7, 1, 8), 60),
        thresholds,
    )
    store.add_exclusion("unhq-mail", utc(2013, 5, 2, 10, 10), utc(2013, 5, 2, 10, 12),
                        EXCLUSION_REASON, "Chief, ICT operations", utc(2013, 5, 3))
    store.add_exclusion("unog-portal", utc(2011, 3, 1, 10), utc(2011, 3, 1, 10, 5),
                        "earlier exclusion", "someone", utc(2011, 3, 2))
    store.open_breach("unhq-mail", "unhq", "availability", "2013-05", utc(2013, 5, 2, 10, 12), 0.93, 99.0)
    store.resolve_breach("unhq-mail", "unhq", "availability", "2013-05", utc(2013, 6, 1, 4))
    store.open_breach("unog-portal", "unog", "availability", "2011-03", utc(2011, 3, 1, 10, 5), 0.5, 99.9)


# (indicator, office) -> (baseline, target, actual, previous, target_met)
EXPECTED = {
    # (a)(i): 2012-2013 erp; portal, files (wiki is pipeline); 2010-2011: none; portal
    ("automated-services", "unhq"): (0, 1, 1, 0, True),
    ("automated-services", "unog"): (1, 3, 2, 1, False),
    ("automated-services", "unov"): (None, None, 0, 0, None),
    ("automated-services", "all"): (None, None, 3, 1, None),  # unov, unon lack targets: no sum
    # (a)(ii): erp met, mail 93/98 < 99 %; portal met, files unmonitored; 2010-2011: 2 of 2; 0 of 1
    ("services-meeting-levels", "unhq"): (90, 95, 50.0, 100.0, False),
    ("services-meeting-levels", "unog"): (0, 80, 100.0, 0.0, True),
    ("services-meeting-levels", "unov"): (None, None, None, None, None),
    ("services-meeting-levels", "all"): (70, 85, 200 / 3, 200 / 3, False),
    # (b): erp (mail lacks 8.6.1); files (portal stale: 2012-01-01 is over 365 days before 2013-12-31)
    ("iso-aligned-services", "unhq"): (0, 1, 1, 0, True),
    ("iso-aligned-services", "unog"): (0, 2, 1, 0, False),
    ("iso-aligned-services", "all"): (None, None, 2, 0, None),
}
