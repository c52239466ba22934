"""Mapping between the engine's values and the store's rows (no I/O)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

from slamon.core.model import STORED_CONTEXT, Service
from slamon.core.results import PHASES, ProbeOutcome, ProbeResult, Reason
from slamon.core.sla.rollup import ALL_MINUTES, MINUTES_PER_DAY, DayFold, DayRollup
from slamon.core.sla.series import DaySeries, compact_series


def encode_phases(phases: dict[str, float]) -> str | None:
    """PHASES in order, comma-separated seconds (6 significant digits), empty where absent."""
    if not phases:
        return None
    return ",".join(["" if (v := phases.get(p)) is None else f"{v:g}" for p in PHASES])


def decode_phases(text: str | None) -> dict[str, float]:
    if not text:
        return {}
    return {p: float(v) for p, v in zip(PHASES, text.split(","), strict=True) if v}


RESULT_COLUMNS = (
    "vantage", "service_id", "probe_id", "kind", "started_at", "success",
    "reason", "duration_seconds", "status_code", "phases",
)
RESULT_DAEMON_COLUMN = "daemon"  # written by the store after the ``result_values`` tuple


def result_values(r: ProbeResult) -> tuple:
    """A raw row as a tuple in ``RESULT_COLUMNS`` order (the fast insert path)."""
    o = r.outcome
    return (
        r.vantage, r.service_id, r.probe_id, r.kind, r.started_at, o.success,
        None if o.reason is None else str(o.reason), o.duration_seconds, o.status_code,
        encode_phases(o.phases) if o.phases else None,
    )


def result_row(r: ProbeResult) -> dict[str, Any]:
    o = r.outcome
    return {
        "vantage": r.vantage,
        "service_id": r.service_id,
        "probe_id": r.probe_id,
        "kind": r.kind,
        "started_at": r.started_at,
        "success": o.success,
        "reason": str(o.reason) if o.reason is not None else None,
        "duration_seconds": o.duration_seconds,
        "status_code": o.status_code,
        "phases": encode_phases(o.phases),
    }


def result_from_row(row: Any) -> ProbeResult:
    return ProbeResult(
        vantage=row.vantage,
        service_id=row.service_id,
        probe_id=row.probe_id,
        kind=row.kind,
        started_at=row.started_at,
        outcome=ProbeOutcome(
            success=bool(row.success),
            duration_seconds=row.duration_seconds,
            reason=Reason(row.reason) if row.reason else None,
            status_code=row.status_code,
            phases=decode_phases(row.phases),
        ),
    )


# ------------------------------------------------------------ day rollups (codec v1)
#
# docs/storage.md ("Day rollup codec") is the written specification. Every blob starts
# with a byte naming its version and form; every multi-byte number is little-endian.

CODEC_VERSION = 1
BITMAP = 0x01  # v1 bitmap: the minutes little-endian (minute 0 = bit 0), trailing zero bytes dropped
FULL_DAY = b"\x11"  # v1 bitmap: every minute of the day (the common day: nothing to decode)
COUNTS = 0x01  # v1 counts: u16 first minute, then one byte per minute to the last non-zero one
NO_COUNTS = b"\x01"  # v1 counts: every minute zero
SAME_AS_TOTAL = b"\x12"  # v1 good counts: equal to the total counts (every result good)
_NO_COUNTS = bytes(MINUTES_PER_DAY)


def encode_bitmap(bitmap: int) -> bytes:
    if bitmap == ALL_MINUTES:
        return FULL_DAY
    return bytes((BITMAP,)) + bitmap.to_bytes((bitmap.bit_length() + 7) >> 3, "little")


def decode_bitmap(blob: bytes) -> int:
    return ALL_MINUTES if blob == FULL_DAY else int.from_bytes(blob, "little") >> 8


def encode_counts(counts: bytes) -> bytes:
    """A day's 1,440 per-minute counts as stored: the span from the first to the last
    non-zero minute (a day of a few results is a few bytes; none is one byte)."""
    if counts == _NO_COUNTS:
        return NO_COUNTS
    spread = int.from_bytes(counts, "little")  # byte i: bits 8i..8i+7
    lo, hi = ((spread & -spread).bit_length() - 1) >> 3, (spread.bit_length() + 7) >> 3
    return bytes((COUNTS, lo & 0xFF, lo >> 8)) + counts[lo:hi]


def encode_good_counts(good_counts: bytes, total_counts: bytes) -> bytes:
    """Good counts as stored: ``SAME_AS_TOTAL`` when equal to the total counts (every
    result good, the common day), else as ``encode_counts``."""
    return SAME_AS_TOTAL if good_counts == total_counts else encode_counts(good_counts)


def decode_counts(blob: bytes) -> bytes:
    """The 1,440 per-minute counts from what ``encode_counts`` stored."""
    n = len(blob)
    if n <= 1:
        return _NO_COUNTS
    lo = blob[1] | (blob[2] << 8)
    return bytes(lo) + bytes(blob[3:]) + bytes(MINUTES_PER_DAY - lo - n + 3)


def decode_good_counts(blob: bytes, total_counts: bytes) -> bytes:
    return total_counts if blob == SAME_AS_TOTAL else decode_counts(blob)


def rollup_row(r: DayRollup) -> dict[str, Any]:
    return dict(zip(ROLLUP_KEY_COLUMNS + ROLLUP_DATA_COLUMNS, rollup_values(r, False), strict=True))


ROLLUP_KEY_COLUMNS = ("vantage", "service_id", "day")
ROLLUP_DATA_COLUMNS = ("observed", "good", "fast", "steps_ok", "total_counts", "good_counts")


def rollup_values(r: DayRollup, day_as_text: bool) -> tuple:
    """A rollup row as a tuple in key then data column order (the fast insert path).

    ``day_as_text``: SQLite keeps dates as ISO text, as SQLAlchemy's ``Date`` writes them."""
    data = rollup_data_values(r.observed, r.good, r.fast, r.steps_ok, r.total_counts, r.good_counts)
    return (r.vantage, r.service_id, r.day.isoformat() if day_as_text else r.day, *data)


