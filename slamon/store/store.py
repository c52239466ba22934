"""The store: every table behind one class, on SQLite (default) or PostgreSQL.

``Store.open(url)`` connects, creates or upgrades the schema (Alembic, shipped in the
package) and hands back a ``Store``. All methods are blocking; the daemon calls
them from a worker thread (``ResultWriter``) so the event loop never waits on the
database. Times are UTC-aware datetimes, or unix seconds for raw results.

SQLite: WAL journal, ``synchronous=NORMAL`` (a committed transaction survives a
crash of the process; a power cut may lose the last few), a busy timeout, and
write transactions begun ``IMMEDIATE`` so a read-then-write never fails half-way
on a lock upgrade. PostgreSQL: rollups being merged are locked ``FOR UPDATE``, so
two daemons writing the same rows serialise instead of losing a merge; batches go
in by binary ``COPY``.

Rollups are written as deltas: a write batch appends one small ``rollup_delta`` row
per service and day (the minutes it touched) in the transaction of its raw rows,
and deltas are merged into ``day_rollup`` in bulk (taken by ``DELETE ... RETURNING``,
so each is merged exactly once even with several writers). Durability contract: a
batch is committed with its raw rows and deltas or not at all; reads add pending
deltas to the stored rollups (in one statement), so a crash, or merging at any
moment, never changes an answer.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    LargeBinary,
    SmallInteger,
    cast,
    create_engine,
    delete,
    event,
    func,
    insert,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session

from slamon.core.catalogue import Catalogue
from slamon.core.model import Service
from slamon.core.results import ProbeResult
from slamon.core.sla.bulk import index_series
from slamon.core.sla.rollup import DayRollup, RollupBuilder, merge_parts
from slamon.core.sla.series import DaySeries
from slamon.store import codec, migrate
from slamon.store.sealed import SealedPeriods
from slamon.store.tables import (
    BreachRow,
    DayRollupRow,
    ExclusionRow,
    PeriodRecordRow,
    ResultRow,
    RollupDeltaRow,
    ServiceRevisionRow,
)
from slamon.store.urls import mask_url, scrub

log = logging.getLogger("slamon.store")

Thresholds = Callable[[str], tuple[float | None, float | None]]
"""service id -> (latency threshold seconds, journey step max duration seconds) in force."""

_KEY_CHUNK = 300  # rollup keys per SELECT (well under every driver's parameter limit)
MERGE_AFTER_DELTAS = 20_000
"""Pending rollup deltas (about one per service per write batch) at which a write merges
them all into the day rollups: bounds what a read adds up (a scan of at most this
many small rows) while one day row is rewritten once per merge, not once per batch."""


class StoreError(Exception):
    """A problem a person can act on (bad URL, database unreachable, refused write)."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or opened."""


class PeriodRecordExists(StoreError):
    """A closed-period record with this key is already written; records are never rewritten."""


@dataclass(frozen=True, slots=True)
class RevisionChanges:
    added: tuple[str, ...] = ()  # services seen for the first time (or again after removal)
    changed: tuple[str, ...] = ()  # services whose content changed
    removed: tuple[str, ...] = ()  # services no longer in the catalogue


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass a UTC-aware datetime")
    return value.astimezone(dt.UTC)


def _unix(value: float | dt.datetime) -> float:
    return _utc(value).timestamp() if isinstance(value, dt.datetime) else float(value)


