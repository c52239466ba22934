"""The store's sealed period aggregates: written once when an SLA period closes, read
in bulk by reports (one query for every service of a report).

A mixin of ``Store`` (its engine, dialect and write transaction), kept in its own
module. Reads and writes ``SealedPeriod`` values of ``slamon.core.sla.sealed``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.dialects import postgresql, sqlite

from slamon.core.sla.periods import PeriodWindow, parse_period
from slamon.core.sla.sealed import COUNT_FIELDS, SealedPart, SealedPeriod
from slamon.store import sealed_codec
from slamon.store.tables import SealedPeriodRow

if TYPE_CHECKING:
    from slamon.store.store import Store

_IDS_IN_QUERY = 500  # more ids than this: read the time range and keep the wanted ones here
_PLAIN = frozenset({"outage_runs", "results_total", "results_good"})  # counts, not minutes
_COUNT_COLUMNS = tuple(f if f in _PLAIN else f"{f}_minutes" for f in COUNT_FIELDS)
"""A column per count, named after ``COUNT_FIELDS`` (so a count added there needs its
column: ``_missing_columns`` fails at import otherwise, never a silent shift)."""
_EDGE_COLUMNS = (
    "longest_outage_minutes", "head_run_minutes", "tail_run_minutes", "head_dependency_minutes", "tail_overrun",
)  # fmt: skip  (SealedPart order after ``counts``)


def _missing_columns() -> list[str]:
    have = set(SealedPeriodRow.__table__.c.keys())
    return [c for c in (*_COUNT_COLUMNS, *_EDGE_COLUMNS) if c not in have]


if _missing_columns():  # pragma: no cover - a count added to the engine without its column
    raise ImportError(f"sealed_period has no column for {_missing_columns()}")

SealedKey = tuple[str, str, dt.datetime]
"""(service id, vantage, period start)."""


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass a UTC-aware datetime")
    return value.astimezone(dt.UTC)


@lru_cache(maxsize=4096)  # a few dozen periods per office timezone in a report
def _window(label: str, timezone: str) -> PeriodWindow:
    return parse_period(label, timezone)


class SealedPeriods:
    """``Store`` methods for sealed period aggregates."""

    def seal_periods(self: Store, records: Iterable[SealedPeriod]) -> int:
        """Write sealed periods; a period already sealed is left as it is (write-once:
        sealing again never changes a record). Returns how many periods were new.

        All parts of a period go in one transaction (a reader never sees half a period)."""
        records = list(records)
        if not records:
            return 0
        t = SealedPeriodRow.__table__
        rows = []
        for rec in records:
            period = rec.period
            common = {
                "service_id": rec.service_id, "vantage": rec.vantage, "period_start": _utc(period.start),
                "parts": len(rec.parts), "period_end": _utc(period.end), "period_label": period.label,
                "period_kind": str(period.kind.value), "timezone": period.timezone,
                "sealed_at": _utc(rec.sealed_at), "met": rec.met,
            }  # fmt: skip
            for i, p in enumerate(rec.parts):
                row = common | {
                    "part": i, "part_start": p.start_minute, "part_end": p.end_minute,
                    "sla": sealed_codec.encode_sla(p.sla), "runs": sealed_codec.encode_runs(p.runs),
                    "objectives": sealed_codec.encode_objectives(dict(rec.objectives)) if i == 0 else None,
                }  # fmt: skip
                row.update(zip(_COUNT_COLUMNS, p.counts, strict=True))
                row.update(zip(_EDGE_COLUMNS, (p.longest, p.head_run, p.tail_run, p.head_dependency, p.tail_overrun), strict=True))
                rows.append(row)
        first = min(r["period_start"] for r in rows)
        last = max(r["period_start"] for r in rows)
        stmt = (postgresql.insert(t) if self.dialect == "postgresql" else sqlite.insert(t)).on_conflict_do_nothing()
        ids = sorted({r["service_id"] for r in rows})
        known = select(t.c.service_id, t.c.vantage, t.c.period_start).where(
            t.c.part == 0, t.c.period_start >= first, t.c.period_start <= last
        )
        if len(ids) <= _IDS_IN_QUERY:
            known = known.where(t.c.service_id.in_(ids))
        with self._write() as conn:
            present = {(r.service_id, r.vantage, r.period_start) for r in conn.execute(known)}
            new = [r for r in rows if (r["service_id"], r["vantage"], r["period_start"]) not in present]
            for i in range(0, len(new), 2000):
                conn.execute(stmt, new[i : i + 2000])
        return len({(r["service_id"], r["vantage"], r["period_start"]) for r in new})

    def sealed_keys(self: Store, start: dt.datetime, end: dt.datetime) -> set[SealedKey]:
        """(service, vantage, period start) of every period sealed with its start in [start, end)."""
        t = SealedPeriodRow.__table__
        q = select(t.c.service_id, t.c.vantage, t.c.period_start).where(
            t.c.part == 0, t.c.period_start >= _utc(start), t.c.period_start < _utc(end)
        )
        with self.engine.connect() as conn:
            return {(r.service_id, r.vantage, r.period_start) for r in conn.execute(q)}

    def sealed_periods(
        self: Store,
        start: dt.datetime,
        end: dt.datetime,
        service_ids: Sequence[str] | None = None,
        *,
        vantages: Iterable[str] | None = None,
        full: bool = False,
    ) -> dict[tuple[str, str], list[SealedPeriod]]:
        """Every sealed period inside [start, end) (its start and end both inside), of
        these services (all when None), by (service id, vantage), oldest first.

        One query for all services. ``full``: also read the outage runs of each part and
        the verdicts as sealed (a report's measures need neither: it reads the counts,
        the targets and whether a run touches each end of a part)."""
        t = SealedPeriodRow.__table__
        # sealed_at as the text stored (parsed once per distinct value below): a
        # datetime type's per-row processing was most of the read
        cols = [
            t.c.service_id, t.c.vantage, t.c.period_label, t.c.timezone, t.c.part, t.c.parts,
            cast(t.c.sealed_at, String), t.c.part_start, t.c.part_end, t.c.sla,
            *[t.c[c] for c in _COUNT_COLUMNS], *[t.c[c] for c in _EDGE_COLUMNS], t.c.met,
        ]  # fmt: skip
        # positions in each row: the counts, then the edge columns, then met (and runs, objectives)
        c0 = 10
        e0 = c0 + len(_COUNT_COLUMNS)
        met_at = e0 + len(_EDGE_COLUMNS)
        if full:
            cols += [t.c.runs, t.c.objectives]
        q = select(*cols).where(t.c.period_start >= _utc(start), t.c.period_end <= _utc(end))
        wanted = None if service_ids is None else set(service_ids)
        if wanted is not None and len(wanted) <= _IDS_IN_QUERY:
            q = q.where(t.c.service_id.in_(sorted(wanted)))
        if vantages is not None:
            q = q.where(t.c.vantage.in_(sorted(set(vantages))))
        q = q.order_by(t.c.service_id, t.c.vantage, t.c.period_start, t.c.part)
        decode_sla, decode_runs = sealed_codec.decode_sla, sealed_codec.decode_runs
        times: dict[str, dt.datetime] = {}
        out: dict[tuple[str, str], list[SealedPeriod]] = {}
        parts: list[SealedPart] = []
        head = None
        with self.engine.connect() as conn:
            # the driver's rows as they come (plain tuples): SQLAlchemy's row objects cost
            # more than what is done with them; the bounds go through the column type
            sql = q.compile(conn, compile_kwargs={"render_postcompile": True})
            bind = t.c.period_start.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
            params = {
                k: bind(v) if bind is not None and isinstance(v, dt.datetime) else v
                for k, v in sql.construct_params().items()
            }
            if sql.positional:
                params = tuple(params[name] for name in sql.positiontup)
            rows = conn.exec_driver_sql(str(sql), params).fetchall()
        sla_of: dict[str, Any] = {}
        for row in rows:
            sid = row[0]
            if wanted is not None and sid not in wanted:
                continue
            if row[4] == 0:
                parts = []
                head = row
            parts.append(
                SealedPart(
                    row[7], row[8], sla_of.get(row[9]) or sla_of.setdefault(row[9], decode_sla(row[9])),
                    row[c0:e0], row[e0], row[e0 + 1], row[e0 + 2], row[e0 + 3], bool(row[e0 + 4]),
                    decode_runs(row[met_at + 1]) if full else None,
                )
            )
            if len(parts) == head[5]:  # the period's last part
                objectives = sealed_codec.decode_objectives(head[met_at + 2]) if full else {}
                met = None if head[met_at] is None else bool(head[met_at])
                sealed_at = times.get(head[6])
                if sealed_at is None:
                    sealed_at = times[head[6]] = dt.datetime.fromisoformat(head[6]).replace(tzinfo=dt.UTC)
                key = (sid, row[1])
                found = out.get(key)
                if found is None:
                    found = out[key] = []
                found.append(SealedPeriod(sid, row[1], _window(head[2], head[3]), sealed_at, tuple(parts), met, objectives))
        return out

    def first_rollup_day(self: Store) -> dt.date | None:
        """The earliest day with a rollup (stored or pending), None for an empty store."""
        from slamon.store.tables import DayRollupRow, RollupDeltaRow

        days = []
        with self.engine.connect() as conn:
            for table in (DayRollupRow.__table__, RollupDeltaRow.__table__):
                day = conn.execute(select(func.min(table.c.day))).scalar_one()
                if day is not None:
                    days.append(day if isinstance(day, dt.date) else dt.date.fromisoformat(day))
        return min(days) if days else None
