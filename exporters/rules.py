"""Prometheus recording and alerting rules generated from the catalogue.

One rule file per office (``slamon-<office>.rules.yml``, one group per service) and a
shared one for the daemon's own health (``slamon-daemon-health.rules.yml``).

Recording rules follow Sloth's names and labels (``slo:sli_error:ratio_rate5m`` ...,
``slo:objective:ratio``, ``sloth_slo_info``; ``sloth_id`` = ``<service>-<objective>``),
so Sloth's Grafana dashboards work on them, plus ``office``, ``service`` and the
``vantage`` the service was measured from. They are built on the daemon's in-scope
counters ``slamon_sli_events_total`` / ``slamon_sli_good_events_total``, which only count
probe results inside eligible time: service hours and maintenance are excluded at the
source. A window without in-scope events yields no series (never NaN).

The alerts and their maths are described in ``exporters.burn_rates`` and, for
operators, in ``docs/runbooks.md``. Output is sorted and stable so regenerated files
diff cleanly.

Why one module above 500 lines: it is one thing, the rule documents of a catalogue;
the recording rules and the alerts read them through the same selectors and labels.
"""

from __future__ import annotations

from dataclasses import dataclass

from exporters.burn_rates import (
    PAGE_PAIRS,
    TICKET_PAIRS,
    WINDOWS,
    WindowPair,
    period_window,
    prometheus_duration,
)
from exporters.rules_plan import Objective, ServicePlan, plans_by_office
from slamon.core.catalogue import Catalogue
from slamon.core.model import TlsProbe

DAEMON_JOB = "slamon"  # the scrape job of the daemons in deploy/prometheus/prometheus.yml
DAEMON_OWNER = "slamon-operators"
DEFAULT_RUNBOOK_BASE = "docs/runbooks.md"
DAEMON_RULES_FILE = "slamon-daemon-health.rules.yml"
SLOTH_MODE = "cli-gen-prom"
SLOTH_SPEC = "slamon/v1"

# Alert names (each has a section in docs/runbooks.md, anchored by its lower-cased name).
BURN_FAST = "SlamonErrorBudgetBurnFast"
BURN_SLOW = "SlamonErrorBudgetBurnSlow"
SERVICE_DOWN = "SlamonServiceDown"
CERT_EXPIRING = "SlamonCertificateExpiring"
BUDGET_CONSUMED = "SlamonErrorBudgetConsumed"
SLA_BREACHED = "SlamonSLABreached"
SERVICE_METRICS_ABSENT = "SlamonServiceMetricsAbsent"
METRICS_ABSENT = "SlamonMetricsAbsent"
DAEMON_DOWN = "SlamonDaemonDown"
CATALOGUE_LOAD_FAILING = "SlamonCatalogueLoadFailing"
STORE_DOWN = "SlamonStoreDown"
STORE_DROPPING = "SlamonStoreDroppingResults"
SCHEDULER_LAGGING = "SlamonSchedulerLagging"
PROBE_WARNING = "SlamonProbeWarning"
LOCAL_FAULTS = "SlamonProbeLocalFaults"
WARNING_FOR_SECONDS = 900  # a warning held this long opens a ticket (a single slow result does not)
DUPLICATE_MINUTES = "SlamonDuplicateMinutes"
LEASE_LOST = "SlamonLeaseLost"

# Error budget consumed in the SLA period: (label, remaining upper bound, lower bound, severity)
BUDGET_BANDS: tuple[tuple[str, float, float | None, str], ...] = (
    ("50", 0.5, 0.25, "info"),
    ("75", 0.25, 0.0, "ticket"),
    ("100", 0.0, None, "ticket"),
)
BUDGET_FOR_SECONDS = 300

BY = "vantage, office, service"
VANTAGE = "{{ $labels.vantage }}"
PROBE = "{{ $labels.probe }}"


@dataclass(frozen=True)
class RuleOptions:
    runbook_base: str = DEFAULT_RUNBOOK_BASE
    daemon_owner: str = DAEMON_OWNER


def runbook_url(base: str, alert: str) -> str:
    return f"{base}#{alert.lower()}"


def rule_file_name(office: str) -> str:
    return f"slamon-{office}.rules.yml"


def sloth_id(plan: ServicePlan, objective: Objective) -> str:
    return f"{plan.id}-{objective.name}"


def _num(value: float) -> str:
    """A stable, short spelling of a number for PromQL."""
    return format(value, ".9g")


def _sloth_labels(plan: ServicePlan, objective: Objective) -> dict[str, str]:
    return {
        "sloth_id": sloth_id(plan, objective),
        "sloth_service": plan.id,
        "sloth_slo": objective.name,
    }


