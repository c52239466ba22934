"""Indicators (a)(i), (a)(ii) and (b) against a hand-computed expectation.

The estate is in tests/exporters_estate.py; the expectation below was worked out by
hand from DESIGN.md's definitions, service by service (see the comments).
"""

from __future__ import annotations

import datetime as dt

import pytest

from slamon.core.indicators import (
    IndicatorValue,
    SlaVerdicts,
    VantageVerdict,
    Verdict,
    biennium_of,
    compute_indicators,
)
from slamon.core.model import IndicatorId
from tests.exporters_estate import estate_services, indicators_file, practices_file, tiers

TODAY = dt.date(2026, 11, 29)
NOV_END = dt.date(2026, 11, 30)

A_I = IndicatorId.automated_services
A_II = IndicatorId.services_meeting_levels
B = IndicatorId.iso_aligned_services

VERDICTS = SlaVerdicts(
    {
        "unhq-erp": {
            "unhq": VantageVerdict(Verdict.met),
            "unog": VantageVerdict(Verdict.met),
            "unon": VantageVerdict(Verdict.not_met, ("latency",)),
        },
        "unhq-identity": {"unhq": VantageVerdict(Verdict.met)},
        # unhq-intranet: no verdict at all -> not monitored in the period
        "unhq-newportal": {"unhq": VantageVerdict(Verdict.met)},  # pipeline: out anyway
        "unog-email": {"unog": VantageVerdict(Verdict.met)},
        "unog-conference": {"unog": VantageVerdict(Verdict.met)},  # unov missing
        "unog-web": {"unog": VantageVerdict(Verdict.met)},
        "unog-oldweb": {"unog": VantageVerdict(Verdict.met)},  # retired: out
        "unon-network": {"unon": VantageVerdict(Verdict.not_met, ("availability",))},
        "unon-dns": {"unon": VantageVerdict(Verdict.met), "unhq": VantageVerdict(Verdict.unmonitored)},
    }
)


def _compute(**kw) -> dict[tuple[IndicatorId, str], IndicatorValue]:
    args = dict(
        services=estate_services(),
        verdicts=VERDICTS,
        practices=practices_file(),
        indicators=indicators_file(),
        period_end=NOV_END,
        today=TODAY,
        offices=["unhq", "unog", "unov", "unon"],
    )
    args.update(kw)
    return {(v.indicator, v.office): v for v in compute_indicators(**args)}


def test_automated_services_hand_computed():
    got = _compute()
    # counted: unhq-erp, unog-email, unon-network, unon-dns (production, automated with
    # evidence, an enabled probe); everything else fails one rule or more.
    assert {o: got[A_I, o].value for o in ("unhq", "unog", "unov", "unon", "all")} == {
        "unhq": 1, "unog": 1, "unov": 0, "unon": 2, "all": 4,
    }
    assert got[A_I, "all"].counted == ["unhq-erp", "unog-email", "unon-dns", "unon-network"]
    why = dict(got[A_I, "all"].not_counted)
    assert why["unhq-identity"] == ["automation has no evidence"]
    assert why["unhq-intranet"] == ["fulfilment is manual, not automated"]
    assert why["unhq-newportal"] == ["lifecycle is pipeline, not production"]
    assert why["unog-library"] == ["no enabled probe monitors it"]
    assert why["unog-conference"] == ["fulfilment is partial, not automated"]
    assert why["unog-oldweb"] == ["lifecycle is retired, not production"]
    assert why["unon-hosting"] == ["lifecycle is deprecated, not production"]
    assert got[A_I, "unhq"].unit == "count"
    assert got[A_I, "unov"].counted == [] and got[A_I, "unov"].not_counted == []


