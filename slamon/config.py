"""Every setting of the daemon and its default, in one place.

Built once by the CLI from its arguments (and environment); no side effects here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_LISTEN = "127.0.0.1:9730"
DEFAULT_DB_URL = "sqlite:///var/slamon.db"
DEFAULT_CATALOGUE = Path("catalogue")


@dataclass(frozen=True)
class Config:
    catalogue_dir: Path = DEFAULT_CATALOGUE
    db_url: str = DEFAULT_DB_URL
    listen: str = DEFAULT_LISTEN
    offices: tuple[str, ...] = ()  # vantage offices this daemon probes from; () = all
    shard: tuple[int, int] | None = None  # (index, count)
    shards: int | None = None  # leased shards on PostgreSQL (--shards N); see slamon.leases
    lease_check_seconds: float = 3.0  # how often leases are checked, balanced and taken over
    lease_timeout_seconds: float = 3.0  # a check slower than this: the lease session is lost

    # scheduler
    max_in_flight: int = 100  # global cap on probes in flight (see DESIGN performance notes)
    max_in_flight_per_host: int = 4
    max_body_bytes: int = 1 << 20  # body read cap for HTTP probes

    # lifecycle
    reload_poll_seconds: float = 2.0  # catalogue file-change check
    shutdown_timeout_seconds: float = 10.0  # drain in-flight work, flush the store

    # store
    retention_days: int = 35
    write_batch_size: int = 500
    write_interval_seconds: float = 1.0
    buffer_max_results: int = 100_000

    # SLA evaluation (current-period measures, breaches, period records)
    sla_eval_interval_seconds: float = 60.0
    indicators_interval_seconds: float = 600.0

    # the daemon's own alerts: "[OFFICES=]URL" values of --alertmanager / --alert-webhook
    alertmanagers: tuple[str, ...] = ()
    alert_webhooks: tuple[str, ...] = ()

    # web port limits (slamon.web.server.PortLimits)
    web_max_connections: int = 256
    web_head_timeout_seconds: float = 10.0
    web_keepalive_timeout_seconds: float = 15.0

    # admin API
    admin_token_env: str = "SLAMON_ADMIN_TOKEN"

    log_level: str = "info"
    log_format: str = "logfmt"  # logfmt | json
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def listen_host(self) -> str:
        host, _, _ = self.listen.rpartition(":")
        return host.strip("[]") or "127.0.0.1"

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])