def rollup_data_values(
    observed: int, good: int, fast: int, steps_ok: int, total_counts: bytes, good_counts: bytes
) -> tuple:
    """A rollup's data columns as a tuple in ``ROLLUP_DATA_COLUMNS`` order (the fast update path)."""
    return (
        encode_bitmap(observed), encode_bitmap(good), encode_bitmap(fast), encode_bitmap(steps_ok),
        encode_counts(total_counts), encode_good_counts(good_counts, total_counts),
    )  # fmt: skip


def rollup_from_row(row: Any) -> DayRollup:
    with_counts = "total_counts" in row._fields
    values = tuple(row[:7]) + ((row.total_counts, row.good_counts) if with_counts else ())
    return next(rollups_from_tuples([values], with_counts))


def rollups_from_tuples(rows: Iterable[tuple[Any, ...]], with_counts: bool) -> Iterator[DayRollup]:
    """Rollups from ``(vantage, service_id, day, observed, good, fast, steps_ok
    [, total_counts, good_counts])`` tuples: the hot path of every period report. A
    bitmap of every minute (most of them) is the shared ``ALL_MINUTES``, decoded by one
    comparison; days are parsed once each."""
    from_bytes = int.from_bytes
    full, all_minutes = FULL_DAY, ALL_MINUTES
    days: dict[Any, dt.date] = {}
    from_iso = dt.date.fromisoformat
    total = good_n = _NO_COUNTS
    for row in rows:
        day = row[2]
        if not isinstance(day, dt.date):
            parsed = days.get(day)
            if parsed is None:
                parsed = days[day] = from_iso(day)
            day = parsed
        o, g, f, s = row[3], row[4], row[5], row[6]
        if with_counts:
            total = decode_counts(row[7])
            good_n = decode_good_counts(row[8], total)
        yield DayRollup(
            row[0],
            row[1],
            day,
            all_minutes if o == full else from_bytes(o, "little") >> 8,
            all_minutes if g == full else from_bytes(g, "little") >> 8,
            all_minutes if f == full else from_bytes(f, "little") >> 8,
            all_minutes if s == full else from_bytes(s, "little") >> 8,
            total,
            good_n,
        )