class Store(SealedPeriods):  # sealed period aggregates: slamon/store/sealed.py
    def __init__(self, engine: Engine, merge_after_deltas: int = MERGE_AFTER_DELTAS) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.merge_after_deltas = merge_after_deltas
        # who writes: stored with every raw result (set by the daemon; None in tools)
        self.identity: str | None = None
        self._pending_deltas: int | None = None  # rollup deltas in the table, as this store last knew
        self._write_engine = engine.execution_options(slamon_write=True)
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        result_columns = (*codec.RESULT_COLUMNS, codec.RESULT_DAEMON_COLUMN)
        self._insert_results_sql = (
            f"INSERT INTO {ResultRow.__tablename__} ({', '.join(result_columns)}) "
            f"VALUES ({', '.join([mark] * len(result_columns))})"
        )
        rollup = DayRollupRow.__tablename__
        keys, data = codec.ROLLUP_KEY_COLUMNS, codec.ROLLUP_DATA_COLUMNS
        self._key_row = f"({mark}, {mark}, {mark}::date)" if self.dialect == "postgresql" else f"({mark}, {mark}, {mark})"
        self._select_rollups_sql = (
            "WITH k (vantage, service_id, day) AS (VALUES {keys}) "
            f"SELECT {', '.join('r.' + c for c in keys + data)}{', r.rowid' if self.dialect == 'sqlite' else ''} "
            f"FROM k JOIN {rollup} r "
            "ON r.vantage = k.vantage AND r.service_id = k.service_id AND r.day = k.day"
            + (" FOR UPDATE OF r" if self.dialect == "postgresql" else "")
        )
        self._insert_deltas_sql = (
            f"INSERT INTO {RollupDeltaRow.__tablename__} ({', '.join(codec.DELTA_COLUMNS)}) "
            f"VALUES ({', '.join([mark] * len(codec.DELTA_COLUMNS))})"
        )
        if self.dialect == "postgresql":
            # PostgreSQL: binary COPY (psycopg's executemany costs about 30 us of Python
            # per row, text COPY escapes every blob)
            self._insert_results_sql = _copy_sql(ResultRow.__tablename__, result_columns)
            self._insert_deltas_sql = _copy_sql(RollupDeltaRow.__tablename__, codec.DELTA_COLUMNS)
            # the keys as three arrays: a short statement psycopg parses once (a VALUES
            # list of 300 keys took it about 25 ms of Python to split, every time)
            self._select_rollups_sql = (
                f"SELECT {', '.join('r.' + c for c in keys + data)} "
                "FROM unnest(%s::varchar[], %s::varchar[], %s::date[]) AS k (vantage, service_id, day) "
                f"JOIN {rollup} r ON r.vantage = k.vantage AND r.service_id = k.service_id AND r.day = k.day "
                "FOR UPDATE OF r"
            )
        # taken and removed in one statement: on PostgreSQL exactly the deltas committed
        # by then, each taken by one merge only, however many daemons write
        self._take_deltas_sql = (
            f"DELETE FROM {RollupDeltaRow.__tablename__} RETURNING {', '.join(codec.DELTA_COLUMNS)}"
        )
        self._insert_rollups_sql = (
            f"INSERT INTO {rollup} ({', '.join(keys + data)}) VALUES ({', '.join([mark] * len(keys + data))})"
        )
        self._copy_rollups_sql = _copy_sql(rollup, keys + data)
        # SQLite updates the rows by the rowid the SELECT read (no descent of the
        # primary-key index for each row: about a quarter less time per update)
        where = "rowid = ?" if self.dialect == "sqlite" else " AND ".join(f"{c} = {mark}" for c in keys)
        self._update_rollups_sql = f"UPDATE {rollup} SET {', '.join(f'{c} = {mark}' for c in data)} WHERE {where}"

    # ----------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        url: str,
        *,
        busy_timeout_seconds: float = 5.0,
        connect_timeout_seconds: float = 5.0,
        upgrade: bool = True,
    ) -> Store:
        """Connect to ``sqlite:///path`` or ``postgresql+psycopg://...`` and upgrade the schema.

        Raises ``StoreUnavailable`` with a message fit for a person (no password)."""
        try:
            parsed = make_url(url)
        except Exception:
            raise StoreError(f"not a database URL: {mask_url(url)!r} (e.g. sqlite:///var/slamon.db)") from None
        shown = mask_url(url)
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            if not parsed.database or parsed.database == ":memory:":
                raise StoreError("the store needs a SQLite file: sqlite:///path/to/slamon.db")
            path = Path(parsed.database)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(f"cannot create the directory of {path}: {exc.strerror}") from None
            engine = create_engine(
                parsed,
                connect_args={"timeout": busy_timeout_seconds, "check_same_thread": False},
            )
            _configure_sqlite(engine, busy_timeout_seconds)
        elif backend == "postgresql":
            engine = create_engine(
                parsed,
                pool_pre_ping=True,
                pool_size=2,
                max_overflow=2,
                connect_args={"connect_timeout": max(1, round(connect_timeout_seconds))},
            )
        else:
            raise StoreError(f"unsupported database {backend!r} in {shown}: use sqlite:/// or postgresql+psycopg://")
        store = cls(engine)
        try:
            if upgrade and not migrate.at_head(engine):
                migrate.upgrade(engine)
            else:
                with engine.connect():
                    pass
        except DBAPIError as exc:
            engine.dispose()
            raise StoreUnavailable(f"cannot open the store at {shown}: {scrub(_first_line(exc), url)}") from None
        return store

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction (IMMEDIATE on SQLite)."""
        with self._write_engine.begin() as conn:
            yield conn

    def _session(self, write: bool = False) -> Session:
        return Session(self._write_engine if write else self.engine, expire_on_commit=False)

    # ---------------------------------------------------------- raw + rollups

    def write_results(self, results: Sequence[ProbeResult], thresholds: Thresholds | None = None) -> int:
        """Write raw rows and their rollup deltas, in one transaction. Returns rows written.

        The deltas (one small row per day of each service in the batch) are merged into
        the day rollups in bulk once ``merge_after_deltas`` are pending, by the write
        that reaches that many, in its own transaction; reads add the pending ones, so
        they never show a result without its rollup nor count one twice."""
        if not results:
            return 0
        builder = RollupBuilder()
        for r in results:
            latency, step = thresholds(r.service_id) if thresholds else (None, None)
            builder.add(r, latency, step)
        daemon = (self.identity,)
        rows = [codec.result_values(r) + daemon for r in results]
        sqlite = self.dialect == "sqlite"
        deltas = [codec.delta_values(span, sqlite) for span in builder.spans()]
        with self._write() as conn:
            # straight to the driver's executemany: SQLAlchemy's per-row parameter
            # processing would cost more than the insert itself
            if sqlite:
                conn.exec_driver_sql(self._insert_results_sql, rows)
                conn.exec_driver_sql(self._insert_deltas_sql, deltas)
            else:
                self._copy(conn, self._insert_results_sql, rows)
                self._copy(conn, self._insert_deltas_sql, deltas)
            if self._pending_deltas is None:
                self._pending_deltas = self._count_deltas(conn) - len(deltas)
            pending = self._pending_deltas + len(deltas)
            merged = pending >= self.merge_after_deltas
            if merged:
                self._merge_deltas(conn)
        self._pending_deltas = 0 if merged else pending
        return len(rows)

    def _copy(self, conn: Connection, sql: str, rows: list[tuple]) -> None:
        """PostgreSQL binary ``COPY ... FROM STDIN`` of ``rows`` in the connection's
        transaction; a refusal raised as SQLAlchemy raises it for any statement
        (``DataError``, ``IntegrityError``...)."""
        dbapi = self.engine.dialect.dbapi
        try:
            with conn.connection.driver_connection.cursor() as cur, cur.copy(sql) as copy:
                copy.set_types(_COPY_TYPES[sql])
                for row in rows:
                    copy.write_row(row)
        except dbapi.Error as exc:
            raise DBAPIError.instance(sql, None, exc, dbapi.Error) from None

    def merge_pending_rollups(self) -> int:
        """Merge every pending rollup delta into the day rollups now; returns how many.

        Never needed for correct answers (reads add pending deltas): it keeps reads
        lean. The writer calls it when it closes."""
        with self._write() as conn:
            taken = self._merge_deltas(conn)
        self._pending_deltas = 0
        return taken

    def _count_deltas(self, conn: Connection) -> int:
        return conn.exec_driver_sql(f"SELECT count(*) FROM {RollupDeltaRow.__tablename__}").scalar_one()

    def _merge_deltas(self, conn: Connection) -> int:
        rows = conn.exec_driver_sql(self._take_deltas_sql).fetchall()
        if rows:
            self._merge_rollups(conn, codec.fold_deltas(rows))
        return len(rows)

    def merge_rollups(self, rollups: Iterable[DayRollup]) -> None:
        """Merge whole rollups into the stored ones at once (a backfill, a demo history)."""
        with self._write() as conn:
            self._merge_rollups(conn, list(rollups))

    def _merge_rollups(self, conn: Connection, rollups: list[DayRollup]) -> None:
        """Merge rollups into the stored ones: one keyed SELECT per chunk, the merge in
        Python (``merge_parts``, what ``DayRollup.merge`` does), then one executemany
        of inserts and one of updates (by rowid on SQLite). Rollups of the same day
        given twice are merged first.

        Straight to the driver with positional rows: SQLAlchemy's per-row parameter
        and result processing cost more than the database work. The SELECT joins a
        VALUES list of keys to the primary key (SQLite scans the whole table for a
        row-value ``IN (VALUES ...)``); on PostgreSQL it locks the rows it merges."""
        sqlite = self.dialect == "sqlite"
        # keyed as the driver gives the day back: ISO text from SQLite, a date from PostgreSQL
        pending: dict[tuple[str, str, Any], DayRollup] = {}
        for r in rollups:
            key = (r.vantage, r.service_id, r.day.isoformat() if sqlite else r.day)
            earlier = pending.get(key)
            pending[key] = r if earlier is None else earlier.merge(r)
        if not pending:
            return
        keys = list(pending)
        updates = []
        if sqlite:
            selects = []
            for i in range(0, len(keys), _KEY_CHUNK):
                chunk = keys[i : i + _KEY_CHUNK]
                sql = self._select_rollups_sql.replace("{keys}", ", ".join([self._key_row] * len(chunk)))
                selects.append((sql, tuple(part for key in chunk for part in key)))
        else:
            selects = [(self._select_rollups_sql, tuple(map(list, zip(*keys, strict=True))))]
        for sql, params in selects:
            for row in conn.exec_driver_sql(sql, params).fetchall():
                new = pending.pop((row[0], row[1], row[2]))
                total = codec.decode_counts(row[7])
                bitmap = codec.decode_bitmap
                merged = merge_parts(
                    bitmap(row[3]), bitmap(row[4]), bitmap(row[5]), bitmap(row[6]),
                    total, codec.decode_good_counts(row[8], total), new,
                )  # fmt: skip
                updates.append(codec.rollup_data_values(*merged) + ((row[9],) if sqlite else (row[0], row[1], row[2])))
        if pending:
            new_rows = [codec.rollup_values(r, sqlite) for r in pending.values()]
            if sqlite:
                conn.exec_driver_sql(self._insert_rollups_sql, new_rows)
            else:
                self._copy(conn, self._copy_rollups_sql, new_rows)
        if updates:
            conn.exec_driver_sql(self._update_rollups_sql, updates)

    def rollups(
        self,
        service_id: str,
        vantage: str | None = None,
        start_day: dt.date | None = None,
        end_day: dt.date | None = None,
    ) -> list[DayRollup]:
        """Day rollups of one service, days ``start_day``..``end_day`` inclusive, by vantage then day."""
        return list(self.rollups_between(start_day, end_day, service_ids=[service_id], vantage=vantage))

    def rollups_between(
        self,
        start_day: dt.date | None,
        end_day: dt.date | None,
        service_ids: Sequence[str] | None = None,
        vantage: str | None = None,
        with_counts: bool = True,
        vantages: Sequence[str] | None = None,
    ) -> Iterator[DayRollup]:
        """Every rollup in the day range (inclusive), streamed, by service, vantage and day.

        ``with_counts=False`` leaves the per-minute count arrays unread (they are zero in
        the rollups returned): a fifth of the bytes, for timeslice measures that need
        only the bitmaps. ``vantages``: only these (with ``service_ids``, the rows are
        found by the primary key, vantage first, instead of a scan of the table)."""
        t = DayRollupRow.__table__
        query = _rollup_query(with_counts, service_ids, vantage, vantages, start_day, end_day)
        with self.engine.connect() as conn:
            # one read transaction: on SQLite one snapshot for both statements; on
            # PostgreSQL the rollups and their pending deltas are read in one statement
            if conn.exec_driver_sql(f"SELECT 1 FROM {RollupDeltaRow.__tablename__} LIMIT 1").first() is None:
                query = query.order_by(t.c.service_id, t.c.vantage, t.c.day)
                rows = conn.execution_options(yield_per=2000).execute(query)
                # a biennium of a large estate is millions of rows: decode positionally
                yield from codec.rollups_from_tuples(rows, with_counts)
            else:
                query = self._with_deltas_query(query, with_counts, service_ids, vantage, start_day, end_day, vantages)
                rows = conn.execution_options(yield_per=2000).execute(query)
                yield from codec.rollups_with_deltas(rows, with_counts)

    @staticmethod
    def _with_deltas_query(stored, with_counts, service_ids, vantage, start_day, end_day, vantages=None):
        """``stored`` (the rollups asked for) and the pending deltas of the same days, in
        one statement, ordered by service, vantage and day (deltas beside their day)."""
        d = RollupDeltaRow.__table__

        def blobs(*names: str) -> list:  # typed NULLs, labelled (SQLAlchemy folds repeated columns)
            return [cast(null(), LargeBinary).label(name) for name in names]

        if not with_counts:
            stored = stored.add_columns(*blobs("total_counts", "good_counts"))
        stored = stored.add_columns(cast(null(), SmallInteger).label("first_minute"), *blobs("bits", "counts"))
        data = blobs("observed", "good", "fast", "steps_ok", "total_counts", "good_counts")
        deltas = select(d.c.vantage, d.c.service_id, d.c.day, *data, d.c.first_minute, d.c.bits, d.c.counts)
        if service_ids is not None:
            deltas = deltas.where(d.c.service_id.in_(list(service_ids)))
        if vantage is not None:
            deltas = deltas.where(d.c.vantage == vantage)
        if vantages is not None:
            deltas = deltas.where(d.c.vantage.in_(sorted(set(vantages))))
        if start_day is not None:
            deltas = deltas.where(d.c.day >= start_day)
        if end_day is not None:
            deltas = deltas.where(d.c.day <= end_day)
        both = union_all(stored, deltas).subquery()
        return select(both).order_by(both.c.service_id, both.c.vantage, both.c.day)

    # --- read side: day series for the SLA engine -------------------------------------

    def day_series_between(
        self,
        start_day: dt.date | None,
        end_day: dt.date | None,
        service_ids: Sequence[str] | None = None,
        vantage: str | None = None,
        with_counts: bool = True,
        vantages: Sequence[str] | None = None,
    ) -> dict[tuple[str, str], DaySeries]:
        """The rollups of ``rollups_between`` grouped by (service, vantage), partial
        rollups of one day merged, each as a ``DaySeries`` (its days with the per-day
        completeness the engine uses to skip complete days), built as they are read.

        Without counts and with no rollup delta pending (the usual report), straight from
        the rows: a complete day is not decoded (``codec.series_from_tuples``)."""
        if not with_counts:
            t = DayRollupRow.__table__
            query = _rollup_query(False, service_ids, vantage, vantages, start_day, end_day)
            with self.engine.connect() as conn:
                if conn.exec_driver_sql(f"SELECT 1 FROM {RollupDeltaRow.__tablename__} LIMIT 1").first() is None:
                    sql = query.order_by(t.c.service_id, t.c.vantage, t.c.day).compile(
                        conn, compile_kwargs={"render_postcompile": True}
                    )
                    params = sql.construct_params()
                    if sql.positional:
                        params = tuple(params[name] for name in sql.positiontup)
                    # the driver's rows as they come: SQLAlchemy's row processing cost more than the decoding
                    return codec.series_from_tuples(conn.exec_driver_sql(str(sql), params))
        return index_series(self.rollups_between(start_day, end_day, service_ids, vantage, with_counts, vantages))

    def results(
        self,
        start: float | dt.datetime,
        end: float | dt.datetime,
        service_id: str | None = None,
        vantage: str | None = None,
        probe_id: str | None = None,
        limit: int = 1000,
    ) -> list[ProbeResult]:
        """Raw results started in [start, end), oldest first, at most ``limit``."""
        t = ResultRow.__table__
        query = select(t).where(t.c.started_at >= _unix(start), t.c.started_at < _unix(end))
        if service_id is not None:
            query = query.where(t.c.service_id == service_id)
        if vantage is not None:
            query = query.where(t.c.vantage == vantage)
        if probe_id is not None:
            query = query.where(t.c.probe_id == probe_id)
        query = query.order_by(t.c.started_at, t.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [codec.result_from_row(row) for row in conn.execute(query)]

    def duplicate_minutes(self, start: float, end: float, counted_from: float | None = None) -> int:
        """Minutes in [start, end) (unix seconds; UTC minutes as the rollups have them) in
        which two daemons probed the same probe of a service at the same vantage *at the
        same time*: their spans of results (first to last, within the range) overlap.

        A clean handover (one daemon's results end, the next one's begin, perhaps inside
        one minute) is not a duplicate; two holders of one shard (a partition with an old
        lease) are. The SLA counts such a minute once either way (rollup bitmaps merge by
        OR); this only says that it happened. Spans need a few results each: a caller
        checking minute by minute passes a longer range and counts only the minutes
        from ``counted_from`` on."""
        t = ResultRow.__table__
        key = (t.c.vantage, t.c.service_id, t.c.probe_id)
        spans = (
            select(*key, t.c.daemon, func.min(t.c.started_at).label("lo"), func.max(t.c.started_at).label("hi"))
            .where(t.c.started_at >= start, t.c.started_at < end, t.c.daemon.is_not(None))
            .group_by(*key, t.c.daemon)
            .subquery()
        )
        a, b = spans.alias("a"), spans.alias("b")
        overlaps = select(a.c.vantage, a.c.service_id, a.c.lo, a.c.hi, b.c.lo, b.c.hi).where(
            a.c.vantage == b.c.vantage, a.c.service_id == b.c.service_id, a.c.probe_id == b.c.probe_id,
            a.c.daemon < b.c.daemon, a.c.lo <= b.c.hi, b.c.lo <= a.c.hi,
        )
        floor = int((start if counted_from is None else counted_from) // 60)
        minutes: set[tuple[str, str, int]] = set()
        with self.engine.connect() as conn:
            for vantage, service_id, a_lo, a_hi, b_lo, b_hi in conn.execute(overlaps):
                first, last = max(floor, int(max(a_lo, b_lo) // 60)), int(min(a_hi, b_hi) // 60)
                minutes.update((vantage, service_id, m) for m in range(first, last + 1))
        return len(minutes)

    def count_results(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(ResultRow.__table__)).scalar_one()

    def purge_results(self, older_than: float | dt.datetime, chunk_rows: int = 10_000) -> int:
        """Delete one chunk (at most ``chunk_rows``) of raw results started before ``older_than``.

        Returns how many were deleted; call again while it returns ``chunk_rows``. Small
        chunks keep each transaction short, so writers are never held up for long."""
        t = ResultRow.__table__
        ids = select(t.c.id).where(t.c.started_at < _unix(older_than)).order_by(t.c.started_at).limit(chunk_rows)
        with self._write() as conn:
            return conn.execute(delete(t).where(t.c.id.in_(ids.scalar_subquery()))).rowcount

    # -------------------------------------------------------------- revisions

    def record_catalogue(self, catalogue: Catalogue | Iterable[Service], at: dt.datetime) -> RevisionChanges:
        """Record the services as loaded at ``at``: a new revision only where content changed.

        A service missing from the catalogue has its open revision closed at ``at``."""
        at = _utc(at)
        services = list(catalogue.services.values()) if isinstance(catalogue, Catalogue) else list(catalogue)
        t = ServiceRevisionRow.__table__
        added, changed, removed = [], [], []
        with self._write() as conn:
            open_rows = {
                row.service_id: row
                for row in conn.execute(select(t.c.id, t.c.service_id, t.c.content_hash, t.c.valid_from).where(t.c.valid_to.is_(None)))
            }
            seen: set[str] = set()
            new_rows = []
            for svc in services:
                seen.add(svc.id)
                body, digest = codec.canonical_service(svc)
                current = open_rows.get(svc.id)
                if current is not None and current.content_hash == digest:
                    continue
                if current is not None:
                    conn.execute(update(t).where(t.c.id == current.id).values(valid_to=max(at, current.valid_from)))
                    changed.append(svc.id)
                else:
                    added.append(svc.id)
                new_rows.append(
                    {"service_id": svc.id, "office": svc.office, "content_hash": digest, "body": body, "valid_from": at, "valid_to": None}
                )
            if new_rows:
                conn.execute(insert(t), new_rows)
            for service_id, row in open_rows.items():
                if service_id not in seen:
                    conn.execute(update(t).where(t.c.id == row.id).values(valid_to=max(at, row.valid_from)))
                    removed.append(service_id)
        if added or changed or removed:
            log.info(
                "catalogue_revisions_recorded added=%d changed=%d removed=%d", len(added), len(changed), len(removed)
            )
        return RevisionChanges(tuple(sorted(added)), tuple(sorted(changed)), tuple(sorted(removed)))

    def services_at(self, at: dt.datetime) -> list[Service]:
        """The services as the catalogue stood at ``at`` (sorted by id)."""
        at = _utc(at)
        t = ServiceRevisionRow.__table__
        query = (
            select(t.c.body)
            .where(t.c.valid_from <= at, or_(t.c.valid_to.is_(None), t.c.valid_to > at))
            .order_by(t.c.service_id)
        )
        with self.engine.connect() as conn:
            return [codec.service_from_body(row.body) for row in conn.execute(query)]

    def revisions(self, service_id: str) -> list[ServiceRevisionRow]:
        with self._session() as s:
            q = select(ServiceRevisionRow).where(ServiceRevisionRow.service_id == service_id)
            return list(s.scalars(q.order_by(ServiceRevisionRow.valid_from, ServiceRevisionRow.id)))

    def revision_history(self, service_ids: Sequence[str] | None = None) -> dict[str, list[tuple[Service, dt.datetime]]]:
        """Every recorded revision of these services (all when None) as (service, valid
        from), oldest first: the target history the SLA maths needs, in one query per
        chunk of ids."""
        t = ServiceRevisionRow.__table__
        base = select(t.c.service_id, t.c.body, t.c.valid_from).order_by(t.c.service_id, t.c.valid_from, t.c.id)
        queries = (
            [base]
            if service_ids is None
            else [base.where(t.c.service_id.in_(list(service_ids[i : i + _KEY_CHUNK])))
                  for i in range(0, len(service_ids), _KEY_CHUNK)]
        )
        out: dict[str, list[tuple[Service, dt.datetime]]] = {}
        with self.engine.connect() as conn:
            for query in queries:
                for row in conn.execute(query):
                    out.setdefault(row.service_id, []).append((codec.service_from_body(row.body), row.valid_from))
        return out

    def known_service_ids(self) -> set[str]:
        """Every service id the store has ever recorded a revision for."""
        t = ServiceRevisionRow.__table__
        with self.engine.connect() as conn:
            return set(conn.execute(select(t.c.service_id).distinct()).scalars())

    # ------------------------------------------------------------- exclusions

    def add_exclusion(
        self,
        service_id: str,
        starts_at: dt.datetime,
        ends_at: dt.datetime,
        reason: str,
        approver: str,
        created_at: dt.datetime,
        vantage: str | None = None,
    ) -> ExclusionRow:
        starts_at, ends_at = _utc(starts_at), _utc(ends_at)
        if ends_at <= starts_at:
            raise ValueError("an exclusion must end after it starts")
        if not reason.strip() or not approver.strip():
            raise ValueError("an exclusion needs a reason and an approver")
        row = ExclusionRow(
            service_id=service_id,
            vantage=vantage,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason.strip(),
            approver=approver.strip(),
            created_at=_utc(created_at),
        )
        with self._session(write=True) as s:
            s.add(row)
            s.commit()
        return row

    def exclusions(
        self,
        service_id: str | None = None,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        vantage: str | None = None,
    ) -> list[ExclusionRow]:
        """Exclusions overlapping [start, end), by start. With ``vantage``, those for that
        vantage and those for every vantage."""
        q = select(ExclusionRow)
        if service_id is not None:
            q = q.where(ExclusionRow.service_id == service_id)
        if start is not None:
            q = q.where(ExclusionRow.ends_at > _utc(start))
        if end is not None:
            q = q.where(ExclusionRow.starts_at < _utc(end))
        if vantage is not None:
            q = q.where(or_(ExclusionRow.vantage.is_(None), ExclusionRow.vantage == vantage))
        with self._session() as s:
            return list(s.scalars(q.order_by(ExclusionRow.starts_at, ExclusionRow.id)))

    def delete_exclusion(self, exclusion_id: int) -> bool:
        with self._write() as conn:
            t = ExclusionRow.__table__
            return conn.execute(delete(t).where(t.c.id == exclusion_id)).rowcount > 0

    # --------------------------------------------------------------- breaches

    def open_breach(
        self,
        service_id: str,
        vantage: str,
        objective: str,
        period: str,
        opened_at: dt.datetime,
        measure: float,
        target: float,
    ) -> BreachRow:
        """Open a breach, or return the one already open for the same key."""
        with self._session(write=True) as s:
            current = _open_breach(s, service_id, vantage, objective, period)
            if current is not None:
                return current
            row = BreachRow(
                service_id=service_id,
                vantage=vantage,
                objective=objective,
                period=period,
                opened_at=_utc(opened_at),
                measure=measure,
                target=target,
            )
            s.add(row)
            s.commit()
            return row

    def resolve_breach(
        self,
        service_id: str,
        vantage: str,
        objective: str,
        period: str,
        resolved_at: dt.datetime,
        measure: float | None = None,
    ) -> BreachRow | None:
        """Resolve the open breach of this key (None when none is open)."""
        with self._session(write=True) as s:
            row = _open_breach(s, service_id, vantage, objective, period)
            if row is None:
                return None
            row.resolved_at = _utc(resolved_at)
            if measure is not None:
                row.measure = measure
            s.add(row)
            s.commit()
            return row

    def breaches(
        self,
        service_id: str | None = None,
        open_only: bool = False,
        since: dt.datetime | None = None,
    ) -> list[BreachRow]:
        """Breaches by opening time; ``since`` keeps those still open at or after it."""
        q = select(BreachRow)
        if service_id is not None:
            q = q.where(BreachRow.service_id == service_id)
        if open_only:
            q = q.where(BreachRow.resolved_at.is_(None))
        if since is not None:
            q = q.where(or_(BreachRow.resolved_at.is_(None), BreachRow.resolved_at >= _utc(since)))
        with self._session() as s:
            return list(s.scalars(q.order_by(BreachRow.opened_at, BreachRow.id)))

    # --------------------------------------------------------- period records

    def write_period_record(self, record: PeriodRecordRow) -> PeriodRecordRow:
        """Write the SLA of a closed period once. A second write of the same key
        (service, vantage, period, objective) raises ``PeriodRecordExists``."""
        values = record.model_dump()
        for name in ("period_start", "period_end", "recorded_at"):
            values[name] = _utc(values[name])
        try:
            with self._write() as conn:
                conn.execute(insert(PeriodRecordRow.__table__), [values])
        except IntegrityError:
            raise PeriodRecordExists(
                f"period record {record.service_id}/{record.vantage}/{record.period}/{record.objective} "
                "is already written; period records are never rewritten"
            ) from None
        return PeriodRecordRow(**values)

    def period_records(
        self,
        service_id: str | None = None,
        period: str | None = None,
        vantage: str | None = None,
    ) -> list[PeriodRecordRow]:
        q = select(PeriodRecordRow)
        if service_id is not None:
            q = q.where(PeriodRecordRow.service_id == service_id)
        if period is not None:
            q = q.where(PeriodRecordRow.period == period)
        if vantage is not None:
            q = q.where(PeriodRecordRow.vantage == vantage)
        order = (PeriodRecordRow.service_id, PeriodRecordRow.vantage, PeriodRecordRow.period, PeriodRecordRow.objective)
        with self._session() as s:
            return list(s.scalars(q.order_by(*order)))


_PG_TYPES = {
    "vantage": "varchar", "service_id": "varchar", "probe_id": "varchar", "kind": "varchar",
    "started_at": "float8", "success": "bool", "reason": "varchar", "duration_seconds": "float8",
    "status_code": "int4", "phases": "varchar", "daemon": "varchar", "day": "date", "first_minute": "int2", "bits": "bytea",
    "counts": "bytea", "observed": "bytea", "good": "bytea", "fast": "bytea", "steps_ok": "bytea",
    "total_counts": "bytea", "good_counts": "bytea",
}  # fmt: skip
_COPY_TYPES: dict[str, list[str]] = {}



def _rollup_query(
    with_counts: bool,
    service_ids: Iterable[str] | None,
    vantage: str | None,
    vantages: Iterable[str] | None,
    start_day: dt.date | None,
    end_day: dt.date | None,
):
    """The stored day rollups a read asks for (the pending deltas are the caller's)."""
    t = DayRollupRow.__table__
    columns = [t.c.vantage, t.c.service_id, t.c.day, t.c.observed, t.c.good, t.c.fast, t.c.steps_ok]
    if with_counts:
        columns += [t.c.total_counts, t.c.good_counts]
    query = select(*columns)
    if service_ids is not None:
        query = query.where(t.c.service_id.in_(list(service_ids)))
    if vantage is not None:
        query = query.where(t.c.vantage == vantage)
    if vantages is not None:
        query = query.where(t.c.vantage.in_(sorted(set(vantages))))
    if start_day is not None:
        query = query.where(t.c.day >= start_day)
    if end_day is not None:
        query = query.where(t.c.day <= end_day)
    return query

def _copy_sql(table: str, columns: Sequence[str]) -> str:
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    _COPY_TYPES[sql] = [_PG_TYPES[c] for c in columns]
    return sql


def _open_breach(s: Session, service_id: str, vantage: str, objective: str, period: str) -> BreachRow | None:
    """The breach of this key still open, if any (at most one is)."""
    return s.scalars(
        select(BreachRow).where(
            BreachRow.service_id == service_id,
            BreachRow.vantage == vantage,
            BreachRow.objective == objective,
            BreachRow.period == period,
            BreachRow.resolved_at.is_(None),
        )
    ).first()


def _first_line(exc: BaseException) -> str:
    inner: Any = getattr(exc, "orig", None) or exc
    return (str(inner).strip().splitlines() or [type(inner).__name__])[0]


def _configure_sqlite(engine: Engine, busy_timeout_seconds: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_seconds * 1000)}")
        # switching a new file to WAL needs a moment alone with it; SQLite answers "locked"
        # at once (the busy timeout does not cover it) while another process creates it
        deadline = time.monotonic() + busy_timeout_seconds
        while True:
            try:
                cur.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("slamon_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")
