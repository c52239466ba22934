"""The store's tables, as SQLModel table models on a registry of their own.

Table models are storage shapes, not the catalogue contract: they skip validation
(SQLModel ``table=True``), so the catalogue is validated by the pydantic models in
``slamon.core.model`` and only mapped here.

Indexes are kept to what queries need (see DESIGN performance notes): raw results
carry one index, on ``started_at`` alone. Its keys arrive in time order, so it
grows at the right edge of the B-tree and costs little on batched inserts, unlike
an index on (service, time) which cuts insert throughput 3-4x. It serves the
retention purge and range reads; per-service questions over long periods go to
the day rollups, whose primary key is (vantage, service, day).

Times: raw results keep ``started_at`` as unix seconds (a float, as
``ProbeResult`` has it: cheap to write, identical in SQLite and PostgreSQL);
everything else uses ``UTCDateTime``, stored as naive UTC and read back aware.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out; naive UTC in the column.

    The same column type on SQLite (text) and PostgreSQL (timestamp without time
    zone), so both give identical answers whatever the server's time zone."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime given to the store: {value!r} (pass UTC-aware)")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


class StoreModel(SQLModel, registry=registry()):
    """Base of the store's tables: a metadata of their own, apart from SQLModel's global one."""


class ResultRow(StoreModel, table=True):
    """One probe result, kept for the retention period."""

    __tablename__ = "probe_result"
    __table_args__ = (Index("ix_probe_result_started_at", "started_at"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    )
    vantage: str = Field(sa_column=Column(String(16), nullable=False))
    service_id: str = Field(sa_column=Column(String(63), nullable=False))
    probe_id: str = Field(sa_column=Column(String, nullable=False))  # slugs have no length limit
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    started_at: float = Field(sa_column=Column(Float(precision=53), nullable=False))
    success: bool = Field(nullable=False)
    reason: str | None = Field(default=None, sa_column=Column(String(32)))
    duration_seconds: float = Field(sa_column=Column(Float(precision=53), nullable=False))
    status_code: int | None = Field(default=None)
    # PHASES in order, comma-separated seconds, empty where absent: "0.001,0.002,,0.01,0.0"
    phases: str | None = Field(default=None, sa_column=Column(String(128)))
    # the daemon that probed (host/pid, slamon.leases.default_identity); None before 0006
    daemon: str | None = Field(default=None, sa_column=Column(String(64)))


class DayRollupRow(StoreModel, table=True):
    """One ``DayRollup``: bitmaps as 180-byte big-endian blobs; per-minute counts as
    1,440-byte blobs, or shorter where that saves room (``codec.encode_counts``: empty
    for a day without counts, the span of non-zero minutes for a day of a few results;
    good counts equal to the total as one byte), so sparse days take a fifth of the room."""

    __tablename__ = "day_rollup"

    vantage: str = Field(sa_column=Column(String(16), primary_key=True))
    service_id: str = Field(sa_column=Column(String(63), primary_key=True))
    day: dt.date = Field(primary_key=True)
    observed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    good: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    fast: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    steps_ok: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    total_counts: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    good_counts: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class RollupDeltaRow(StoreModel, table=True):
    """What one write batch adds to one day rollup, not yet merged into ``day_rollup``.

    Append-only and small (the minutes the batch touched, not the whole day): each
    write batch inserts these beside its raw results, in the same transaction, and
    they are merged into the day rollups in bulk later (``Store.merge_pending_rollups``),
    so one day row is rewritten once per merge rather than once per batch. Reads add
    the pending ones to the stored rollups, so answers never depend on when merging
    happened.

    ``first_minute``: the first minute of the span (minute of the UTC day); ``bits``:
    the observed, good, fast and steps-ok bits of the span, each shifted so that
    ``first_minute`` is bit 0, as four little-endian runs of equal length; ``counts``:
    total then good results per minute of the span (two runs of equal length)."""

    __tablename__ = "rollup_delta"

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    )
    vantage: str = Field(sa_column=Column(String(16), nullable=False))
    service_id: str = Field(sa_column=Column(String(63), nullable=False))
    day: dt.date = Field(nullable=False)
    first_minute: int = Field(sa_column=Column(SmallInteger, nullable=False))
    bits: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    counts: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ServiceRevisionRow(StoreModel, table=True):
    """One loaded version of one service, valid over [valid_from, valid_to)."""

    __tablename__ = "service_revision"
    __table_args__ = (Index("ix_service_revision_service_valid_from", "service_id", "valid_from"),)

    id: int | None = Field(default=None, primary_key=True)
    service_id: str = Field(sa_column=Column(String(63), nullable=False))
    office: str = Field(sa_column=Column(String(16), nullable=False))
    content_hash: str = Field(sa_column=Column(String(64), nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))  # canonical JSON of the Service
    valid_from: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    valid_to: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))


class ExclusionRow(StoreModel, table=True):
    """Time recorded as out of the SLA (both numerator and denominator), with who approved it."""

    __tablename__ = "exclusion"

    id: int | None = Field(default=None, primary_key=True)
    service_id: str = Field(sa_column=Column(String(63), nullable=False, index=True))
    vantage: str | None = Field(default=None, sa_column=Column(String(16)))  # None: every vantage
    starts_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    ends_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    approver: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class BreachRow(StoreModel, table=True):
    """A period measure below its target (or an outage where none is allowed), opened and resolved."""

    __tablename__ = "breach"
    __table_args__ = (Index("ix_breach_service_period", "service_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    service_id: str = Field(sa_column=Column(String(63), nullable=False))
    vantage: str = Field(sa_column=Column(String(16), nullable=False))
    objective: str = Field(sa_column=Column(String(32), nullable=False))
    period: str = Field(sa_column=Column(String(32), nullable=False))
    opened_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    resolved_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # as the engine gives them (ObjectiveResult): a ratio objective's measure as a ratio
    # 0..1 and its target in percent; unplanned_outages: bad minutes and the number allowed
    measure: float = Field(sa_column=Column(Float(precision=53), nullable=False))
    target: float = Field(sa_column=Column(Float(precision=53), nullable=False))


class PeriodRecordRow(StoreModel, table=True):
    """The SLA of a closed period: audit evidence, written once and never updated."""

    __tablename__ = "period_record"

    service_id: str = Field(sa_column=Column(String(63), primary_key=True))
    vantage: str = Field(sa_column=Column(String(16), primary_key=True))  # "*": every vantage
    period: str = Field(sa_column=Column(String(32), primary_key=True))  # e.g. 2026-11, 2026-Q3
    objective: str = Field(sa_column=Column(String(32), primary_key=True))
    period_start: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    period_end: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    measure: float | None = Field(default=None, sa_column=Column(Float(precision=53)))  # None: nothing observed
    target: float = Field(sa_column=Column(Float(precision=53), nullable=False))
    met: bool | None = Field(default=None)
    eligible_seconds: float = Field(sa_column=Column(Float(precision=53), nullable=False))
    observed_seconds: float = Field(sa_column=Column(Float(precision=53), nullable=False))
    good_seconds: float = Field(sa_column=Column(Float(precision=53), nullable=False))
    excluded_seconds: float = Field(default=0.0, sa_column=Column(Float(precision=53), nullable=False))
    maintenance_seconds: float = Field(default=0.0, sa_column=Column(Float(precision=53), nullable=False))
    recorded_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))



class SealedPeriodRow(StoreModel, table=True):
    """One part (a span under one set of targets) of the sealed measures of a closed SLA
    period of one service at one vantage: written once, when the period closes, and
    never changed (the database refuses updates and deletes, as for ``period_record``).

    A period is sealed in one transaction, all its parts at once (``parts`` says how
    many). Minutes are epoch minutes; the counts are the engine's ``PartMeasure``
    counts (``COUNT_FIELDS``) with its longest outage and its edge runs (the runs
    holding its first and last minute: their lengths, the dependency minutes of the
    first, whether the last began as an overrun); ``sla`` is the targets in force as canonical JSON; ``runs`` the outage runs
    of the part (``slamon.store.sealed_codec``: docs/storage.md has the layout);
    ``objectives`` the verdict per objective as sealed (on part 0)."""

    __tablename__ = "sealed_period"
    __table_args__ = (Index("ix_sealed_period_period_start", "period_start"),)

    service_id: str = Field(sa_column=Column(String(63), primary_key=True))
    vantage: str = Field(sa_column=Column(String(16), primary_key=True))
    period_start: dt.datetime = Field(sa_column=Column(UTCDateTime, primary_key=True))
    part: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    parts: int = Field(sa_column=Column(SmallInteger, nullable=False))
    period_end: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    period_label: str = Field(sa_column=Column(String(32), nullable=False))
    period_kind: str = Field(sa_column=Column(String(16), nullable=False))
    timezone: str = Field(sa_column=Column(String(64), nullable=False))
    sealed_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    met: bool | None = Field(default=None)
    part_start: int = Field(sa_column=Column(BigInteger, nullable=False))
    part_end: int = Field(sa_column=Column(BigInteger, nullable=False))
    sla: str = Field(sa_column=Column(Text, nullable=False))
    window_minutes: int = Field(sa_column=Column(Integer, nullable=False))
    eligible_minutes: int = Field(sa_column=Column(Integer, nullable=False))
    observed_minutes: int = Field(sa_column=Column(Integer, nullable=False))
    good_minutes: int = Field(sa_column=Column(Integer, nullable=False))
    fast_minutes: int = Field(sa_column=Column(Integer, nullable=False))
    steps_ok_minutes: int = Field(sa_column=Column(Integer, nullable=False))
    outside_hours_minutes: int = Field(sa_column=Column(Integer, nullable=False))
    maintenance_minutes: int = Field(sa_column=Column(Integer, nullable=False))
    excluded_minutes: int = Field(sa_column=Column(Integer, nullable=False))
    outage_runs: int = Field(sa_column=Column(Integer, nullable=False))
    results_total: int = Field(sa_column=Column(BigInteger, nullable=False))
    results_good: int = Field(sa_column=Column(BigInteger, nullable=False))
    overrun_minutes: int = Field(sa_column=Column(Integer, nullable=False))
    dependency_minutes: int = Field(sa_column=Column(Integer, nullable=False))
    longest_outage_minutes: int = Field(sa_column=Column(Integer, nullable=False))
    head_run_minutes: int = Field(sa_column=Column(Integer, nullable=False))
    tail_run_minutes: int = Field(sa_column=Column(Integer, nullable=False))
    head_dependency_minutes: int = Field(sa_column=Column(Integer, nullable=False))
    tail_overrun: bool = Field(nullable=False)
    runs: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    objectives: str | None = Field(default=None, sa_column=Column(Text))


METADATA = StoreModel.metadata
