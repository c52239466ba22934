"""A small estate whose (a)(ii) figures for 2026-2027 are worked out by hand, minute by
minute, in the comments below: the reference for ``slamon sla``, ``slamon report`` (JSON
and CSV) and ``/api/v1/indicators`` (tests/test_indicators_hand.py).

Geneva (Europe/Zurich: CET, CEST from 29 March to 25 October 2026). Results one a
minute, at second 5, written through ``Store.write_results``. The catalogue is recorded
in the store once, on 2026-07-01, so the store never saw unog-erp's targets before their
``effective`` date (2026-06-16).

unog-mail (gold 99.9 %, 24x7, monthly), probed from unog and unhq:
  2026-03  from 2026-03-20 10:00Z 940 minutes, and 2026-03-31 21:00Z-22:00Z (23:00-24:00
           CEST) 60: 1,000 observed from each vantage; unhq has 1 bad (minute 100):
           999 / 1,000 = 99.9 % >= 99.9 (met, exactly); unog 1,000 good. Met.
           Window: 31 x 1,440 - 60 (clocks forward on the 29th) = 44,580 minutes.
  2026-04  2026-03-31 22:00Z-22:30Z is already 1 April 00:00-00:30 CEST: 30 good from
           each vantage. Met.
  2026-10  from 2026-10-12 08:00Z 2,000 minutes; unog bad at minutes 500-502:
           1,997 / 2,000 = 99.85 % < 99.9: NOT met (from unog); unhq all good.
           Window: 31 x 1,440 + 60 (clocks back on the 25th) = 44,700 minutes.
  2027-05  from 2027-05-03 06:00Z 500 good from each vantage. Met.
  -> 3 of 4 periods met, 2026-10 breached. Over the whole biennium unog has 3 bad of
     3,530 (99.915 % >= 99.9): a whole-period average would hide the breached month.
unog-finance (silver 99.7 %, 24x7, quarterly; sla unplanned_outages: 2 per SLA period;
  maintenance every Sunday 23:00 for 2 h, across midnight):
  2026-Q3  from 2026-07-05 20:00Z 1,120 minutes; minutes 60-179 (Sun 23:00 - Mon 01:00
           CEST) are maintenance, all failing, and do not count; bad at minutes 10, 11:
           1,000 observed, 2 bad (1 outage run): 99.8 % >= 99.7, 2 <= 2. Met.
           13 Sundays in Q3: 1,560 maintenance minutes; window 92 x 1,440 = 132,480.
  2026-Q4  from 2026-10-26 09:00Z 1,000 minutes, bad at minutes 5 and 700 (2 runs):
           99.8 %, 2 <= 2. Met.
  -> 2 of 2 met; over the biennium 4 bad minutes > 2 (the whole-period method fails it).
unog-portal (bronze 99.5 %, business hours Mon-Fri 08:00-18:00, holiday 2026-05-14):
  2026-05  Mon 4 May 08:00Z (10:00 CEST) 200 minutes, bad at minute 50; 16:00Z-17:00Z
           (18:00-19:00 CEST, after hours) 60 bad; Tue 5 May 08:00Z 50 minutes, the
           first 10 bad and excluded (recorded exclusion 08:00Z-08:10Z); Thu 14 May
           (holiday) 08:00Z 60 bad. Observed 200 + 40 = 240, bad 1: 239 / 240 =
           99.583 % >= 99.5. Met. Eligible: 20 working days x 600 - 10 excluded =
           11,990; outside hours 44,640 - 12,000 = 32,640.
  -> 1 of 1.
unog-erp (gold 99.9 %; sla availability 99.95 effective 2026-06-16, i.e. from
  2026-06-15 22:00Z):
  2026-06  2026-06-10 08:00Z 2,000 minutes, bad at minutes 100 and 1,500 (under
           99.9 %: 2.0 allowed); 2026-06-20 08:00Z 1,000 good (under 99.95 %: 0.5
           allowed). 2 bad <= 2.5 allowed: met (2,998 / 3,000). Had 99.95 % applied to
           the whole month (the store never saw the old targets), only 1.5 would be
           allowed: not met.
  -> 1 of 1.

(a)(ii) unog 2026-2027, per SLA period: (3 + 2 + 1 + 1) / (4 + 2 + 1 + 1) = 7 / 8 = 87.5 %;
met in every period: unog-erp, unog-finance, unog-portal. Whole-period method: mail,
portal and erp met, finance not: 3 / 4 = 75 %. (a)(i): 4 automated. (b): 0 (reviews of
2026-11-01 are more than 365 days before 2027-12-31).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from slamon.core.catalogue import Catalogue
from slamon.store import Store
from slamon.store.writer import catalogue_thresholds
from tests.store_support import result, utc

NOW = utc(2028, 1, 15, 12, 0)
AT = "2028-01-15T12:00Z"
RECORDED = utc(2026, 7, 1)
EXCLUSION = (utc(2026, 5, 5, 8, 0), utc(2026, 5, 5, 8, 10))

OFFICES = """\
apiVersion: slamon/v1
kind: Offices
offices:
  - id: unhq
    name: United Nations Headquarters
    city: New York
    timezone: America/New_York
    headquarters: true
  - id: unog
    name: United Nations Office at Geneva
    city: Geneva
    timezone: Europe/Zurich
    calendars:
      business-hours:
        hours:
          - {days: [mon, tue, wed, thu, fri], start: "08:00", end: "18:00"}
        holidays:
          - {date: 2026-05-14, name: Ascension Day}
