"""``/metrics``: every series of METRICS.md, from the daemon's in-memory ``Runtime``.

``SlamonCollector(runtime)`` is registered by the daemon in a private
``CollectorRegistry``. ``collect()`` builds fresh metric families and never does
I/O. For large estates ``exposition_chunks()`` gives the same output as
prometheus_client would render from ``collect()``, but keeps each probe's, each
service's and each SLA snapshot's lines rendered between scrapes and re-renders
only those whose state changed (see ``exporters.exposition.render``).

Both paths take their samples from the same functions below (``_probe_samples``
and friends), so they cannot disagree about names, labels or values. Label values
are ids and closed enums only (offices, services, probes, tiers, reasons, phases,
objectives, journey step names from the catalogue): never URLs or error text.

Why one module above 500 lines: it is one thing, the series of METRICS.md; both
rendering paths must read the same sample functions, so they stay side by side.
"""

from __future__ import annotations

import itertools
import operator
import platform
import threading
from collections.abc import Generator, Iterable, Sequence
from operator import itemgetter

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

import slamon
from exporters.alerting.delivery import AlertStats
from exporters.exposition import Labels, LineFormatter, Spec, family_header, render_families
from slamon.core.catalogue import Catalogue
from slamon.core.model import Lifecycle
from slamon.core.observed import Key, ProbeRecord
from slamon.core.results import PHASES, Reason, WarningReason
from slamon.core.state import State, worst
from slamon.runtime import Runtime, SlaSnapshot

PROBE = ("vantage", "office", "service", "probe")
SERVICE = ("vantage", "office", "service")