def test_iso_aligned_services_hand_computed():
    got = _compute()
    # aligned: unhq-erp, unog-email, unog-conference, unon-network, unon-dns
    assert {o: got[B, o].value for o in ("unhq", "unog", "unov", "unon", "all")} == {
        "unhq": 1, "unog": 2, "unov": 0, "unon": 2, "all": 5,
    }
    why = dict(got[B, "all"].not_counted)
    assert why["unhq-identity"] == ["missing required clauses 8.6.1"]
    assert why["unog-web"] == ["missing required clauses 8.3.3, 8.6.1"]
    assert why["unog-library"] == ["clause 8.3.3 has no evidence"]
    assert len(why["unhq-intranet"]) == 2 and all("last reviewed" in r for r in why["unhq-intranet"])
    assert why["unhq-newportal"] == ["lifecycle is pipeline, not production"]
    assert set(why) | set(got[B, "all"].counted) == {s.id for s in estate_services()}


def test_services_meeting_levels_hand_computed():
    got = _compute()
    # unhq: erp (not met from unon) and identity (met) in scope -> 1/2
    # unog: email, web met; conference unmeasured from unov -> 2/3
    # unon: network not met; dns met at unon but reported unmeasured from unhq -> 0/2
    assert got[A_II, "unhq"].value == pytest.approx(50.0)
    assert got[A_II, "unhq"].counted == ["unhq-identity"]
    assert got[A_II, "unhq"].eligible == ["unhq-erp", "unhq-identity"]
    assert got[A_II, "unog"].value == pytest.approx(200 / 3)
    assert got[A_II, "unog"].eligible == ["unog-conference", "unog-email", "unog-web"]
    assert got[A_II, "unov"].value is None and got[A_II, "unov"].eligible == []
    # unon-dns reported as unmonitored from unhq: a vantage it was probed from in the
    # period, without a measurement -> not shown to meet its SLA there -> 0/2
    assert got[A_II, "unon"].value == 0.0
    assert got[A_II, "unon"].eligible == ["unon-dns", "unon-network"]
    # all: identity, email, web met out of erp, identity, email, conference, web, network, dns
    assert got[A_II, "all"].value == pytest.approx(300 / 7)
    assert got[A_II, "all"].unit == "percent"
    why = dict(got[A_II, "all"].not_counted)
    assert why["unhq-erp"] == ["did not meet its SLA from unon (latency)"]
    assert why["unon-network"] == ["did not meet its SLA from unon (availability)"]
    assert why["unog-conference"] == ["not measured from unov in the period, so not shown to meet its SLA there"]
    assert why["unon-dns"] == ["not measured from unhq in the period, so not shown to meet its SLA there"]
    assert why["unhq-intranet"] == ["not monitored in the period"]
    assert why["unog-library"] == ["not monitored in the period"]
    assert why["unog-oldweb"] == ["lifecycle is retired, not production"]
    assert why["unhq-newportal"] == ["lifecycle is pipeline, not production"]


def test_unknown_tier_is_out_of_scope_when_tiers_are_given():
    got = _compute(tiers=set(tiers()) - {"gold"})
    assert got[A_II, "all"].eligible == []
    assert got[A_II, "all"].value is None
    assert dict(got[A_II, "all"].not_counted)["unog-email"] == [
        "tier gold is not a standardized service level"
    ]


def test_baselines_and_targets_of_the_biennium_holding_the_period():
    got = _compute()
    assert (got[A_I, "unhq"].baseline, got[A_I, "unhq"].target) == (1, 2)
    assert (got[A_II, "unog"].baseline, got[A_II, "unog"].target) == (40, 70)
    assert (got[A_II, "all"].baseline, got[A_II, "all"].target) == (45, 70)  # written for "all"
    assert got[A_I, "unov"].baseline is None and got[A_I, "unov"].target is None
    # unov has no targets, so the count total cannot be summed
    assert got[A_I, "all"].baseline is None
    assert {v.biennium for v in got.values()} == {"2026-2027"}
    # without unov, the total of a count is the sum over offices
    got3 = _compute(offices=["unhq", "unog", "unon"])
    assert (got3[B, "all"].baseline, got3[B, "all"].target) == (1, 6)
    assert ("unov" not in {o for _, o in got3})
    assert got3[A_I, "all"].value == 4  # "all" still covers every service given
    # an earlier period takes the earlier biennium's figures
    old = _compute(period_end=dt.date(2025, 6, 30))
    assert (old[A_I, "unhq"].baseline, old[A_I, "unhq"].target) == (0, 1)
    assert old[A_II, "unhq"].target is None
    assert old[A_I, "unhq"].biennium == "2024-2025"


