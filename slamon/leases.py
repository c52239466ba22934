"""Shard leases on PostgreSQL: which shares of the catalogue this daemon probes, and
whether it is the one that evaluates SLAs.

With ``--shards N`` every daemon of a scope (the same store schema and the same
``--office`` set) competes for N shards. A shard is held by holding a PostgreSQL
*session advisory lock* on one dedicated connection (``pg_try_advisory_lock``); the
evaluator lease is one more lock of the same kind. Why locks and not a lease table:

- a dead daemon's session ends and PostgreSQL drops its locks at once (kill -9 closes
  the socket; a host that vanishes is noticed by the server's TCP keepalives, set
  short on the session), so a standby can take over on its next tick without any
  expiry to wait for, and there is no clock to trust, no row to heartbeat, no vacuum;
- a lock cannot be held by two sessions: the database, not our code, says who holds what.

Presence: each daemon also holds a *shared* lock on a presence key, so ``pg_locks``
lists every live daemon of the scope, standbys included. Fair share is
``ceil(N / daemons)``: a daemon holding more releases the excess (a joiner takes it
on its next tick), a daemon holding less takes free shards.

Losing the database: every tick reads ``pg_locks`` on the lock session, within
``query_timeout_seconds``. When that fails or times out, the daemon can no longer
prove it holds anything: it drops every shard at once (stops probing them), drops the
evaluator role, logs ``lease_session_lost``, turns /readyz to 503, and reconnects on
the following ticks. The server ends the old session (and its locks) within its
keepalive bound, so another daemon takes over; when the database is back, shares are
taken again as above.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from slamon.runtime import LeaseStats

log = logging.getLogger("slamon.leases")

MAX_SHARDS = 4096
PRESENCE_KEY = 2**31 - 1  # objid of the shared "I am alive" lock
EVALUATOR_KEY = 2**31 - 2  # objid of the evaluator lease
# the server drops the session of a daemon that vanished (no FIN) after about
# idle + interval * count seconds: well inside the 30 s takeover promise
SERVER_KEEPALIVE = {"tcp_keepalives_idle": 5, "tcp_keepalives_interval": 2, "tcp_keepalives_count": 3}

# lease sessions say who they are: "slamon <metrics address> <identity>" (63 bytes at
# most, address first), which is what `slamon targets` lists for Prometheus
APPLICATION_PREFIX = "slamon "
# every daemon of a store (any --office set) also holds a shared lock in this scope, so
# `slamon targets` finds the daemons of its own schema only
EVERY_SCOPE = "\x1fevery daemon"
TARGETS_SQL = (
    "SELECT DISTINCT a.application_name FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.objid::bigint = %s "
    "AND l.classid::bigint = %s "
    "AND a.datname = current_database() AND a.application_name LIKE 'slamon %%'"
)
LOCKS_SQL = (
    "SELECT objid::bigint, pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND objsubid = 2 AND classid::bigint = %s "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def refusal(db_url: str, shards: int | None, shard: tuple[int, int] | None) -> str | None:
    """Why ``--shards`` cannot run with these settings (None: it can, or it is off)."""
    if shards is None:
        return None
    if shard is not None:
        return "--shards N (leased shards) and --shard I/N (a fixed shard) exclude each other: choose one"
    if not 1 <= shards <= MAX_SHARDS:
        return f"--shards must be between 1 and {MAX_SHARDS} (found {shards})"
    if not db_url.startswith(("postgresql:", "postgresql+")):
        return ("--shards needs PostgreSQL as the store (--db postgresql+psycopg://...): shard leases "
                "are PostgreSQL advisory locks; with SQLite split the catalogue with --shard I/N")
    return None


def application_name(address: str, identity: str) -> str:
    return f"{APPLICATION_PREFIX}{address or '-'} {identity}"[:63]


def live_daemons(url: str, timeout_seconds: float = 5.0) -> list[str]:
    """The metrics addresses of every daemon holding leases in this store (database and
    schema), sorted (``slamon targets``): read from their lease sessions, so a dead
    daemon is gone the moment PostgreSQL ends its session."""
    import psycopg

    with psycopg.connect(pg_conninfo(url), autocommit=True, connect_timeout=max(1, round(timeout_seconds))) as conn:
        row = conn.execute("SELECT current_schema()").fetchone()
        every = namespace(str(row[0] if row else ""), EVERY_SCOPE)
        rows = conn.execute(TARGETS_SQL, (PRESENCE_KEY, every)).fetchall()
    found = set()
    for (name,) in rows:
        address = name[len(APPLICATION_PREFIX):].split(" ", 1)[0]
        if address and address != "-":
            found.add(address)
    return sorted(found)


def default_identity() -> str:
    """Who wrote a result: host and process, unique among the daemons alive."""
    return f"{socket.gethostname()}/{os.getpid()}"[:64]


def lease_scope(offices: tuple[str, ...]) -> str:
    return ",".join(sorted(offices)) or "*"


def namespace(schema: str, scope: str) -> int:
    """The first key of every lock of a scope: stable, non-negative, 31 bits."""
    digest = hashlib.blake2b(f"slamon-leases\x1f{schema}\x1f{scope}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


def fair_share(shards: int, daemons: int) -> int:
    return math.ceil(shards / max(1, daemons))


def pg_conninfo(url: str) -> str:
    """A libpq connection string from the store's SQLAlchemy URL (query options kept)."""
    from psycopg.conninfo import make_conninfo
    from sqlalchemy.engine import make_url

    u = make_url(url)
    params: dict[str, object] = {k: v for k, v in u.query.items() if isinstance(v, str)}
    for key, value in (("host", u.host), ("port", u.port), ("user", u.username),
                       ("password", u.password), ("dbname", u.database)):
        if value is not None:
            params[key] = value
    return make_conninfo(**params)