# --- families fed per probe (cached per probe)
PROBE_SPECS = (
    Spec("probe_success", "gauge", "Whether the last probe succeeded (1) or failed (0).", PROBE),
    Spec("probe_duration_seconds", "gauge", "Duration of the last probe in seconds.", PROBE),
    Spec("probe_http_status_code", "gauge", "HTTP status code of the last response (0: none).", PROBE),
    Spec("probe_http_duration_seconds", "gauge", "Duration of the last HTTP probe by phase, in seconds.", (*PROBE, "phase")),
    Spec("probe_http_ssl", "gauge", "Whether the last HTTP probe used TLS (1) or not (0).", PROBE),
    Spec("probe_ssl_earliest_cert_expiry", "gauge", "Earliest certificate expiry in the chain, unix seconds.", PROBE),
    Spec("probe_dns_lookup_time_seconds", "gauge", "Name resolution time of the last probe in seconds.", PROBE),
    Spec("probe_ip_protocol", "gauge", "IP protocol of the last probe (4 or 6).", PROBE),
    Spec("probe_failed_due_to_regex", "gauge", "Whether the last probe failed on a body expectation (1) or not (0).", PROBE),
    Spec("slamon_probe_results", "counter", "Probe results taken in.", PROBE),
    Spec("slamon_probe_failures", "counter", "Failed probe results by reason.", (*PROBE, "reason")),
    Spec("slamon_journey_step_duration_seconds", "gauge", "Duration of each step of the last journey, in seconds.", (*PROBE, "step")),
    Spec("slamon_journey_step_success", "gauge", "Whether each step of the last journey succeeded (1) or not (0).", (*PROBE, "step")),
    Spec("probe_http_version", "gauge", "HTTP version of the last response (1.1, 2).", PROBE),
    Spec("probe_tls_version", "info", "TLS version the last probe negotiated.", (*PROBE, "version")),
    Spec("slamon_probe_warning", "gauge", "Whether the last result succeeded with a warning (1), by warning reason; absent without one.", (*PROBE, "reason")),
    Spec("probe_icmp_duration_seconds", "gauge", "Duration of the last ICMP probe by phase (resolve; rtt: mean round trip of the replies), in seconds.", (*PROBE, "phase")),
    Spec("slamon_probe_icmp_packet_loss_ratio", "gauge", "Share of the last ICMP probe's echo requests left unanswered (0..1).", PROBE),
)
# --- families fed per (vantage, service) (cached per group of probes)
SERVICE_SPECS = (
    Spec("slamon_service_up", "gauge", "Service up (1) or down (0) at a vantage, after failure/success thresholds; absent while unknown.", SERVICE),
    Spec("slamon_service_state", "gauge", "Service state at a vantage, one-hot over up, down and unknown.", (*SERVICE, "state")),
    Spec("slamon_sli_events", "counter", "Probe results inside eligible time (service hours, outside maintenance and exclusions), per objective.", (*SERVICE, "objective")),
    Spec("slamon_sli_good_events", "counter", "Eligible probe results that were good: succeeded (availability), succeeded within the threshold (latency).", (*SERVICE, "objective")),
)
# --- families fed per SLA snapshot (cached per snapshot)
SLA_SPECS = (
    Spec("slamon_sla_objective_ratio", "gauge", "SLA objective target in the current period (0..1).", (*SERVICE, "objective")),
    Spec("slamon_sla_measure_ratio", "gauge", "SLA measure so far in the current period (0..1).", (*SERVICE, "objective")),
    Spec("slamon_sla_error_budget_remaining_ratio", "gauge", "Share of the period's error budget left (1 untouched, 0 spent, below 0 overspent).", SERVICE),
    Spec("slamon_sla_burn_rate", "gauge", "Error budget burn rate in the current period (1 = exactly the budget over the period).", SERVICE),
    Spec("slamon_sla_period_end_timestamp_seconds", "gauge", "End of the current SLA period, unix seconds.", SERVICE),
    Spec("slamon_breaches_open", "gauge", "Whether a breach of the objective is open (1) or not (0).", (*SERVICE, "objective")),
)
# --- families fed per catalogue (cached per catalogue)
CATALOGUE_SPECS = (
    Spec("slamon_service", "info", "Services of the catalogue with their tier, lifecycle, category and owner group.",
         ("office", "service", "tier", "lifecycle", "category", "owner_group")),
    Spec("slamon_catalogue_services", "gauge", "Services in the loaded catalogue per office and lifecycle.", ("office", "lifecycle")),
)
CACHED_SPECS = PROBE_SPECS + SERVICE_SPECS + SLA_SPECS + CATALOGUE_SPECS
(
    P_SUCCESS, P_DURATION, P_STATUS, P_PHASE, P_SSL, P_CERT, P_DNS, P_IP, P_REGEX,
    P_RESULTS, P_FAILURES, P_STEP_DURATION, P_STEP_SUCCESS, P_HTTP_VERSION, P_TLS_VERSION,
    P_WARNING,
    P_ICMP_PHASE, P_ICMP_LOSS,
    S_UP, S_STATE, S_EVENTS, S_GOOD,
    L_OBJECTIVE, L_MEASURE, L_BUDGET, L_BURN, L_PERIOD_END, L_BREACH,
    C_INFO, C_SERVICES,
) = range(len(CACHED_SPECS))

HTTP_KINDS = ("http", "journey")
# ssl's names for TLS versions -> blackbox_exporter's label values (anything else: no series)
TLS_VERSIONS = {
    "TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1", "TLSv1.2": "TLS 1.2", "TLSv1.3": "TLS 1.3",
    "TLS 1.0": "TLS 1.0", "TLS 1.1": "TLS 1.1", "TLS 1.2": "TLS 1.2", "TLS 1.3": "TLS 1.3",
}
HTTP_VERSIONS = {"HTTP/1.0": 1.0, "HTTP/1.1": 1.1, "HTTP/2": 2.0, "HTTP/2.0": 2.0, "HTTP/3": 3.0,
                 "1.0": 1.0, "1.1": 1.1, "2": 2.0, "2.0": 2.0, "3": 3.0}
REGEX_KINDS = ("http", "journey", "tcp")

Sample = tuple[int, tuple[str, ...], float]  # (family, extra label values after the base, value)
NO: tuple[str, ...] = ()


# ----------------------------------------------------------------- sample sources


def _office_of(catalogue: Catalogue | None, service_id: str) -> str:
    svc = catalogue.services.get(service_id) if catalogue else None
    return svc.office if svc else service_id.split("-", 1)[0]


