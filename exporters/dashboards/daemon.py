"""The daemon health dashboard: the daemons themselves: scrape and catalogue state,
scheduling lag, concurrency, overruns and the result store."""

from __future__ import annotations

from typing import Any

from exporters.dashboards.frame import Layout, dashboard, q, var_query
from exporters.dashboards.panels import bargauge, stat, timeseries
from exporters.dashboards.shared import results_by_vantage
from exporters.dashboards.styles import (
    OK_FAILED,
    ZERO_GOOD,
    by_name,
    colored,
    fixed,
    steps,
)

SELECTOR = 'instance=~"$instance"'

UID = "slamon-daemon"
TITLE = "slamon / Daemon health"
DESCRIPTION = "The daemons themselves: scrape and catalogue state, scheduling lag, concurrency, overruns and the result store."
VARIABLES = [var_query("instance", "Daemon", "label_values(slamon_build_info, instance)", multi=True)]


def _catalogue(lay: Layout, s: str = SELECTOR) -> None:
    lay.row("Daemon and catalogue")
    lay.add(stat.up_down("Scrape up", [q(f"max by (instance) (up{{{s}}})", "{{instance}}")]), 4, 5)
    lay.add(stat.labels("Version", [q(f"max by (instance, version, python) (slamon_build_info{{{s}}})",
                                      "{{instance}}: {{version}} (Python {{python}})")]), 5, 5)
    lay.add(stat.up_down("Catalogue load", [q(f"max by (instance) (slamon_catalogue_load_success{{{s}}})", "{{instance}}")],
                         mappings=OK_FAILED,
                         description="Whether the last load or reload succeeded; a failed reload keeps the last good "
                         "catalogue running."), 4, 5)
    lay.add(stat.moment("Catalogue loaded", f"max by (instance) (slamon_catalogue_loaded_timestamp_seconds{{{s}}})",
                        "{{instance}}"), 5, 5)
    lay.add(stat.panel("Reloads in range",
                       [q(f"sum by (result) (increase(slamon_catalogue_reloads_total{{{s}}}[$__range]))", "{{result}}")],
                       decimals=0, overrides=[by_name("failure", thresholds=ZERO_GOOD)], color=fixed("blue")), 6, 5)
    lay.add(bargauge.panel("Services in the catalogue",
                           [q(f"sum by (office, lifecycle) (slamon_catalogue_services{{{s}}})", "{{office}} {{lifecycle}}")],
                           decimals=0), 24, 7)


def _scheduler(lay: Layout, s: str = SELECTOR) -> None:
    lay.row("Scheduler")
    lag = f"sum by (le) (rate(slamon_scheduler_lag_seconds_bucket{{{s}}}[$__rate_interval]))"
    lay.add(timeseries.panel("Scheduling lag quantiles",
                             [q(f"histogram_quantile({p}, {lag})", f"p{int(p * 100)}") for p in (0.5, 0.9, 0.99)],
                             description="How late probe runs start after their due time. Sustained lag means the "
                             "daemon is short of CPU or concurrency.",
                             unit="s", thresholds=steps("green", (0.5, "orange"), (1.0, "red")), threshold_lines=True),
            12, 8)
    lay.add(timeseries.panel("Probes in flight and scheduled",
                             [q(f"sum(slamon_scheduler_in_flight{{{s}}})", "in flight"),
                              q(f"sum(slamon_scheduler_probes{{{s}}})", "scheduled")]), 12, 8)
    lay.add(timeseries.panel("Runs and overruns per second",
                             [q(f"sum(rate(slamon_scheduler_runs_total{{{s}}}[$__rate_interval]))", "runs"),
                              q(f"sum(rate(slamon_scheduler_overruns_total{{{s}}}[$__rate_interval]))", "overruns")],
                             description="An overrun is a run skipped because the previous run of the same probe was "
                             "still going.",
                             unit="reqps", overrides=[colored("B", "red")]), 12, 8)
    lay.add(results_by_vantage(s), 12, 8)


def _store(lay: Layout, s: str = SELECTOR) -> None:
    lay.row("Store")
    lay.add(stat.up_down("Store", [q(f"max by (instance) (slamon_store_up{{{s}}})", "{{instance}}")],
                         description="Whether the database accepts writes; while it does not, results wait in the "
                         "buffer."), 6, 8)
    lay.add(timeseries.against("Write queue vs buffer capacity",
                               q(f"sum(slamon_store_queue_length{{{s}}})", "queued"),
                               q(f"sum(slamon_store_buffer_capacity{{{s}}})", "capacity")), 9, 8)
    lay.add(timeseries.panel("Written, dropped and write errors",
                             [q(f"sum(rate(slamon_store_written_total{{{s}}}[$__rate_interval]))", "written/s"),
                              q(f"sum(increase(slamon_store_dropped_total{{{s}}}[$__rate_interval]))", "dropped"),
                              q(f"sum(increase(slamon_store_write_errors_total{{{s}}}[$__rate_interval]))", "write errors")],
                             description="Dropped results were lost because the buffer was full; write errors are failed "
                             "batches (retried).",
                             overrides=[colored("B", "red"), colored("C", "orange")]), 9, 8)


def _leases(lay: Layout, s: str = SELECTOR) -> None:
    lay.row("Shard leases (--shards)")
    lay.add(stat.up_down("Lease session", [q(f"min by (instance) (slamon_lease_up{{{s}}})", "{{instance}}")],
                         description="Whether the daemon can prove its leases in PostgreSQL; while it cannot, it "
                         "probes nothing."), 6, 8)
    lay.add(timeseries.panel("Shards held and the evaluator",
                             [q(f"sum by (instance) (slamon_lease_shards_held{{{s}}})", "{{instance}}"),
                              q(f"sum(slamon_lease_evaluator{{{s}}})", "evaluators")],
                             description="Shards each daemon probes; a standby holds none. One evaluator per group "
                             "of daemons.",
                             decimals=0), 9, 8)
    lay.add(timeseries.panel("Shards taken and minutes probed twice",
                             [q(f"sum(increase(slamon_lease_acquired_total{{{s}}}[$__rate_interval]))", "shards taken"),
                              q(f"sum(increase(slamon_duplicate_minutes_total{{{s}}}[$__rate_interval]))",
                                "minutes probed twice")],
                             description="Shards taken at start, on a takeover or when daemons rebalance; minutes in "
                             "which two daemons probed one service at once (counted once in the SLA).",
                             overrides=[colored("B", "red")]), 9, 8)


def build() -> dict[str, Any]:
    return dashboard(UID, TITLE, DESCRIPTION, VARIABLES, [_catalogue, _scheduler, _store, _leases])