"""

TIERS = """\
apiVersion: slamon/v1
kind: Tiers
tiers:
  - {id: gold, name: Gold, benchmark: test, availability: 99.9, period: month}
  - {id: silver, name: Silver, benchmark: test, availability: 99.7, period: quarter}
  - {id: bronze, name: Bronze, benchmark: test, availability: 99.5, period: month, schedule: business-hours}
"""

PRACTICES = """\
apiVersion: slamon/v1
kind: Practices
review_max_age_days: 365
clauses:
  - {clause: "8.3.3", title: Service level management}
  - {clause: "8.6.1", title: Incident management}
"""

INDICATORS = """\
apiVersion: slamon/v1
kind: Indicators
indicators:
  - {id: automated-services, code: "(a)(i)", title: Automated services, unit: count}
  - {id: services-meeting-levels, code: "(a)(ii)", title: Services meeting their levels, unit: percent%s}
  - {id: iso-aligned-services, code: "(b)", title: ISO-aligned services, unit: count}
targets:
  - biennium: 2026-2027
    offices:
      unog:
        automated-services: {baseline: 2, target: 4}
        services-meeting-levels: {baseline: 70, target: 85}
        iso-aligned-services: {baseline: 0, target: 2}
"""

SERVICE = """\
apiVersion: slamon/v1
kind: Service
id: {id}
name: {name}
office: unog
description: Test service {id}.
owner:
  group: unog-ict
  contacts:
    - {{role: service-owner, name: Owner, email: owner@unog.example}}
category: infrastructure
lifecycle: production
tier: {tier}
{extra}automation:
  fulfilment: automated
  evidence: https://git.unog.example/{id}