def _probe_samples(rec: ProbeRecord) -> list[Sample]:
    """Samples of one probe at one vantage; base labels ``PROBE``."""
    out: list[Sample] = [(P_RESULTS, NO, rec.results_total)]
    for reason, n in sorted(rec.failures_total.items()):
        out.append((P_FAILURES, (Reason(reason).value,), n))
    last = rec.last
    if last is None:
        return out
    o = last.outcome
    out.append((P_SUCCESS, NO, 1 if o.success else 0))
    out.append((P_DURATION, NO, o.duration_seconds))
    if last.kind in HTTP_KINDS:
        out.append((P_STATUS, NO, o.status_code or 0))
        phases = o.phases
        for phase in PHASES:
            out.append((P_PHASE, (phase,), phases.get(phase, 0.0)))
        tls = o.tls_version is not None or o.cert_expiry_timestamp is not None
        out.append((P_SSL, NO, 1 if tls else 0))
        if o.http_version in HTTP_VERSIONS:
            out.append((P_HTTP_VERSION, NO, HTTP_VERSIONS[o.http_version]))
    if o.warning is not None and o.success:
        out.append((P_WARNING, (WarningReason(o.warning).value,), 1))
    if o.tls_version in TLS_VERSIONS:
        out.append((P_TLS_VERSION, (TLS_VERSIONS[o.tls_version],), 1))
    if o.cert_expiry_timestamp is not None:
        out.append((P_CERT, NO, o.cert_expiry_timestamp))
    dns = o.dns_lookup_seconds if o.dns_lookup_seconds is not None else o.phases.get("resolve")
    if dns is not None:
        out.append((P_DNS, NO, dns))
    if o.ip_protocol in (4, 6):
        out.append((P_IP, NO, o.ip_protocol))
    if last.kind in REGEX_KINDS:
        out.append((P_REGEX, NO, 1 if o.reason is Reason.body else 0))
    if o.packets_sent:  # icmp: only a run that sent echo requests has these
        out.append((P_ICMP_PHASE, ("resolve",), o.phases.get("resolve", 0.0)))
        if o.rtt_seconds is not None:
            out.append((P_ICMP_PHASE, ("rtt",), o.rtt_seconds))
        out.append((P_ICMP_LOSS, NO, o.packet_loss_ratio))
    seen: set[str] = set()
    for step in o.steps:
        if step.name in seen:  # a repeated step name would make a duplicate series
            continue
        seen.add(step.name)
        out.append((P_STEP_DURATION, (step.name,), step.duration_seconds))
        out.append((P_STEP_SUCCESS, (step.name,), 1 if step.success else 0))
    return out


def _has_latency_objective(catalogue: Catalogue | None, service_id: str) -> bool:
    if catalogue is None or service_id not in catalogue.services:
        return False
    svc = catalogue.services[service_id]
    return svc.tier in catalogue.tiers and catalogue.sla(svc).latency is not None


def _service_samples(recs: Sequence[ProbeRecord], latency: bool) -> list[Sample]:
    """Samples of one service at one vantage; base labels ``SERVICE``."""
    state = worst([r.state.state for r in recs])
    out: list[Sample] = []
    if state is not State.unknown:
        out.append((S_UP, NO, 1 if state is State.up else 0))
    for s in State:
        out.append((S_STATE, (s.value,), 1 if s is state else 0))
    out.append((S_EVENTS, ("availability",), sum(r.in_scope_total for r in recs)))
    out.append((S_GOOD, ("availability",), sum(r.in_scope_good_total for r in recs)))
    timed = sum(r.in_scope_timed_total for r in recs)
    if latency or timed:
        out.append((S_EVENTS, ("latency",), timed))
        out.append((S_GOOD, ("latency",), sum(r.in_scope_fast_total for r in recs)))
    return out


def _sla_base(key: tuple[str, str], snap: SlaSnapshot) -> tuple[str, ...]:
    """Labels from the ``Runtime.sla`` key, so two snapshots never make one series."""
    return (key[0], snap.office, key[1])


