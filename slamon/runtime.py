"""The daemon's live state, shared read-only with the web server and exporters.

The daemon owns one ``Runtime`` and mutates it on the event loop; readers (the
``/metrics`` collector, the status page, the API) only read it, so a scrape never
does I/O. Stats carry their units in their names.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from slamon.core.catalogue import Catalogue
from slamon.core.indicators import IndicatorValue
from slamon.core.observed import Observations


@dataclass
class SchedulerStats:
    in_flight: int = 0
    scheduled_probes: int = 0
    runs_total: int = 0
    overruns_total: int = 0  # a run skipped because the previous one was still going
    hard_timeouts_total: int = 0  # probe functions abandoned past timeout + grace
    errors_total: int = 0  # probe functions that raised (a bug; counted as Reason.error)
    lag_seconds_sum: float = 0.0
    lag_seconds_count: int = 0
    lag_seconds_max: float = 0.0
    # fixed histogram buckets for scheduling lag (seconds); counts are cumulative-free
    lag_buckets: tuple[float, ...] = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
    lag_bucket_counts: list[int] = field(default_factory=lambda: [0] * 11)

    def observe_lag(self, lag_seconds: float) -> None:
        self.lag_seconds_sum += lag_seconds
        self.lag_seconds_count += 1
        self.lag_seconds_max = max(self.lag_seconds_max, lag_seconds)
        for i, bound in enumerate(self.lag_buckets):
            if lag_seconds <= bound:
                self.lag_bucket_counts[i] += 1
                return
        self.lag_bucket_counts[-1] += 1


@dataclass
class StoreStats:
    queue_length: int = 0
    buffer_capacity: int = 0
    written_total: int = 0
    dropped_total: int = 0  # results lost because the buffer was full
    write_errors_total: int = 0
    last_flush_timestamp_seconds: float | None = None
    available: bool = True


@dataclass
class LeaseStats:
    """What /readyz, /metrics and the status page show about leases."""

    shards: int = 0  # N of --shards (0: leases off)
    held: frozenset[int] = frozenset()
    evaluator: bool = False
    connected: bool = False
    daemons: int = 0  # daemons of the scope seen on the last tick (this one included)
    acquired_total: int = 0  # shards taken (start, takeover, rebalance)
    released_total: int = 0  # shards given back (rebalance, shutdown)
    lost_total: int = 0  # times the lock session was lost (every shard dropped)
    duplicate_minutes_total: int = 0  # minutes probed by two daemons (evaluator only)
    problem: str | None = None  # why nothing can be proven held, while it lasts
    identity: str = ""


@dataclass
class CatalogueStats:
    load_success: bool = False
    loaded_timestamp_seconds: float | None = None  # unix time of the last good load
    reloads_total: Counter[str] = field(default_factory=Counter)  # "success" / "failure"
    errors: int = 0
    warnings: int = 0
    # why the latest reload was refused (``file:line:column: CODE message`` per error,
    # at most ``MAX_KEPT_ERRORS``) and when; cleared by the next good load
    last_errors: tuple[str, ...] = ()
    last_failure_timestamp_seconds: float | None = None


MAX_KEPT_ERRORS = 100


@dataclass(frozen=True, slots=True)
class ObjectiveSnapshot:
    """One objective of a service's SLA at one vantage, in the current period."""

    objective: str  # availability | latency | steps | unplanned_outages
    target_ratio: float  # 0..1 (99.9 % is 0.999)
    measure_ratio: float | None = None  # 0..1 so far in the period; None while unobserved


@dataclass(frozen=True, slots=True)
class SlaSnapshot:
    """The current-period SLA of one service at one vantage, for exporters.

    Filled by the daemon from the SLA engine. Frozen: the daemon replaces a snapshot
    when it changes (exporters cache by identity), never mutates it.
    """

    vantage: str
    service_id: str
    office: str
    period_end_timestamp_seconds: float  # unix seconds, end of the current period
    objectives: tuple[ObjectiveSnapshot, ...] = ()
    error_budget_remaining_ratio: float | None = None  # 1 = untouched, 0 = spent, < 0 over
    burn_rate: float | None = None  # 1 = spending exactly the budget over the period
    open_breaches: frozenset[str] = frozenset()  # objectives with an open breach


@dataclass
class Runtime:
    observations: Observations = field(default_factory=Observations)
    catalogue: Catalogue | None = None
    catalogue_stats: CatalogueStats = field(default_factory=CatalogueStats)
    scheduler: SchedulerStats = field(default_factory=SchedulerStats)
    store: StoreStats = field(default_factory=StoreStats)
    started_timestamp_seconds: float = 0.0
    vantages: tuple[str, ...] = ()  # offices this daemon probes from
    ready: bool = False
    leases: LeaseStats | None = None  # with --shards N (slamon.leases), else None
    # current-period SLA per (vantage, service id); replaced, not mutated
    sla: dict[tuple[str, str], SlaSnapshot] = field(default_factory=dict)
    # the three indicators for the current period (per office and "all"); each value
    # carries its baseline, target and biennium
    indicators: list[IndicatorValue] = field(default_factory=list)