def _sli_selector(plan: ServicePlan, objective: str) -> str:
    return f'{{office="{plan.office}", service="{plan.id}", objective="{objective}"}}'


def _sloth_selector(plan: ServicePlan, objective: Objective) -> str:
    return (
        f'{{sloth_id="{sloth_id(plan, objective)}", sloth_service="{plan.id}", '
        f'sloth_slo="{objective.name}"}}'
    )


def sli_error_ratio_expr(plan: ServicePlan, objective: Objective, window: str) -> str:
    """Failed in-scope events over all in-scope events in ``window``, per vantage.

    A missing good-events series counts as zero good events; a window with no events
    divides by an empty vector and yields no series."""
    sel = _sli_selector(plan, objective.name)
    events = f"sum by ({BY}) (rate(slamon_sli_events_total{sel}[{window}]))"
    good = f"sum by ({BY}) (rate(slamon_sli_good_events_total{sel}[{window}]))"
    return (
        "(\n"
        f"  {events}\n"
        "  -\n"
        f"  ({good}\n    or\n   0 * {events})\n"
        ")\n"
        f"/\n({events} > 0)\n"
    )


def _recordings(plan: ServicePlan, objective: Objective) -> list[dict]:
    """The SLI over every alerting window, the objective, and the current burn rate."""
    labels = _sloth_labels(plan, objective)
    sel = _sloth_selector(plan, objective)
    rules: list[dict] = []
    for window, _seconds in WINDOWS:
        rules.append(
            {
                "record": f"slo:sli_error:ratio_rate{window}",
                "expr": sli_error_ratio_expr(plan, objective, window),
                "labels": {**labels, "sloth_window": window},
            }
        )
    meta = {**labels, "office": plan.office, "service": plan.id}
    rules += [
        {"record": "slo:objective:ratio", "expr": f"vector({_num(objective.target)})", "labels": meta},
        {
            "record": "slo:error_budget:ratio",
            "expr": f"vector({_num(objective.error_budget)})",
            "labels": meta,
        },
        {"record": "slo:time_period:days", "expr": f"vector({plan.period_days})", "labels": meta},
        {
            "record": "slo:current_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate5m{sel}\n{_BUDGET_JOIN}\n{_budget(sel)}\n",
            "labels": labels,
        },
        {
            "record": "sloth_slo_info",
            "expr": "vector(1)",
            "labels": {
                **meta,
                "sloth_mode": SLOTH_MODE,
                "sloth_spec": SLOTH_SPEC,
                "sloth_version": "slamon",
                "sloth_objective": _num(objective.percent),
                "tier": plan.service.tier,
                "owner": plan.service.owner.group,
            },
        },
    ]
    return rules


_BUDGET_JOIN = "/ on (sloth_id, sloth_slo, sloth_service) group_left ()"


def _budget(sel: str) -> str:
    """The error budget, or nothing when it is zero (a 100 % objective): no division by 0."""
    return f"(slo:error_budget:ratio{sel} > 0)"


def _period_recordings(plan: ServicePlan, objective: Objective) -> list[dict]:
    """The SLI over the SLA period (Sloth's average of the 5m ratios), its burn rate and the
    budget left. Rolling, and bounded by Prometheus's retention; the daemon's
    ``slamon_sla_*`` series hold the exact calendar-period figures."""
    labels = _sloth_labels(plan, objective)
    sel = _sloth_selector(plan, objective)
    period = period_window(plan.period)
    base = f"slo:sli_error:ratio_rate5m{sel}"
    return [
        {
            "record": f"slo:sli_error:ratio_rate{period}",
            "expr": (
                f"sum_over_time({base}[{period}])\n"
                f"/ ignoring (sloth_window)\ncount_over_time({base}[{period}])\n"
            ),
            "labels": {**labels, "sloth_window": period},
        },
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate{period}{sel}\n{_BUDGET_JOIN}\n{_budget(sel)}\n",
            "labels": labels,
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{sel}",
            "labels": labels,
        },
    ]


PERIOD_GROUP_INTERVAL = "5m"


def period_group(office: str, plans: list[ServicePlan]) -> dict:
    """All period-long recordings of an office, evaluated every five minutes: reading
    weeks or years of samples at every rule evaluation would be wasted work."""
    rules = [r for plan in plans for o in plan.objectives for r in _period_recordings(plan, o)]
    return {"name": f"slamon-{office}-sla-period", "interval": PERIOD_GROUP_INTERVAL, "rules": rules}