practices:
  - {{clause: "8.3.3", evidence: https://docs.unog.example/{id}, reviewed: 2026-11-01}}
  - {{clause: "8.6.1", evidence: https://desk.unog.example/{id}, reviewed: 2026-11-01}}
probes:
  - {{id: web, kind: http, url: https://{id}.unog.example/healthz, interval: 60s, timeout: 5s{vantages}}}
"""

SERVICES = {
    "unog-mail": ("Mail", "gold", "", ", from: [unog, unhq]"),
    "unog-finance": (
        "Finance",
        "silver",
        "sla:\n  unplanned_outages: 2\nmaintenance:\n"
        '  - {name: weekly patching, every: week, days: [sun], start: "23:00", duration: 2h}\n',
        "",
    ),
    "unog-portal": ("Portal", "bronze", "", ""),
    "unog-erp": ("ERP", "gold", "sla:\n  availability: 99.95\n  effective: 2026-06-16\n", ""),
}


def write_catalogue(root: Path, method: str | None = None) -> Path:
    """The catalogue as YAML files under ``root`` (``method`` names (a)(ii)'s method)."""
    (root / "services" / "unog").mkdir(parents=True, exist_ok=True)
    (root / "offices.yaml").write_text(OFFICES)
    (root / "tiers.yaml").write_text(TIERS)
    (root / "practices.yaml").write_text(PRACTICES)
    (root / "indicators.yaml").write_text(INDICATORS % (f", method: {method}" if method else ""))
    for sid, (name, tier, extra, vantages) in SERVICES.items():
        text = SERVICE.format(id=sid, name=name, tier=tier, extra=extra, vantages=vantages)
        (root / "services" / "unog" / f"{sid}.yaml").write_text(text)
    return root


def _run(sid: str, vantage: str, start: dt.datetime, count: int, bad=()) -> list:
    bad = set(bad)
    return [
        result((start + dt.timedelta(minutes=i, seconds=5)).timestamp(), success=i not in bad,
               service=sid, vantage=vantage, probe="web")
        for i in range(count)
    ]


def fill(store: Store, catalogue: Catalogue) -> None:
    store.record_catalogue(catalogue, RECORDED)
    results = []
    for vantage in ("unog", "unhq"):
        results += _run("unog-mail", vantage, utc(2026, 3, 20, 10), 940, bad={100} if vantage == "unhq" else ())
        results += _run("unog-mail", vantage, utc(2026, 3, 31, 21), 90)  # 60 in March, 30 in April
        results += _run("unog-mail", vantage, utc(2026, 10, 12, 8), 2000, bad={500, 501, 502} if vantage == "unog" else ())
        results += _run("unog-mail", vantage, utc(2027, 5, 3, 6), 500)
    results += _run("unog-finance", "unog", utc(2026, 7, 5, 20), 1120, bad={10, 11, *range(60, 180)})
    results += _run("unog-finance", "unog", utc(2026, 10, 26, 9), 1000, bad={5, 700})
    results += _run("unog-portal", "unog", utc(2026, 5, 4, 8), 200, bad={50})
    results += _run("unog-portal", "unog", utc(2026, 5, 4, 16), 60, bad=range(60))
    results += _run("unog-portal", "unog", utc(2026, 5, 5, 8), 50, bad=range(10))
    results += _run("unog-portal", "unog", utc(2026, 5, 14, 8), 60, bad=range(60))
    results += _run("unog-erp", "unog", utc(2026, 6, 10, 8), 2000, bad={100, 1500})
    results += _run("unog-erp", "unog", utc(2026, 6, 20, 8), 1000)
    store.write_results(results, catalogue_thresholds(lambda: catalogue))
    store.add_exclusion("unog-portal", *EXCLUSION, "Provider outage", "Chief, ICT operations", utc(2026, 5, 6))


# the hand figures
PERIODS = {  # service -> (SLA period label, met) in order
    "unog-erp": [("2026-06", True)],
    "unog-finance": [("2026-Q3", True), ("2026-Q4", True)],
    "unog-mail": [("2026-03", True), ("2026-04", True), ("2026-10", False), ("2027-05", True)],
    "unog-portal": [("2026-05", True)],
}
MET_PERIODS, IN_SCOPE_PERIODS = 7, 8
MEETING_PERCENT = 87.5
WHOLE_PERIOD_PERCENT = 75.0
MET_EVERY_PERIOD = ["unog-erp", "unog-finance", "unog-portal"]
AUTOMATED, ISO = 4, 0