def series_from_tuples(rows: Iterable[tuple[Any, ...]]) -> dict[tuple[str, str], DaySeries]:
    """Day series by (service, vantage) straight from rollup rows without counts (the
    timeslice report's read; rows ordered by service, vantage and day, one per day).

    A full day (all four bitmaps ``FULL_DAY``: most days) is neither decoded nor made
    into a rollup: the series marks it (``compact_series``) and makes it if asked."""
    full, all_minutes = FULL_DAY, ALL_MINUTES
    from_bytes = int.from_bytes
    from_iso = dt.date.fromisoformat
    ordinals: dict[Any, int] = {}
    out: dict[tuple[str, str], DaySeries] = {}
    key: tuple[str, str] | None = None
    full_days: list[int] = []
    others: dict[dt.date, DayRollup] = {}
    for row in rows:
        vantage, sid, day = row[0], row[1], row[2]
        if (sid, vantage) != key:
            if key is not None:
                out[key] = compact_series(key[1], key[0], full_days, others)
            key, full_days, others = (sid, vantage), [], {}
        o, g, f, s = row[3], row[4], row[5], row[6]
        if o == full and g == full and f == full and s == full:
            n = ordinals.get(day)
            if n is None:
                n = ordinals[day] = (day if isinstance(day, dt.date) else from_iso(day)).toordinal()
            full_days.append(n)
            continue
        if not isinstance(day, dt.date):
            day = from_iso(day)
        others[day] = DayRollup(
            vantage, sid, day,
            all_minutes if o == full else from_bytes(o, "little") >> 8,
            all_minutes if g == full else from_bytes(g, "little") >> 8,
            all_minutes if f == full else from_bytes(f, "little") >> 8,
            all_minutes if s == full else from_bytes(s, "little") >> 8,
        )  # fmt: skip
    if key is not None:
        out[key] = compact_series(key[1], key[0], full_days, others)
    return out


def canonical_service(service: Service) -> tuple[str, str]:
    """The canonical JSON of a service (sorted keys, no spaces) and its SHA-256.

    Every field is written, defaults included, so a stored revision reads back the
    same even if a later slamon changes a default."""
    body = json.dumps(
        service.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":")
    )
    return body, hashlib.sha256(body.encode()).hexdigest()


def service_from_body(body: str) -> Service:
    return Service.model_validate(json.loads(body), context=STORED_CONTEXT)


# ------------------------------------------------------------ rollup deltas

DELTA_COLUMNS = ("vantage", "service_id", "day", "first_minute", "bits", "counts")


def delta_values(span: tuple, day_as_text: bool) -> tuple:
    """A ``RollupBuilder.spans`` entry (one write batch's part of one day) as a
    ``rollup_delta`` row in ``DELTA_COLUMNS`` order."""
    vantage, service_id, day, first, observed, good, fast, steps_ok, total, good_n = span
    n = (observed.bit_length() + 7) >> 3  # every bitmap is a subset of observed
    return (
        vantage, service_id, day.isoformat() if day_as_text else day, first,
        observed.to_bytes(n, "little") + good.to_bytes(n, "little")
        + fast.to_bytes(n, "little") + steps_ok.to_bytes(n, "little"),
        total + good_n,
    )  # fmt: skip