def burn_alert_expr(plan: ServicePlan, objective: Objective, pairs: tuple[WindowPair, ...]) -> str:
    sel = _sloth_selector(plan, objective)
    parts = []
    for pair in pairs:
        threshold = _num(pair.threshold(plan.period_days, objective.error_budget))
        parts.append(
            "(\n"
            f"  max without (sloth_window) (slo:sli_error:ratio_rate{pair.short}{sel} > {threshold})\n"
            "  and\n"
            f"  max without (sloth_window) (slo:sli_error:ratio_rate{pair.long}{sel} > {threshold})\n"
            ")"
        )
    return "\nor\n".join(parts) + "\n"


def _pairs_text(plan: ServicePlan, objective: Objective, pairs: tuple[WindowPair, ...]) -> str:
    """'more than 1.44 % of events failing (14.4x the budget) over 1h and 5m or ...'"""
    parts = []
    for p in pairs:
        threshold = p.threshold(plan.period_days, objective.error_budget)
        parts.append(
            f"more than {threshold * 100:.4g} % of events failing "
            f"({threshold / objective.error_budget:.4g}x the budget) over {p.long} and {p.short}"
        )
    return ", or ".join(parts)


def _literal(text: str) -> str:
    """Catalogue text inside an annotation, which Prometheus expands as a Go template:
    break up template delimiters so a name cannot inject template code."""
    return text.replace("{{", "{ {").replace("}}", "} }")


def _describe(plan: ServicePlan) -> str:
    svc = plan.service
    return (
        f"{svc.id} ({_literal(svc.name)}, office {svc.office}, tier {svc.tier}, "
        f"owner {svc.owner.group})"
    )


def _burn_alerts(plan: ServicePlan, objective: Objective, opts: RuleOptions) -> list[dict]:
    if objective.error_budget <= 0:
        return []  # a 100 % objective has no budget to burn; breaches alert instead
    out = []
    for name, pairs, severity, speed in (
        (BURN_FAST, PAGE_PAIRS, plan.urgent_severity, "fast"),
        (BURN_SLOW, TICKET_PAIRS, "ticket", "slowly"),
    ):
        out.append(
            {
                "alert": name,
                "expr": burn_alert_expr(plan, objective, pairs),
                "labels": {**plan.alert_labels(severity), "objective": objective.name},
                "annotations": {
                    "summary": f"{plan.id}: {objective.name} error budget burning {speed} from {VANTAGE}",
                    "description": (
                        f"{_describe(plan)} is spending its {objective.name} error budget "
                        f"(objective {_num(objective.percent)} % per {plan.period.value}): "
                        f"{_pairs_text(plan, objective, pairs)}, as measured from {VANTAGE}."
                    ),
                    "runbook_url": runbook_url(opts.runbook_base, name),
                },
            }
        )
    return out


def service_down_expr(plan: ServicePlan) -> str:
    sel = f'{{office="{plan.office}", service="{plan.id}"}}'
    window = prometheus_duration(plan.down_for_seconds)
    return (
        f"(max by ({BY}) (slamon_service_up{sel}) == 0)\n"
        f"and on ({BY})\n"
        f"(sum by ({BY}) (increase(slamon_sli_events_total{_sli_selector(plan, 'availability')}[{window}])) > 0)\n"
    )


def cert_expiry_expr(plan: ServicePlan) -> str:
    parts = []
    for check in plan.certs:
        probes = "|".join(check.probes)
        sel = f'{{office="{plan.office}", service="{plan.id}", probe=~"{probes}"}}'
        parts.append(
            f"(min by ({BY}, probe) (probe_ssl_earliest_cert_expiry{sel}) - time() "
            f"< {check.min_days_left} * 86400)"
        )
    return "\nor\n".join(parts) + "\n"


def can_warn(probe) -> bool:
    """Whether a probe's results can carry a warning (``docs/probes.md``, "Warnings")."""
    return probe.enabled and (
        isinstance(probe, TlsProbe)
        or getattr(probe, "warn_latency", None) is not None
        or getattr(probe, "min_days_left", None) is not None
    )


def probe_warning_expr(plan: ServicePlan) -> str:
    sel = f'{{office="{plan.office}", service="{plan.id}"}}'
    return f"max by ({BY}, probe, reason) (slamon_probe_warning{sel}) == 1"