def test_practice_reviews_are_judged_at_the_end_of_a_past_period():
    # intranet's reviews (2025-09-01, 2025-10-01) are within a year of 2025-12-31
    # but not of today; the services counted for a past period are judged then.
    old = _compute(period_end=dt.date(2025, 12, 31))
    assert "unhq-intranet" in old[B, "unhq"].counted
    now = _compute()
    assert "unhq-intranet" not in now[B, "unhq"].counted
    # the current period is judged as of today, not its (future) end
    assert _compute(period_end=dt.date(2027, 12, 31))[B, "all"].value == 5


def test_simple_verdicts_and_biennium():
    v = SlaVerdicts.simple({"x-a": {"unog": True, "unov": False, "unon": None}})
    assert [vv.verdict for vv in v.of("x-a").values()] == [Verdict.met, Verdict.not_met, Verdict.unmonitored]
    assert v.of("missing") == {}
    assert biennium_of(dt.date(2012, 1, 1)) == "2012-2013"
    assert biennium_of(dt.date(2013, 12, 31)) == "2012-2013"
    assert biennium_of(dt.date(2026, 11, 29)) == "2026-2027"


def test_order_and_shape():
    values = compute_indicators(
        estate_services(), VERDICTS, practices_file(), indicators_file(),
        period_end=NOV_END, today=TODAY,
    )
    # offices default to those of the services (unov has none), then "all"
    assert [(v.indicator, v.office) for v in values] == [
        (i, o) for i in (A_I, A_II, B) for o in ("unhq", "unog", "unon", "all")
    ]
    for v in values:
        assert sorted(v.counted + [s for s, _ in v.not_counted]) == sorted(
            s.id for s in estate_services() if v.office in ("all", s.office)
        )
        assert all(reasons for _, reasons in v.not_counted)


def test_a_ii_per_sla_period_counts_service_periods():
    """unhq-erp is probed from unhq, unog and unon. By hand: 2026-01 met everywhere;
    2026-02 missed from unon (latency); 2026-03 met from unhq and unog but not measured
    from unon (in scope, not shown to meet); 2026-04 nothing observed (out).
    unhq-identity: 2026-01 and 2026-02 met. unhq: 1 + 2 met of 3 + 2 in scope = 60 %."""
    from slamon.core.indicators import PeriodVerdict

    def p(label, **vantages):
        table = {True: VantageVerdict(Verdict.met), None: VantageVerdict(Verdict.unmonitored)}
        per = {v: table[x] if not isinstance(x, tuple) else VantageVerdict(Verdict.not_met, x) for v, x in vantages.items()}
        start = dt.datetime(2026, int(label[-2:]), 1, tzinfo=dt.UTC)
        return PeriodVerdict(label, start, start + dt.timedelta(days=28), True, per)

    periods = {
        "unhq-erp": [
            p("2026-01", unhq=True, unog=True, unon=True),
            p("2026-02", unhq=True, unog=True, unon=("latency",)),
            p("2026-03", unhq=True, unog=True, unon=None),
            p("2026-04", unhq=None, unog=None, unon=None),
        ],
        "unhq-identity": [p("2026-01", unhq=True), p("2026-02", unhq=True)],
    }
    services = [s for s in estate_services() if s.id in periods]
    values = compute_indicators(services, SlaVerdicts(), practices_file(), indicators_file(), period_end=NOV_END,
                                today=TODAY, offices=["unhq"], periods=periods)
    meeting = next(v for v in values if v.indicator is A_II and v.office == "unhq")
    assert (meeting.value, meeting.periods_met, meeting.periods_in_scope) == (60.0, 3, 5)
    assert meeting.counted == ["unhq-identity"] and meeting.eligible == ["unhq-erp", "unhq-identity"]
    (erp,) = meeting.not_counted
    assert erp == ("unhq-erp", [
        "met its SLA in 1 of 3 SLA periods; not in 2026-02 (latency from unon); 2026-03 (not measured from unon)",
        "not observed in 2026-04 (left out of the denominator)",
    ])
