"""``promtool test rules`` files generated beside the rules, one per alert kind.

Each test feeds a service's counters the way the daemon exports them and states when
an alert must (or must not) fire. The firing times come from the same formulas the
rules use (``exporters.burn_rates``, ``exporters.rules_plan``), so a change to a
threshold or a ``for:`` moves the rule and its test together; ``promtool`` then checks
that the rule really behaves as computed.

Conventions: one sample a minute; ``EVENTS_PER_MINUTE`` in-scope events a minute
(a nominal rate: the ratios do not depend on it); the sample service of each office is
measured from its own office (``vantage`` = ``office``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from exporters import rules as R
from exporters.burn_rates import (
    PAGE_PAIRS,
    TICKET_PAIRS,
    hard_outage_fire_seconds,
    period_window,
)
from exporters.rules_plan import ServicePlan, plans_by_office
from slamon.core.catalogue import Catalogue

EVENTS_PER_MINUTE = 100
HEALTHY_MINUTES = 15  # healthy traffic before an incident starts (a shorter 1h window only fires sooner)
SLACK_MINUTES = 2  # rate() sampling and rule evaluation steps
# The absence test loads every rule file: evaluate it every 15 minutes (its conditions
# never change during a case, so a coarse step cannot hide a transition).
ABSENCE_STEP = 15
_TEMPLATE = re.compile(r"\{\{ \$labels\.([a-z_]+) \}\}")


def test_file_name(kind: str) -> str:
    return f"slamon-{kind}.test.yml"


def _n(value: float) -> str:
    return format(value, ".10g")


def _series(name: str, labels: dict[str, str], values: str) -> dict:
    inner = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def _where(plan: ServicePlan) -> dict[str, str]:
    return {"vantage": plan.office, "office": plan.office, "service": plan.id}


def _sli(plan: ServicePlan, objective: str, events: str, good: str) -> list[dict]:
    labels = {**_where(plan), "objective": objective}
    return [
        _series("slamon_sli_events_total", labels, events),
        _series("slamon_sli_good_events_total", labels, good),
    ]


def _steady(total_minutes: int, per_minute: float = EVENTS_PER_MINUTE) -> str:
    return f"0+{_n(per_minute)}x{total_minutes}"


def _stops_at(stop_minute: int, total_minutes: int, per_minute: float = EVENTS_PER_MINUTE) -> str:
    """A counter rising until ``stop_minute``, flat afterwards."""
    top = _n(per_minute * stop_minute)
    return f"0+{_n(per_minute)}x{stop_minute} {top}+0x{total_minutes - stop_minute - 1}"


def _gauge_steps(*steps: tuple[float, int]) -> str:
    """``(value, minutes)`` pieces one after another."""
    return " ".join(f"{_n(v)}x{m - 1}" for v, m in steps)


def _find_rule(plan: ServicePlan, alert: str, opts: R.RuleOptions, **labels: str) -> dict:
    for rule in R.service_group(plan, opts)["rules"]:
        if rule.get("alert") == alert and all(rule["labels"].get(k) == v for k, v in labels.items()):
            return rule
    raise LookupError(f"{plan.id} has no {alert} rule with {labels}")


def _expected(rule: dict, series_labels: dict[str, str]) -> dict:
    labels = {**series_labels, **rule["labels"]}
    annotations = {
        k: _TEMPLATE.sub(lambda m: labels.get(m.group(1), ""), v)
        for k, v in rule["annotations"].items()
    }
    return {"exp_labels": labels, "exp_annotations": annotations}


def _burn_labels(plan: ServicePlan, objective: str = "availability") -> dict[str, str]:
    return {
        **_where(plan),
        "sloth_id": f"{plan.id}-{objective}",
        "sloth_service": plan.id,
        "sloth_slo": objective,
    }


def _check(minute: int, alert: str, expected: list[dict]) -> dict:
    return {"eval_time": f"{minute}m", "alertname": alert, "exp_alerts": expected}


def _quiet(minute: int, *alerts: str) -> list[dict]:
    return [_check(minute, a, []) for a in alerts]


def _case(name: str, series: list[dict], checks: list[dict], exprs: list[dict] | None = None) -> dict:
    case = {"name": name, "interval": "1m", "input_series": series, "alert_rule_test": checks}
    if exprs:
        case["promql_expr_test"] = exprs
    return case


def _budget(plan: ServicePlan) -> float:
    return plan.objectives[0].error_budget  # availability comes first


def _has_budget(plan: ServicePlan) -> bool:
    return _budget(plan) > 0


QUIET_ALERTS = (R.BURN_FAST, R.BURN_SLOW, R.SERVICE_DOWN, R.BUDGET_CONSUMED, R.SLA_BREACHED)

# --------------------------------------------------------------------------- cases


def healthy(plan: ServicePlan, opts: R.RuleOptions) -> dict:
    total = 60
    series = []
    for objective in plan.objectives:
        series += _sli(plan, objective.name, _steady(total), _steady(total))
    series += [
        _series("slamon_service_up", _where(plan), f"1x{total}"),
        _series("slamon_sla_error_budget_remaining_ratio", _where(plan), f"0.9x{total}"),
        _series("slamon_breaches_open", {**_where(plan), "objective": "availability"}, f"0x{total}"),
    ]
    checks = [c for minute in (10, total) for c in _quiet(minute, *QUIET_ALERTS)]
    return _case(f"{plan.id}: healthy traffic fires nothing", series, checks)


def hard_outage(plan: ServicePlan, opts: R.RuleOptions) -> dict:
    budget = _budget(plan)
    fire_seconds = min(hard_outage_fire_seconds(p, plan.period_days, budget) for p in PAGE_PAIRS)
    after = math.ceil(fire_seconds / 60) + SLACK_MINUTES
    window_minutes = PAGE_PAIRS[0].long_seconds // 60
    if after > window_minutes:
        raise ValueError(f"{plan.id}: the fast burn alert would fire after its {window_minutes}m window")
    start = HEALTHY_MINUTES
    total = start + after + 1
    series = _sli(plan, "availability", _steady(total), _stops_at(start, total))
    rule = _find_rule(plan, R.BURN_FAST, opts, objective="availability")
    checks = [
        _check(start, R.BURN_FAST, []),
        _check(start + after, R.BURN_FAST, [_expected(rule, _burn_labels(plan))]),
    ]
    return _case(
        f"{plan.id}: a hard outage from {start}m pages ({R.BURN_FAST}) by {start + after}m,"
        f" within the {window_minutes}m window",
        series,
        checks,
    )


def slow_burn_ratio(plan: ServicePlan) -> float | None:
    """An error ratio above every ticket threshold and below every page threshold (their
    geometric mean), or None when the thresholds leave no room (capped ones)."""
    budget = _budget(plan)
    ticket = max(p.threshold(plan.period_days, budget) for p in TICKET_PAIRS)
    page = min(p.threshold(plan.period_days, budget) for p in PAGE_PAIRS)
    if ticket * 1.2 >= page:
        return None
    return round(math.sqrt(ticket * page), 6)


def slow_burn(plan: ServicePlan, opts: R.RuleOptions) -> dict:
    ratio = slow_burn_ratio(plan)
    assert ratio is not None
    total = 30
    good = EVENTS_PER_MINUTE * (1 - ratio)
    series = _sli(plan, "availability", _steady(total), _steady(total, good))
    rule = _find_rule(plan, R.BURN_SLOW, opts, objective="availability")
    expected = [_expected(rule, _burn_labels(plan))]
    checks = []
    for minute in (10, total):
        checks += [_check(minute, R.BURN_SLOW, expected), _check(minute, R.BURN_FAST, [])]
    burn = ratio / _budget(plan)
    sloth = _burn_labels(plan)
    sel = f'{{sloth_id="{sloth["sloth_id"]}"}}'
    period = period_window(plan.period)
    exprs = [
        _approx(f"slo:sli_error:ratio_rate1h{sel}", {**sloth, "sloth_window": "1h"}, ratio, total),
        _approx(f"slo:current_burn_rate:ratio{sel}", {**sloth, "sloth_window": "5m"}, burn, total),
        _approx(f"slo:period_error_budget_remaining:ratio{sel}", {**sloth, "sloth_window": period},
                1 - burn, total),
    ]
    return _case(
        f"{plan.id}: a slow burn of {ratio * 100:.3g} % errors"
        f" ({burn:.3g}x the budget) fires only {R.BURN_SLOW}",
        series,
        checks,
        exprs,
    )


def _approx(expr: str, labels: dict[str, str], value: float, minute: int) -> dict:
    """``expr`` equals ``value`` to 1e-6 (promtool compares samples exactly)."""
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return {
        "expr": f"abs({expr} - ({_n(value)})) < bool 1e-6",
        "eval_time": f"{minute}m",
        "exp_samples": [{"labels": f"{{{inner}}}", "value": 1}],
    }


def no_traffic(plan: ServicePlan, opts: R.RuleOptions) -> dict:
    total = 30
    series = []
    for objective in plan.objectives:
        series += _sli(plan, objective.name, f"500x{total}", f"500x{total}")
    series.append(_series("slamon_service_up", _where(plan), f"1x{total}"))
    checks = [c for minute in (10, total) for c in _quiet(minute, R.BURN_FAST, R.BURN_SLOW, R.SERVICE_DOWN)]
    sel = f'{{sloth_id="{plan.id}-availability"}}'
    exprs = [
        {"expr": f"slo:sli_error:ratio_rate{w}{sel}", "eval_time": f"{total}m", "exp_samples": []}
        for w in ("5m", "1h")
    ] + [{"expr": f"slo:current_burn_rate:ratio{sel}", "eval_time": f"{total}m", "exp_samples": []}]
    return _case(f"{plan.id}: no in-scope traffic fires nothing and records no ratio", series, checks, exprs)


def maintenance(plan: ServicePlan, opts: R.RuleOptions) -> dict:
    start = 5
    total = start + plan.down_for_seconds // 60 + 5
    series = _sli(plan, "availability", _stops_at(start, total), _stops_at(start, total))
    series.append(_series("slamon_service_up", _where(plan), _gauge_steps((1, start + 2), (0, total - start - 1))))
    checks = [
        c
        for minute in (start + 5, total)
        for c in _quiet(minute, R.BURN_FAST, R.BURN_SLOW, R.SERVICE_DOWN)
    ]
    return _case(
        f"{plan.id}: down during maintenance ({start}m-{total}m, no in-scope events) fires nothing",
        series,
        checks,
    )


def service_down(plan: ServicePlan, opts: R.RuleOptions) -> dict:
    start = 5
    down_at = start + 2  # the daemon's state turns down after its failure threshold
    hold = plan.down_for_seconds // 60
    total = down_at + hold + 2
    series = _sli(plan, "availability", _steady(total), _stops_at(start, total))
    series.append(
        _series("slamon_service_up", _where(plan), _gauge_steps((1, down_at), (0, total - down_at + 1)))
    )
    rule = _find_rule(plan, R.SERVICE_DOWN, opts)
    checks = [
        _check(down_at + hold - 1, R.SERVICE_DOWN, []),
        _check(down_at + hold + 1, R.SERVICE_DOWN, [_expected(rule, _where(plan))]),
    ]
    return _case(
        f"{plan.id}: down from {down_at}m fires {R.SERVICE_DOWN} after for: {hold}m", series, checks
    )


def cert_expiry(plan: ServicePlan, opts: R.RuleOptions) -> dict:
    check = plan.certs[0]
    probe = check.probes[0]
    expires = check.min_days_left * 86400 + 600  # promtool's clock starts at 0
    labels = {**_where(plan), "probe": probe}
    series = [_series("probe_ssl_earliest_cert_expiry", labels, f"{expires}x20")]
    rule = _find_rule(plan, R.CERT_EXPIRING, opts)
    checks = [_check(5, R.CERT_EXPIRING, []), _check(15, R.CERT_EXPIRING, [_expected(rule, labels)])]
    return _case(
        f"{plan.id}: a certificate (probe {probe}) crossing {check.min_days_left} days left at 10m fires",
        series,
        checks,
    )


def probe_warning(plan: ServicePlan, opts: R.RuleOptions) -> dict:
    probe = next(p.id for p in plan.service.probes if R.can_warn(p))
    start = 10
    hold = R.WARNING_FOR_SECONDS // 60
    total = start + hold + 5
    labels = {**_where(plan), "probe": probe, "reason": "cert_expiry_soon"}
    # no warning series until the probe's result carries one (as the daemon exports it)
    series = [_series("slamon_probe_warning", labels, f"_x{start} 1x{total - start}")]
    rule = _find_rule(plan, R.PROBE_WARNING, opts)
    checks = [
        _check(start + hold - 1, R.PROBE_WARNING, []),
        _check(start + hold + 1, R.PROBE_WARNING, [_expected(rule, labels)]),
        *_quiet(total, R.SERVICE_DOWN, R.BURN_FAST, R.BURN_SLOW),
    ]
    return _case(
        f"{plan.id}: a warning (probe {probe}) held from {start}m fires a ticket after for: {hold}m",
        series,
        checks,
    )


def error_budget(plan: ServicePlan, opts: R.RuleOptions) -> dict:
    series = [
        _series(
            "slamon_sla_error_budget_remaining_ratio",
            _where(plan),
            _gauge_steps((0.8, 10), (0.4, 10), (0.2, 10), (-0.1, 10)),
        )
    ]
    checks = [_check(5, R.BUDGET_CONSUMED, [])]  # evaluated every 5m: for: 5m holds at +5m
    for minute, (consumed, *_rest) in zip((15, 25, 35), R.BUDGET_BANDS, strict=True):
        rule = _find_rule(plan, R.BUDGET_CONSUMED, opts, budget_consumed=consumed)
        checks.append(_check(minute, R.BUDGET_CONSUMED, [_expected(rule, _where(plan))]))
    return _case(f"{plan.id}: error budget 50, 75 and 100 % consumed fire in turn", series, checks)


def sla_breach(plan: ServicePlan, opts: R.RuleOptions) -> dict:
    labels = {**_where(plan), "objective": "availability"}
    series = [_series("slamon_breaches_open", labels, _gauge_steps((0, 10), (1, 10)))]
    rule = _find_rule(plan, R.SLA_BREACHED, opts)
    checks = [_check(5, R.SLA_BREACHED, []), _check(15, R.SLA_BREACHED, [_expected(rule, labels)])]
    return _case(f"{plan.id}: an open breach recorded by the daemon fires", series, checks)


# --------------------------------------------------------------------------- files

@dataclass(frozen=True)
class Kind:
    build: Callable[[ServicePlan, R.RuleOptions], dict]
    applies: Callable[[ServicePlan], bool]
    evaluation_minutes: int = 1  # coarser only where nothing ever changes state


KINDS: dict[str, Kind] = {
    "healthy": Kind(healthy, lambda p: True, evaluation_minutes=5),
    "burn-fast": Kind(hard_outage, _has_budget),
    "burn-slow": Kind(
        slow_burn, lambda p: _has_budget(p) and slow_burn_ratio(p) is not None, evaluation_minutes=5
    ),
    "no-traffic": Kind(no_traffic, lambda p: True, evaluation_minutes=5),
    "maintenance": Kind(maintenance, lambda p: True),
    "service-down": Kind(service_down, lambda p: True),
    "cert-expiry": Kind(cert_expiry, lambda p: bool(p.certs), evaluation_minutes=5),
    "probe-warning": Kind(probe_warning, lambda p: any(R.can_warn(x) for x in p.service.probes)),
    "error-budget": Kind(error_budget, lambda p: True, evaluation_minutes=5),
    "sla-breach": Kind(sla_breach, lambda p: True, evaluation_minutes=5),
}


def _samples(plans: dict[str, list[ServicePlan]], kind_index: int, kind: Kind) -> list[ServicePlan]:
    """One service for a kind: the offices take turns from kind to kind (so every
    office's rule file is exercised), the first applicable service by id.

    ``promtool`` evaluates every loaded rule at every step, so each test loads only its
    sample's office file and the tests stay fast however large the catalogue grows."""
    offices = [o for o in plans if plans[o]]
    for shift in range(len(offices)):
        office = offices[(kind_index + shift) % len(offices)]
        sample = next((p for p in plans[office] if kind.applies(p)), None)
        if sample is not None:
            return [sample]
    return []


def _absence_case(plans: dict[str, list[ServicePlan]], opts: R.RuleOptions) -> dict | None:
    """One service per office reports; every other service must be reported missing."""
    everyone = [p for office in plans.values() for p in office]
    present = [office[0] for office in plans.values() if office]
    missing = [p for p in everyone if p not in present]
    if not everyone:
        return None
    at = (max(p.absent_for_seconds for p in everyone) // 60 // ABSENCE_STEP + 1) * ABSENCE_STEP
    up = {"job": R.DAEMON_JOB, "instance": "127.0.0.1:9730"}
    series = [_series("up", up, f"1x{at}")]
    series += [
        _series("slamon_probe_results_total", {**_where(p), "probe": p.service.probes[0].id}, f"0+1x{at}")
        for p in present
    ]
    expected = [
        _expected(_find_rule(p, R.SERVICE_METRICS_ABSENT, opts), {"office": p.office, "service": p.id})
        for p in missing
    ]
    return _case(
        "services without any probe result fire (one service per office reports)",
        series,
        [*_quiet(0, R.SERVICE_METRICS_ABSENT), _check(at, R.SERVICE_METRICS_ABSENT, expected),
         *_quiet(at, R.METRICS_ABSENT, R.DAEMON_DOWN)],
    )


def _daemon_cases(opts: R.RuleOptions) -> list[dict]:
    health = {r["alert"]: r for r in R.daemon_group(opts)["rules"]}
    up = {"job": R.DAEMON_JOB, "instance": "127.0.0.1:9730"}
    return [
        _case(
            "no slamon target at all fires the metrics-absent page after 5m",
            [_series("up", {"job": "node", "instance": "127.0.0.1:9100"}, "1x10")],
            [_check(4, R.METRICS_ABSENT, []),
             _check(6, R.METRICS_ABSENT, [_expected(health[R.METRICS_ABSENT], {"job": R.DAEMON_JOB})])],
        ),
        _case(
            "an unreachable daemon (2m), a refused catalogue and a failing store (5m) fire",
            [
                _series(name, up, _gauge_steps((1, 5), (0, 7)))
                for name in ("up", "slamon_catalogue_load_success", "slamon_store_up")
            ],
            [
                *_quiet(5, R.DAEMON_DOWN, R.CATALOGUE_LOAD_FAILING, R.STORE_DOWN),
                _check(8, R.DAEMON_DOWN, [_expected(health[R.DAEMON_DOWN], up)]),
                *_quiet(9, R.CATALOGUE_LOAD_FAILING, R.STORE_DOWN),
                _check(11, R.CATALOGUE_LOAD_FAILING, [_expected(health[R.CATALOGUE_LOAD_FAILING], up)]),
                _check(11, R.STORE_DOWN, [_expected(health[R.STORE_DOWN], up)]),
            ],
        ),
        _case(
            "local faults of the daemon (descriptors, memory) fire a ticket while they rise",
            [_series("slamon_probe_local_faults_total", up, "0x5 1+3x4 13x20")],
            [
                *_quiet(5, R.LOCAL_FAULTS),
                _check(8, R.LOCAL_FAULTS, [_expected(health[R.LOCAL_FAULTS], up)]),
                *_quiet(25, R.LOCAL_FAULTS),
            ],
        ),
        _case(
            "minutes probed twice fire at once; a lost lease session after 2m",
            [
                _series("slamon_duplicate_minutes_total", up, "0x5 3x5"),
                _series("slamon_lease_up", up, _gauge_steps((1, 5), (0, 7))),
            ],
            [
                *_quiet(5, R.DUPLICATE_MINUTES, R.LEASE_LOST),
                _check(7, R.DUPLICATE_MINUTES, [_expected(health[R.DUPLICATE_MINUTES], up)]),
                _check(8, R.LEASE_LOST, [_expected(health[R.LEASE_LOST], up)]),
            ],
        ),
    ]


def build_test_documents(
    catalogue: Catalogue,
    rule_files: dict[str, str],
    opts: R.RuleOptions | None = None,
) -> dict[str, dict]:
    """File name -> ``promtool test rules`` document. ``rule_files`` maps each rule file
    name to its path as the test files must name it (relative to the tests directory)."""
    opts = opts or R.RuleOptions()
    plans = plans_by_office(catalogue)
    docs: dict[str, dict] = {}
    for index, (name, kind) in enumerate(KINDS.items()):
        samples = _samples(plans, index, kind)
        if samples:
            files = sorted({rule_files[R.rule_file_name(p.office)] for p in samples})
            cases = [kind.build(p, opts) for p in samples]
            docs[test_file_name(name)] = _document(files, cases, kind.evaluation_minutes)
    case = _absence_case(plans, opts)
    if case:
        docs[test_file_name("metrics-absent")] = _document(sorted(rule_files.values()), [case], ABSENCE_STEP)
    docs[test_file_name("daemon-health")] = _document(
        [rule_files[R.DAEMON_RULES_FILE]], _daemon_cases(opts), 1
    )
    return dict(sorted(docs.items()))


def _document(rule_files: list[str], cases: list[dict], evaluation_minutes: int) -> dict:
    return {"rule_files": rule_files, "evaluation_interval": f"{evaluation_minutes}m", "tests": cases}