def _warning_alert(plan: ServicePlan, opts: RuleOptions) -> list[dict]:
    if not any(can_warn(p) for p in plan.service.probes):
        return []
    return [
        {
            "alert": PROBE_WARNING,
            "expr": probe_warning_expr(plan),
            "for": prometheus_duration(WARNING_FOR_SECONDS),
            "labels": plan.alert_labels("ticket"),
            "annotations": {
                "summary": f"{plan.id}: probe {PROBE} succeeds with a warning ({{{{ $labels.reason }}}})",
                "description": (
                    f"Probe {PROBE} of {_describe(plan)} succeeds but warns "
                    f"({{{{ $labels.reason }}}}) from {VANTAGE}. Not an outage: the SLA is "
                    "untouched; act before it becomes one."
                ),
                "runbook_url": runbook_url(opts.runbook_base, PROBE_WARNING),
            },
        }
    ]


def _service_alerts(plan: ServicePlan, opts: RuleOptions) -> list[dict]:
    sel = f'{{office="{plan.office}", service="{plan.id}"}}'
    desc = _describe(plan)
    out: list[dict] = []
    for objective in plan.objectives:
        out += _burn_alerts(plan, objective, opts)
    out.append(
        {
            "alert": SERVICE_DOWN,
            "expr": service_down_expr(plan),
            "for": prometheus_duration(plan.down_for_seconds),
            "labels": plan.alert_labels(plan.urgent_severity),
            "annotations": {
                "summary": f"{plan.id} is down from {VANTAGE}",
                "description": (
                    f"{desc} has failed its probes past their failure threshold during "
                    f"its service hours, as measured from {VANTAGE}."
                ),
                "runbook_url": runbook_url(opts.runbook_base, SERVICE_DOWN),
            },
        }
    )
    if plan.certs:
        days = ", ".join(f"{'|'.join(c.probes)}: {c.min_days_left} days" for c in plan.certs)
        out.append(
            {
                "alert": CERT_EXPIRING,
                "expr": cert_expiry_expr(plan),
                "labels": plan.alert_labels("ticket"),
                "annotations": {
                    "summary": f"{plan.id}: certificate seen by probe {PROBE} expires soon",
                    "description": (
                        f"The certificate of {desc}, seen by probe {PROBE} from {VANTAGE}, "
                        f"has fewer days left than its minimum ({days})."
                    ),
                    "runbook_url": runbook_url(opts.runbook_base, CERT_EXPIRING),
                },
            }
        )
    out += _warning_alert(plan, opts)
    remaining = f"max by ({BY}) (slamon_sla_error_budget_remaining_ratio{sel})"
    for consumed, upper, lower, severity in BUDGET_BANDS:
        expr = f"{remaining} <= {_num(upper)}"
        if lower is not None:
            expr += f" > {_num(lower)}"
        out.append(
            {
                "alert": BUDGET_CONSUMED,
                "expr": expr,
                "for": prometheus_duration(BUDGET_FOR_SECONDS),
                "labels": {**plan.alert_labels(severity), "budget_consumed": consumed},
                "annotations": {
                    "summary": f"{plan.id}: {consumed} % of the error budget consumed this {plan.period.value}",
                    "description": (
                        f"{desc} has consumed at least {consumed} % of its error budget "
                        f"in the current {plan.period.value}, as measured from {VANTAGE}."
                    ),
                    "runbook_url": runbook_url(opts.runbook_base, BUDGET_CONSUMED),
                },
            }
        )
    out.append(
        {
            "alert": SLA_BREACHED,
            "expr": f"max by ({BY}, objective) (slamon_breaches_open{sel}) == 1",
            "labels": plan.alert_labels("ticket"),
            "annotations": {
                "summary": f"{plan.id}: SLA breached ({{{{ $labels.objective }}}}) from {VANTAGE}",
                "description": (
                    f"{desc} is below its {{{{ $labels.objective }}}} objective for the "
                    f"current {plan.period.value}, as measured from {VANTAGE}."
                ),
                "runbook_url": runbook_url(opts.runbook_base, SLA_BREACHED),
            },
        }
    )
    out.append(
        {
            "alert": SERVICE_METRICS_ABSENT,
            "expr": f"absent(slamon_probe_results_total{sel})",
            "for": prometheus_duration(plan.absent_for_seconds),
            "labels": plan.alert_labels("ticket"),
            "annotations": {
                "summary": f"{plan.id} is not being measured",
                "description": (
                    f"No probe results of {desc} have reached Prometheus for "
                    f"{prometheus_duration(plan.absent_for_seconds)}: no daemon probes it."
                ),
                "runbook_url": runbook_url(opts.runbook_base, SERVICE_METRICS_ABSENT),
            },
        }
    )
    return out