def _sla_samples(snap: SlaSnapshot) -> list[Sample]:
    """Samples of one SLA snapshot; base labels ``SERVICE``."""
    out: list[Sample] = []
    names: list[str] = []
    for obj in snap.objectives:
        if obj.objective in names:
            continue
        names.append(obj.objective)
        out.append((L_OBJECTIVE, (obj.objective,), obj.target_ratio))
        if obj.measure_ratio is not None:
            out.append((L_MEASURE, (obj.objective,), obj.measure_ratio))
    if snap.error_budget_remaining_ratio is not None:
        out.append((L_BUDGET, NO, snap.error_budget_remaining_ratio))
    if snap.burn_rate is not None:
        out.append((L_BURN, NO, snap.burn_rate))
    out.append((L_PERIOD_END, NO, snap.period_end_timestamp_seconds))
    for name in names + sorted(set(snap.open_breaches) - set(names)):
        out.append((L_BREACH, (name,), 1 if name in snap.open_breaches else 0))
    return out


def _catalogue_samples(catalogue: Catalogue | None) -> list[Sample]:
    """Samples of the catalogue; full label values (no base)."""
    if catalogue is None:
        return []
    out: list[Sample] = []
    counts: dict[tuple[str, str], int] = {}
    for svc in catalogue.services.values():
        out.append((C_INFO, (svc.office, svc.id, svc.tier, svc.lifecycle.value, svc.category.value, svc.owner.group), 1))
        counts[svc.office, svc.lifecycle.value] = counts.get((svc.office, svc.lifecycle.value), 0) + 1
    for office in sorted(set(catalogue.offices) | {o for o, _ in counts}):
        for lc in Lifecycle:
            out.append((C_SERVICES, (office, lc.value), counts.get((office, lc.value), 0)))
    return out


def _groups(items: list[tuple[Key, ProbeRecord]]) -> dict[tuple[str, str], list[tuple[Key, ProbeRecord]]]:
    """Probes by (vantage, service), in the order the services were first seen."""
    groups: dict[tuple[str, str], list[tuple[Key, ProbeRecord]]] = {}
    for key, rec in items:
        groups.setdefault((key[0], key[1]), []).append((key, rec))
    return groups


# ----------------------------------------------------------------- uncached families