@dataclass
class ShardLeases:
    """One daemon's leases. ``on_change(held)`` is called on the loop whenever the set
    of held shards changes; ``is_evaluator`` says whether this daemon evaluates."""

    url: str
    shards: int
    offices: tuple[str, ...] = ()
    identity: str = field(default_factory=default_identity)
    on_change: Callable[[frozenset[int]], None] | None = None
    on_evaluator: Callable[[bool], None] | None = None
    address: str = ""  # host:port of this daemon's /metrics, for `slamon targets`
    stats: LeaseStats = field(default_factory=LeaseStats)
    interval_seconds: float = 3.0
    query_timeout_seconds: float = 3.0
    connect_timeout_seconds: float = 3.0
    want_evaluator: bool = True
    # a check for minutes probed twice (evaluator only): (start, end, counted_from) -> count
    duplicates: Callable[[float, float, float], int] | None = None
    duplicates_every_seconds: float = 60.0
    duplicates_settle_seconds: float = 120.0  # results reach the store within this
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if not 1 <= self.shards <= MAX_SHARDS:
            raise ValueError(f"--shards must be between 1 and {MAX_SHARDS} (found {self.shards})")
        self.stats.shards = self.shards
        self.stats.identity = self.identity
        self.held: frozenset[int] = frozenset()
        self.is_evaluator = False
        self._conn = None  # psycopg.AsyncConnection
        self._ns = 0
        self._pid = 0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._dup_checked_until: float | None = None
        self._dup_due = 0.0
        self._dup_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="slamon-leases")

    async def first_tick(self, timeout_seconds: float) -> None:
        """One tick now (startup: take shards before the scheduler starts)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.tick(), timeout_seconds)

    async def close(self) -> None:
        """Stop ticking, release every lock (SIGTERM), close the session."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._dup_task is not None:
            self._dup_task.cancel()
            await asyncio.gather(self._dup_task, return_exceptions=True)
        released = len(self.held)
        self._set_held(frozenset())
        self._set_evaluator(False)
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await asyncio.wait_for(conn.execute("SELECT pg_advisory_unlock_all()"), self.query_timeout_seconds)
                self.stats.released_total += released
                log.info("leases_released", extra={"shards": released})
            except Exception as exc:  # the session's end releases them anyway
                log.warning("leases_release_failed", extra={"error": _short(exc)})
            with contextlib.suppress(Exception):
                await conn.close()
        self.stats.connected = False

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += self.interval_seconds
            try:
                await asyncio.wait_for(self.tick(), self.query_timeout_seconds + self.connect_timeout_seconds)
            except TimeoutError:
                await self._lost("timeout")
            except Exception:
                log.exception("lease_tick_failed")
                await self._lost("error")
            if self.is_evaluator and self.duplicates is not None and self._dup_task is None:
                self._dup_task = loop.create_task(self._check_duplicates(), name="slamon-duplicate-check")
                self._dup_task.add_done_callback(self._dup_done)
            delay = next_at - loop.time()
            if delay < 0:  # fell behind: no burst of catch-up ticks
                next_at, delay = loop.time(), 0.0
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    # ------------------------------------------------------------------ one tick

    async def tick(self) -> None:
        if self._conn is None and not await self._connect():
            return
        try:
            await asyncio.wait_for(self._balance(), self.query_timeout_seconds)
        except TimeoutError:
            await self._lost("the database did not answer within "
                             f"{self.query_timeout_seconds:g} s")
            return
        except Exception as exc:
            await self._lost(_short(exc))
            return

    async def _connect(self) -> bool:
        import psycopg

        try:
            conn = await psycopg.AsyncConnection.connect(
                pg_conninfo(self.url),
                autocommit=True,
                connect_timeout=max(1, round(self.connect_timeout_seconds)),
                application_name=application_name(self.address, self.identity),
                # the client gives up on a silent server too (unacknowledged data)
                keepalives=1, keepalives_idle=5, keepalives_interval=2, keepalives_count=3,
                tcp_user_timeout=int(self.query_timeout_seconds * 1000),
            )
            for name, value in SERVER_KEEPALIVE.items():
                await conn.execute(f"SET {name} = {int(value)}")
            row = await (await conn.execute("SELECT current_schema(), pg_backend_pid()")).fetchone()
            assert row is not None
            schema, self._pid = row
            self._ns = namespace(str(schema), lease_scope(self.offices))
            await conn.execute("SELECT pg_advisory_lock_shared(%s, %s)", (self._ns, PRESENCE_KEY))
            every = namespace(str(schema), EVERY_SCOPE)
            await conn.execute("SELECT pg_advisory_lock_shared(%s, %s)", (every, PRESENCE_KEY))
        except Exception as exc:
            self._problem(f"cannot reach PostgreSQL for leases: {_short(exc)}")
            return False
        self._conn = conn
        self.stats.connected = True
        if self.stats.problem is not None:
            log.info("lease_session_restored", extra={"identity": self.identity})
        self.stats.problem = None
        return True

    async def _balance(self) -> None:
        conn = self._conn
        assert conn is not None
        rows = await (await conn.execute(LOCKS_SQL, (self._ns,))).fetchall()
        present = {pid for key, pid in rows if key == PRESENCE_KEY}
        others = {key for key, pid in rows if key < self.shards and pid != self._pid}
        evaluator_elsewhere = any(key == EVALUATOR_KEY and pid != self._pid for key, pid in rows)
        daemons = max(1, len(present))
        self.stats.daemons = daemons
        fair = fair_share(self.shards, daemons)
        held = set(self.held)
        if len(held) > fair:
            excess = sorted(held, key=self._preference)[fair:]
            held.difference_update(excess)
            self._set_held(frozenset(held))  # stop probing them first, then let them go
            for shard in excess:
                await conn.execute("SELECT pg_advisory_unlock(%s, %s)", (self._ns, shard))
            self.stats.released_total += len(excess)
            log.info("leases_rebalanced", extra={"released": sorted(excess), "daemons": daemons, "fair_share": fair})
        elif len(held) < fair:
            taken = []
            for shard in sorted(set(range(self.shards)) - held - others, key=self._preference):
                if len(held) >= fair:
                    break
                row = await (await conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (self._ns, shard))).fetchone()
                if row is not None and row[0]:
                    held.add(shard)
                    taken.append(shard)
            if taken:
                self.stats.acquired_total += len(taken)
                log.info("leases_acquired", extra={"shards": taken, "held": len(held), "daemons": daemons})
        if self.want_evaluator and not self.is_evaluator and not evaluator_elsewhere:
            row = await (await conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (self._ns, EVALUATOR_KEY))).fetchone()
            if row is not None and row[0]:
                self._set_evaluator(True)
        self._set_held(frozenset(held))

    def _preference(self, shard: int) -> int:
        """Each daemon prefers its own order of shards, so joiners rarely race for one."""
        return int.from_bytes(hashlib.blake2b(f"{self.identity}\x1f{shard}".encode(), digest_size=4).digest(), "big")

    async def _lost(self, why: str) -> None:
        """The lock session failed: nothing can be proven held any more."""
        conn, self._conn = self._conn, None
        had = len(self.held)
        self._set_held(frozenset())
        self._set_evaluator(False)
        self.stats.connected = False
        if conn is not None:
            self.stats.lost_total += 1
            log.error("lease_session_lost", extra={"error": why, "shards_dropped": had})
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 1.0)
        self._problem(f"lease session lost ({why}); probing nothing until PostgreSQL answers again")

    def _problem(self, text: str) -> None:
        if self.stats.problem is None:
            log.error("lease_unavailable", extra={"problem": text})
        self.stats.problem = text

    def _set_held(self, held: frozenset[int]) -> None:
        if held == self.held:
            return
        self.held = held
        self.stats.held = held
        if self.on_change is not None:
            try:
                self.on_change(held)
            except Exception:
                log.exception("lease_change_hook_failed")

    def _set_evaluator(self, value: bool) -> None:
        if value != self.is_evaluator:
            log.info("evaluator_lease_" + ("acquired" if value else "dropped"), extra={"identity": self.identity})
            if value:
                self._dup_checked_until = None
            self.is_evaluator = value
            self.stats.evaluator = value
            if self.on_evaluator is not None:
                try:
                    self.on_evaluator(value)
                except Exception:
                    log.exception("lease_change_hook_failed")

    # ------------------------------------------------------------------ duplicates

    def _dup_done(self, task: asyncio.Task[None]) -> None:
        self._dup_task = None

    async def _check_duplicates(self) -> None:
        now = self.clock()
        if now < self._dup_due:
            return
        self._dup_due = now + self.duplicates_every_seconds
        until = math.floor((now - self.duplicates_settle_seconds) / 60) * 60
        since = self._dup_checked_until if self._dup_checked_until is not None else until - 600
        since = max(since, until - 3600)  # one bounded query per check
        if until <= since:
            return
        assert self.duplicates is not None
        try:
            # results of the 10 minutes before give each daemon's span of results its start
            found = await asyncio.to_thread(self.duplicates, since - 600, until, since)
        except Exception as exc:
            log.warning("duplicate_check_failed", extra={"error": _short(exc)})
            return
        self._dup_checked_until = until
        if found:
            self.stats.duplicate_minutes_total += found
            log.warning("duplicate_minutes", extra={"minutes": found, "since": since, "until": until})


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:200]
