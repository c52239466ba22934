"""``slamon run``: the monitoring daemon (see docs/operations.md)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from slamon.cli.common import (
    add_catalogue_option,
    add_db_option,
    add_listen_option,
    add_log_options,
    add_office_option,
    office_ids,
    seconds_arg,
)
from slamon.config import DEFAULT_LISTEN, Config


def _shard(text: str) -> tuple[int, int]:
    from slamon.monitor import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1 (found {text!r})")
    return int(text)


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults = Config()
    p = subparsers.add_parser(
        "run",
        help="run the monitoring daemon",
        description="Probe the catalogue continuously and serve /healthz, /readyz and /metrics.",
    )
    add_catalogue_option(p)
    add_db_option(p)
    add_listen_option(p, "/healthz, /readyz and /metrics", DEFAULT_LISTEN)
    add_office_option(p, "probe only from these offices (vantage points); default: all", many="extend")
    p.add_argument("--shard", type=_shard, default=None, metavar="I/N",
                   help="probe only share I of N of the services (0 <= I < N)")
    p.add_argument("--shards", type=_count, default=None, metavar="N",
                   help="share the services with the other daemons of the same store and offices: "
                        "claim shards of N through PostgreSQL leases; a standby takes over a dead "
                        "daemon's shards (PostgreSQL only; see docs/operations.md)")
    add_log_options(p, level=defaults.log_level, format=defaults.log_format)
    p.add_argument("--shutdown-timeout", type=seconds_arg, default=defaults.shutdown_timeout_seconds,
                   metavar="SECONDS", help="time to drain probes in flight on SIGTERM (default: %(default)s)")
    p.add_argument("--reload-poll", type=seconds_arg, default=defaults.reload_poll_seconds,
                   metavar="SECONDS", help="how often catalogue files are checked for changes (default: %(default)s)")
    p.add_argument("--max-in-flight", type=_count, default=defaults.max_in_flight, metavar="N",
                   help="probes in flight at once (default: %(default)s)")
    p.add_argument("--max-in-flight-per-host", type=_count, default=defaults.max_in_flight_per_host,
                   metavar="N", help="probes in flight at once against one host (default: %(default)s)")
    p.add_argument("--retention-days", type=_count, default=defaults.retention_days, metavar="DAYS",
                   help="keep raw results this many days; rollups are kept for good (default: %(default)s)")
    p.add_argument("--sla-eval-interval", type=seconds_arg, default=defaults.sla_eval_interval_seconds,
                   metavar="SECONDS", help="how often the current-period SLA and breaches are evaluated (default: %(default)s)")
    p.add_argument("--indicators-interval", type=seconds_arg, default=defaults.indicators_interval_seconds,
                   metavar="SECONDS", help="how often the indicators are recomputed (default: %(default)s)")
    p.add_argument("--alertmanager", action="append", default=[], metavar="[OFFICES=]URL",
                   help="send the daemon's own alerts to this Alertmanager (repeatable; see docs/alerting.md)")
    p.add_argument("--alert-webhook", action="append", default=[], metavar="[OFFICES=]URL",
                   help="send the daemon's own alerts as JSON to this URL (repeatable; see docs/alerting.md)")
    p.add_argument("--web-max-connections", type=_count, default=defaults.web_max_connections, metavar="N",
                   help="open connections the web port accepts; more get 503 (default: %(default)s)")
    p.add_argument("--web-head-timeout", type=seconds_arg, default=defaults.web_head_timeout_seconds,
                   metavar="SECONDS", help="time a client has to send its first request head (default: %(default)s)")
    p.add_argument("--web-keepalive-timeout", type=seconds_arg, default=defaults.web_keepalive_timeout_seconds,
                   metavar="SECONDS", help="idle kept-alive connections are closed after this (default: %(default)s)")
    p.set_defaults(handler=run)


def config_from_args(args: argparse.Namespace) -> Config:
    return Config(
        catalogue_dir=args.catalogue,
        db_url=args.db,
        listen=args.listen,
        offices=office_ids(args.office),
        shard=args.shard,
        shards=args.shards,
        log_format=args.log_format,
        log_level=args.log_level,
        shutdown_timeout_seconds=args.shutdown_timeout,
        reload_poll_seconds=args.reload_poll,
        max_in_flight=args.max_in_flight,
        max_in_flight_per_host=args.max_in_flight_per_host,
        retention_days=args.retention_days,
        sla_eval_interval_seconds=args.sla_eval_interval,
        indicators_interval_seconds=args.indicators_interval,
        alertmanagers=tuple(args.alertmanager),
        alert_webhooks=tuple(args.alert_webhook),
        web_max_connections=args.web_max_connections,
        web_head_timeout_seconds=args.web_head_timeout,
        web_keepalive_timeout_seconds=args.web_keepalive_timeout,
    )


def _runner() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def run(args: argparse.Namespace) -> int:
    from slamon import logs
    from slamon.daemon import Daemon  # imports every part: only when the daemon runs

    config = config_from_args(args)
    logs.configure(config.log_format, config.log_level)
    with _runner() as runner:
        return runner.run(Daemon(config).serve(sys.stderr))