def _daemon_families(runtime: Runtime) -> list[Metric]:
    """Indicators and the daemon's own health: few series, built fresh every time."""
    fams: list[Metric] = []

    value = GaugeMetricFamily("slamon_indicator_value", "Indicator value in the current period (count, or percent for services-meeting-levels).", labels=("office", "indicator"))
    target = GaugeMetricFamily("slamon_indicator_target", "Indicator target for the biennium, in the indicator's unit.", labels=("office", "indicator", "biennium"))
    baseline = GaugeMetricFamily("slamon_indicator_baseline", "Indicator baseline for the biennium, in the indicator's unit.", labels=("office", "indicator", "biennium"))
    seen: set[tuple[str, str, str]] = set()
    cat = runtime.catalogue
    if cat is not None:
        for bt in cat.indicators.targets:
            for office, per_indicator in bt.offices.items():
                for ind, pair in per_indicator.items():
                    if (office, ind.value, bt.biennium) in seen:  # a biennium listed twice
                        continue
                    seen.add((office, ind.value, bt.biennium))
                    target.add_metric((office, ind.value, bt.biennium), pair.target)
                    baseline.add_metric((office, ind.value, bt.biennium), pair.baseline)
    shown: set[tuple[str, str]] = set()
    for iv in runtime.indicators:
        key = (iv.office, iv.indicator.value)
        if key in shown:
            continue
        shown.add(key)
        if iv.value is not None:
            value.add_metric(key, iv.value)
        if iv.biennium and (*key, iv.biennium) not in seen:
            seen.add((*key, iv.biennium))
            if iv.target is not None:
                target.add_metric((*key, iv.biennium), iv.target)
            if iv.baseline is not None:
                baseline.add_metric((*key, iv.biennium), iv.baseline)
    fams += [value, target, baseline]

    cs = runtime.catalogue_stats
    fams.append(GaugeMetricFamily("slamon_catalogue_load_success", "Whether the last catalogue load succeeded (1) or was refused (0).", value=1 if cs.load_success else 0))
    loaded = GaugeMetricFamily("slamon_catalogue_loaded_timestamp_seconds", "When the running catalogue was loaded, unix seconds.")
    if cs.loaded_timestamp_seconds is not None:
        loaded.add_metric((), cs.loaded_timestamp_seconds)
    fams.append(loaded)
    reloads = CounterMetricFamily("slamon_catalogue_reloads", "Catalogue loads by result.", labels=("result",))
    for result in ("success", "failure"):
        reloads.add_metric((result,), cs.reloads_total.get(result, 0))
    fams.append(reloads)

    sch = runtime.scheduler
    cumulative = list(itertools.accumulate(sch.lag_bucket_counts))
    buckets = [(floatToGoString(b), cumulative[i]) for i, b in enumerate(sch.lag_buckets)]
    buckets.append(("+Inf", sch.lag_seconds_count))
    lag = HistogramMetricFamily("slamon_scheduler_lag_seconds", "How late probe runs started against their schedule, in seconds.")
    lag.add_metric((), buckets, sch.lag_seconds_sum)
    fams.append(lag)
    fams.append(GaugeMetricFamily("slamon_scheduler_in_flight", "Probes running now.", value=sch.in_flight))
    fams.append(GaugeMetricFamily("slamon_scheduler_probes", "Probes scheduled (probe x vantage).", value=sch.scheduled_probes))
    fams.append(CounterMetricFamily("slamon_scheduler_runs", "Probe runs started.", value=sch.runs_total))
    fams.append(CounterMetricFamily("slamon_probe_local_faults", "Probe runs that failed for a fault of the daemon itself (descriptors, memory), counted as unobserved time.", value=runtime.observations.local_faults_total))
    fams.append(CounterMetricFamily("slamon_scheduler_overruns", "Probe runs skipped because the previous run was still going.", value=sch.overruns_total))

    st = runtime.store
    fams.append(GaugeMetricFamily("slamon_store_queue_length", "Results waiting to be written.", value=st.queue_length))
    fams.append(GaugeMetricFamily("slamon_store_buffer_capacity", "Results the write buffer holds at most.", value=st.buffer_capacity))
    fams.append(GaugeMetricFamily("slamon_store_up", "Whether the database is reachable (1) or not (0).", value=1 if st.available else 0))
    fams.append(CounterMetricFamily("slamon_store_written", "Results written to the store.", value=st.written_total))
    fams.append(CounterMetricFamily("slamon_store_dropped", "Results dropped because the buffer was full.", value=st.dropped_total))
    fams.append(CounterMetricFamily("slamon_store_write_errors", "Failed store writes.", value=st.write_errors_total))

    fams += _lease_families(runtime)

    build = InfoMetricFamily("slamon_build", "slamon build information.", labels=("version", "python"))
    build.add_metric((slamon.__version__, platform.python_version()), {})
    fams.append(build)
    return fams


def _lease_families(runtime: Runtime) -> list[Metric]:
    """Shard leases (``--shards N``): only a daemon running with leases has these."""
    ls = runtime.leases
    if ls is None:
        return []
    return [
        GaugeMetricFamily("slamon_lease_shards", "Shards the services are split into (--shards N).", value=ls.shards),
        GaugeMetricFamily("slamon_lease_shards_held", "Shards this daemon holds a lease on and probes.", value=len(ls.held)),
        GaugeMetricFamily("slamon_lease_evaluator", "Whether this daemon holds the evaluator lease (1) or not (0).", value=1 if ls.evaluator else 0),
        GaugeMetricFamily("slamon_lease_up", "Whether the lease session to PostgreSQL is up (1) or lost (0).", value=1 if ls.connected else 0),
        GaugeMetricFamily("slamon_lease_daemons", "Daemons of this daemon's scope seen alive in PostgreSQL.", value=ls.daemons),
        CounterMetricFamily("slamon_lease_acquired", "Shard leases taken (start, takeover, rebalance).", value=ls.acquired_total),
        CounterMetricFamily("slamon_lease_released", "Shard leases given back (rebalance, shutdown).", value=ls.released_total),
        CounterMetricFamily("slamon_lease_lost", "Times the lease session was lost and every shard dropped.", value=ls.lost_total),
        CounterMetricFamily("slamon_duplicate_minutes", "Minutes in which two daemons probed the same service from the same vantage at once (counted once in the SLA).", value=ls.duplicate_minutes_total),
    ]