class DeltaFold(DayFold):
    """Deltas of one day folded together (what ``DayRollup.merge`` of each would give)."""

    __slots__ = ()

    def add(self, first_minute: int, bits: bytes, counts: bytes) -> None:
        n = len(bits) >> 2
        if n == 1:  # a span of at most 8 minutes (most batches): one byte per bitmap
            o = bits[0]
            observed = o << first_minute
            self.bad |= (o & ~bits[1]) << first_minute
            self.slow |= (o & ~bits[2]) << first_minute
            self.steps_bad |= (o & ~bits[3]) << first_minute
        else:
            from_bytes = int.from_bytes
            observed = from_bytes(bits[:n], "little") << first_minute
            self.bad |= observed & ~(from_bytes(bits[n : 2 * n], "little") << first_minute)
            self.slow |= observed & ~(from_bytes(bits[2 * n : 3 * n], "little") << first_minute)
            self.steps_bad |= observed & ~(from_bytes(bits[3 * n :], "little") << first_minute)
        self.observed |= observed
        span = len(counts) >> 1
        total, good_n = self.total, self.good_n
        for i in range(span):
            t = counts[i]
            if t:
                m = first_minute + i
                v = total[m] + t
                total[m] = v if v < 255 else 255
                g = counts[span + i]
                if g:
                    v = good_n[m] + g
                    good_n[m] = v if v < 255 else 255



def fold_deltas(rows: Iterable[tuple[Any, ...]]) -> list[DayRollup]:
    """``rollup_delta`` rows (``DELTA_COLUMNS`` order) folded into one rollup per day."""
    folds: dict[tuple[str, str, Any], DeltaFold] = {}
    for vantage, service_id, day, first_minute, bits, counts in rows:
        key = (vantage, service_id, day)
        fold = folds.get(key)
        if fold is None:
            fold = folds[key] = DeltaFold()
        fold.add(first_minute, bytes(bits), bytes(counts))
    from_iso = dt.date.fromisoformat
    return [
        fold.rollup(v, s, d if isinstance(d, dt.date) else from_iso(d)) for (v, s, d), fold in folds.items()
    ]


def rollups_with_deltas(rows: Iterable[tuple[Any, ...]], with_counts: bool) -> Iterator[DayRollup]:
    """Rollups from stored rows and pending deltas ordered by day key: ``(vantage,
    service_id, day, observed, good, fast, steps_ok, total_counts, good_counts,
    first_minute, bits, counts)``, a stored row with ``first_minute`` NULL, a delta
    with the six data columns NULL. One rollup per day, the deltas merged in.

    Deltas touch few days: stored rows without any are passed on in runs to
    ``rollups_from_tuples`` (the ordinary read path), each day with deltas alone."""
    plain: list[tuple[Any, ...]] = []  # stored rows whose day has no delta (so far)
    key: tuple[Any, ...] | None = None
    stored: tuple[Any, ...] | None = None
    fold: DeltaFold | None = None
    for row in rows:
        k = row[:3]
        if k != key:
            if fold is not None:
                if plain:
                    yield from rollups_from_tuples(plain, with_counts)
                    plain = []
                yield _stored_and_fold(key, stored, fold, with_counts)
            elif stored is not None:
                plain.append(stored)
                if len(plain) >= 1000:
                    yield from rollups_from_tuples(plain, with_counts)
                    plain = []
            key, stored, fold = k, None, None
        if row[9] is None:
            stored = row
        else:
            if fold is None:
                fold = DeltaFold()
            fold.add(row[9], bytes(row[10]), bytes(row[11]))
    if fold is not None:
        if plain:
            yield from rollups_from_tuples(plain, with_counts)
            plain = []
        yield _stored_and_fold(key, stored, fold, with_counts)
    elif stored is not None:
        plain.append(stored)
    if plain:
        yield from rollups_from_tuples(plain, with_counts)


def _stored_and_fold(key, stored, fold: DeltaFold, with_counts: bool) -> DayRollup:
    vantage, service_id, day = key
    day = day if isinstance(day, dt.date) else dt.date.fromisoformat(day)
    base = next(rollups_from_tuples([stored], with_counts)) if stored is not None else None
    added = fold.rollup(vantage, service_id, day)
    merged = added if base is None else base.merge(added)
    if with_counts:
        return merged
    return DayRollup(vantage, service_id, day, merged.observed, merged.good, merged.fast, merged.steps_ok)