def service_group(plan: ServicePlan, opts: RuleOptions) -> dict:
    rules: list[dict] = []
    for objective in plan.objectives:
        rules += _recordings(plan, objective)
    rules += _service_alerts(plan, opts)
    return {"name": f"slamon-{plan.id}", "rules": rules}


def daemon_group(opts: RuleOptions) -> dict:
    job = f'{{job="{DAEMON_JOB}"}}'

    def alert(name, expr, for_seconds, severity, summary, description):
        rule = {"alert": name, "expr": expr}
        if for_seconds:
            rule["for"] = prometheus_duration(for_seconds)
        rule["labels"] = {"severity": severity, "owner": opts.daemon_owner, "component": "slamon"}
        rule["annotations"] = {
            "summary": summary,
            "description": description,
            "runbook_url": runbook_url(opts.runbook_base, name),
        }
        return rule

    return {
        "name": "slamon-daemon-health",
        "rules": [
            alert(
                METRICS_ABSENT, f"absent(up{job})", 300, "page",
                "Prometheus scrapes no slamon daemon",
                f"No target of the {DAEMON_JOB} job exists: nothing is monitoring the catalogue.",
            ),
            alert(
                DAEMON_DOWN, f"up{job} == 0", 120, "page",
                "slamon daemon {{ $labels.instance }} is down",
                "Prometheus cannot scrape the slamon daemon at {{ $labels.instance }}; "
                "the services it probes are not measured.",
            ),
            alert(
                CATALOGUE_LOAD_FAILING, f"slamon_catalogue_load_success{job} == 0", 300, "ticket",
                "slamon on {{ $labels.instance }} refuses the current catalogue",
                "The last catalogue change failed validation; the daemon keeps running the "
                "last good catalogue. Run `slamon check` on the catalogue.",
            ),
            alert(
                STORE_DOWN, f"slamon_store_up{job} == 0", 300, "ticket",
                "slamon on {{ $labels.instance }} cannot write to its store",
                "Results wait in the bounded buffer; they are dropped once it is full.",
            ),
            alert(
                STORE_DROPPING, f"increase(slamon_store_dropped_total{job}[10m]) > 0", 0, "ticket",
                "slamon on {{ $labels.instance }} is dropping probe results",
                "The store buffer overflowed: SLA evidence for this time is incomplete.",
            ),
            alert(
                LOCAL_FAULTS, f"increase(slamon_probe_local_faults_total{job}[10m]) > 0", 0, "ticket",
                "slamon on {{ $labels.instance }} fails probes for faults of its own",
                "Probe runs failed for lack of file descriptors, buffer space or memory in the "
                "daemon itself. Their time is unobserved in the SLA (never down); fix the "
                "daemon's limits before the gaps grow.",
            ),
            alert(
                SCHEDULER_LAGGING,
                "histogram_quantile(0.99, sum by (instance, le) "
                f"(rate(slamon_scheduler_lag_seconds_bucket{job}[10m]))) > 1",
                900, "ticket",
                "slamon on {{ $labels.instance }} starts probes late",
                "The 99th percentile of the scheduler's lag is above one second: the daemon "
                "is overloaded (CPU, concurrency limits or too many probes for one daemon).",
            ),
            alert(
                DUPLICATE_MINUTES, f"increase(slamon_duplicate_minutes_total{job}[1h]) > 0", 0, "ticket",
                "Two slamon daemons probed the same services in the same minutes",
                "Two daemons held one shard at once (a network partition with an old lease, or "
                "two daemons of one scope started with different --shards). The SLA counts each "
                "minute once; find the daemons in the probe_result.daemon column.",
            ),
            alert(
                LEASE_LOST, f"slamon_lease_up{job} == 0", 120, "ticket",
                "slamon on {{ $labels.instance }} has lost its shard leases",
                "The daemon cannot reach PostgreSQL for its leases and probes nothing; the "
                "other daemons of its scope take its shards over. It resumes by itself when "
                "the database answers again.",
            ),
        ],
    }


def build_rule_documents(catalogue: Catalogue, opts: RuleOptions | None = None) -> dict[str, dict]:
    """File name -> rule file document (``{"groups": [...]}``), in a stable order."""
    opts = opts or RuleOptions()
    docs: dict[str, dict] = {}
    for office, plans in plans_by_office(catalogue).items():
        groups = [service_group(p, opts) for p in plans]
        if plans:
            groups.append(period_group(office, plans))
        docs[rule_file_name(office)] = {"groups": groups}
    docs[DAEMON_RULES_FILE] = {"groups": [daemon_group(opts)]}
    return dict(sorted(docs.items()))