def _alert_families(stats: AlertStats | None) -> list[Metric]:
    """The daemon's own alert notifier (zero when it has no targets)."""
    sent = CounterMetricFamily("slamon_alerts_sent", "Alert deliveries by target (host:port) and result.", labels=("target", "result"))
    dropped = CounterMetricFamily("slamon_alerts_dropped", "Alert events dropped because a queue was full.", value=stats.dropped_total if stats else 0)
    queue = GaugeMetricFamily("slamon_alerts_queue_length", "Alert events waiting for delivery.", value=stats.queue_length if stats else 0)
    if stats is not None:
        for (target, result), n in sorted(stats.sent_total.items()):
            sent.add_metric((target, result), n)
    return [sent, dropped, queue]


# ----------------------------------------------------------------- the collector


class _Slot:
    """One probe's rendered lines, with what they were rendered from."""

    __slots__ = ("base", "key", "labels", "last", "n", "rec", "text")

    def __init__(self, key: Key, rec: ProbeRecord, base: tuple[str, ...], labels: Labels) -> None:
        self.key, self.rec, self.base, self.labels = key, rec, base, labels
        self.last: object = _UNSET  # rec.last and rec.results_total when rendered
        self.n = -1
        self.text: tuple[bytes, ...] = ()


class _Group:
    """One service at one vantage: its probes' slots and its own rendered lines,
    with the probe texts those were rendered after (by identity)."""

    __slots__ = ("base", "labels", "latency", "slots", "sources", "text")

    def __init__(self, base: tuple[str, ...], labels: Labels, latency: bool, slots: list[_Slot]) -> None:
        self.base, self.labels, self.latency, self.slots = base, labels, latency, slots
        self.text: tuple[bytes, ...] | None = None
        self.sources: list[tuple[bytes, ...]] = []


_KEY, _REC = itemgetter(0), itemgetter(1)
_UNSET = object()
BLOCK_GROUPS = 64  # services (at a vantage) joined at a time


class SlamonCollector(Collector):
    """Custom collector over the daemon's ``Runtime``; no I/O in ``collect()``."""

    def __init__(self, runtime: Runtime, alert_stats: AlertStats | None = None) -> None:
        self.runtime = runtime
        self.alert_stats = alert_stats  # the daemon's own alert notifier, when it has targets
        self._fmt = LineFormatter(CACHED_SPECS)
        # cached path: the layout of probes into services, rebuilt only when the set of
        # probes or the catalogue changes; rendered lines survive a rebuild when their
        # labels did not change
        self._layout: list[_Group] = []
        self._layout_keys: list[Key] = []
        self._layout_recs: list[ProbeRecord] = []
        self._layout_catalogue: object = _UNSET
        self._sla: dict[tuple[str, str], tuple[SlaSnapshot, tuple[bytes, ...]]] = {}
        self._catalogue_text: tuple[object, tuple[bytes, ...]] = (_UNSET, ())
        self.rerendered = 0  # parts re-rendered by the last exposition_chunks() (tests, benchmarks)
        self._lock = threading.Lock()  # one render at a time owns the caches

    def describe(self) -> Iterable[Metric]:
        return [s.family() for s in CACHED_SPECS] + _daemon_families(Runtime()) + _alert_families(None)

    # -- plain path: fresh families every time

    def collect(self) -> Iterable[Metric]:
        rt = self.runtime
        cat = rt.catalogue
        fams = [s.family() for s in CACHED_SPECS]
        for base, part in self._parts(rt, cat):
            for idx, extra, value in part:
                CACHED_SPECS[idx].add(fams[idx], base + extra, value)
        return fams + _daemon_families(rt) + _alert_families(self.alert_stats)

    @staticmethod
    def _parts(rt: Runtime, cat: Catalogue | None) -> Iterable[tuple[tuple[str, ...], list[Sample]]]:
        groups = _groups(list(rt.observations.probes.items()))
        for (vantage, sid), members in groups.items():
            office = _office_of(cat, sid)
            for key, rec in members:
                yield (vantage, office, sid, key[2]), _probe_samples(rec)
        for (vantage, sid), members in groups.items():
            base = (vantage, _office_of(cat, sid), sid)
            yield base, _service_samples([rec for _, rec in members], _has_latency_objective(cat, sid))
        for key, snap in list(rt.sla.items()):
            yield _sla_base(key, snap), _sla_samples(snap)
        yield (), _catalogue_samples(cat)

    # -- cached path: the same output, re-rendering only what changed

    def _current_layout(self, rt: Runtime, cat: Catalogue | None) -> Generator[None, None, list[_Group]]:
        """The layout of probes into services (a generator: yields between services
        while it rebuilds, returns the layout)."""
        probes = rt.observations.probes
        keys, recs = list(probes), list(probes.values())  # each one atomic copy
        if len(keys) != len(recs):  # changed in between (by a thread): one copy of both
            items = list(probes.items())
            keys, recs = list(map(_KEY, items)), list(map(_REC, items))
        if (
            cat is self._layout_catalogue
            and keys == self._layout_keys
            and all(map(operator.is_, recs, self._layout_recs))
        ):
            return self._layout
        grouped = _groups(list(zip(keys, recs, strict=True)))
        yield
        old_slots = {slot.key: slot for g in self._layout for slot in g.slots}
        old_groups = {g.base: g for g in self._layout}
        yield
        labels = self._fmt.labels
        layout = []
        for (vantage, sid), members in grouped.items():
            office = _office_of(cat, sid)
            slots = []
            for key, rec in members:
                base = (vantage, office, sid, key[2])
                slot = old_slots.get(key)
                if slot is None or slot.rec is not rec or slot.base != base:
                    slot = _Slot(key, rec, base, labels(PROBE, base))
                slots.append(slot)
            gbase = (vantage, office, sid)
            latency = _has_latency_objective(cat, sid)
            old = old_groups.get(gbase)
            if old is not None and old.latency == latency and len(old.slots) == len(slots) and all(
                map(operator.is_, old.slots, slots)
            ):
                group = old  # same probes, same labels: its lines still hold
            else:
                group = _Group(gbase, old.labels if old is not None else labels(SERVICE, gbase), latency, slots)
            layout.append(group)
            if len(layout) % BLOCK_GROUPS == 0:
                yield
        self._layout, self._layout_keys, self._layout_recs = layout, keys, recs
        self._layout_catalogue = cat
        return layout

    def exposition_chunks(self, openmetrics: bool) -> list[bytes]:
        """The collector's families in the exposition format, as byte chunks, at once.

        Meant for the event loop, like ``collect()``: the runtime is only mutated there.
        It reads the runtime's dicts through one-step copies, and a result recorded
        after a render is re-rendered next time.
        """
        with self._lock:
            steps = self._steps(openmetrics)
            while True:
                try:
                    next(steps)
                except StopIteration as done:
                    return done.value

    def exposition_steps(self, openmetrics: bool) -> Generator[None, None, list[bytes]]:
        """The same chunks, built in short steps; the generator returns them.

        For ``exporters.exposition.render_async``: the caller may let the event loop
        run between two steps, so results recorded meanwhile are seen by the steps
        after. Each step renders whole services (a service's probe and service series
        come from one step, so they agree), but a scrape is not one atomic snapshot
        across services, as with any exporter that reads live state. A service whose
        result lands after its step is rendered afresh at the next scrape.
        """
        steps = self._steps(openmetrics)
        while True:
            with self._lock:  # one step at a time owns the caches (not across yields)
                try:
                    next(steps)
                except StopIteration as done:
                    return done.value
            yield

    def _steps(self, openmetrics: bool) -> Generator[None, None, list[bytes]]:
        """The rendering, as a generator that yields between short steps.

        Every cache update is complete within a step, and each is checked against what
        it was built from (by identity), so two interleaved renders stay correct.
        """
        rt = self.runtime
        cat = rt.catalogue
        rerendered = 0
        part = self._fmt.part
        n_probe, n_service, n_sla = len(PROBE_SPECS), len(SERVICE_SPECS), len(SLA_SPECS)
        is_ = operator.is_

        layout = yield from self._current_layout(rt, cat)
        yield
        probe_pieces: list[list[bytes]] = [[] for _ in PROBE_SPECS]
        service_pieces: list[list[bytes]] = [[] for _ in SERVICE_SPECS]
        for start in range(0, len(layout), BLOCK_GROUPS):
            groups = layout[start : start + BLOCK_GROUPS]
            for group in groups:
                sources = []
                for slot in group.slots:
                    rec = slot.rec
                    if slot.last is not rec.last or slot.n != rec.results_total:
                        slot.text = part(slot.labels, _probe_samples(rec), 0, n_probe)
                        slot.last, slot.n = rec.last, rec.results_total
                        rerendered += 1
                    sources.append(slot.text)
                if (
                    group.text is None
                    or len(sources) != len(group.sources)
                    or not all(map(is_, sources, group.sources))
                ):
                    samples = _service_samples([slot.rec for slot in group.slots], group.latency)
                    group.text, group.sources = part(group.labels, samples, S_UP, n_service), sources
                    rerendered += 1
                yield
            # each family's lines of the block joined now: the final join has few pieces
            probe_texts = [slot.text for g in groups for slot in g.slots]
            for j in range(n_probe):
                probe_pieces[j].append(b"".join(map(itemgetter(j), probe_texts)))
            service_texts = [g.text for g in groups]
            for j in range(n_service):
                service_pieces[j].append(b"".join(map(itemgetter(j), service_texts)))
            yield

        sla_pieces: list[list[bytes]] = [[] for _ in SLA_SPECS]
        sla_texts: list[tuple[bytes, ...]] = []
        old_sla, new_sla = self._sla, {}
        items = list(rt.sla.items())
        for start in range(0, len(items), BLOCK_GROUPS):
            for key, snap in items[start : start + BLOCK_GROUPS]:
                cached = old_sla.get(key)
                if cached is None or cached[0] is not snap:
                    labels = self._fmt.labels(SERVICE, _sla_base(key, snap))
                    cached = (snap, part(labels, _sla_samples(snap), L_OBJECTIVE, n_sla))
                    rerendered += 1
                new_sla[key] = cached
                sla_texts.append(cached[1])
            for j in range(n_sla):
                sla_pieces[j].append(b"".join(map(itemgetter(j), sla_texts)))
            sla_texts.clear()
            yield
        self._sla = new_sla

        if self._catalogue_text[0] is not cat:
            lines = [[] for _ in CATALOGUE_SPECS]  # type: list[list[str]]
            for i, (idx, values, value) in enumerate(_catalogue_samples(cat)):
                lines[idx - C_INFO].append(self._fmt.line(idx, values, value))
                if i % 1024 == 1023:
                    yield
            self._catalogue_text = (cat, tuple("".join(x).encode() for x in lines))
            rerendered += 1
        catalogue_pieces = [[t] for t in self._catalogue_text[1]]
        self.rerendered = rerendered

        chunks: list[bytes] = []
        for specs, pieces in (
            (PROBE_SPECS, probe_pieces),
            (SERVICE_SPECS, service_pieces),
            (SLA_SPECS, sla_pieces),
            (CATALOGUE_SPECS, catalogue_pieces),
        ):
            for spec, family_pieces in zip(specs, pieces, strict=True):
                chunks.append(family_header(spec, openmetrics))
                chunks.extend(family_pieces)
        chunks.append(render_families(_daemon_families(rt) + _alert_families(self.alert_stats), openmetrics).encode())
        return chunks
