"""Mapping between the engine's values and the store's rows (no I/O)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

from slamon.core.model import STORED_CONTEXT, Service
from slamon.core.results import PHASES, ProbeOutcome, ProbeResult, Reason
from slamon.core.sla.rollup import (
    BITMAP_BYTES,
    MINUTES_PER_DAY,
    DayFold,
    DayRollup,
    bitmap_from_bytes,
    bitmap_to_bytes,
)


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


def encode_counts(counts: bytes) -> bytes:
    """A day's per-minute counts as stored: the 1,440 bytes as they are, or shorter when
    that saves room: empty when every minute is zero, else the first non-zero minute
    (2 bytes, big-endian) and the counts from it to the last non-zero one. A day probed
    every minute stays 1,440 bytes; a day of a few results, or none, is a few bytes."""
    if counts == _NO_COUNTS:
        return b""
    spread = int.from_bytes(counts, "little")  # byte i: bits 8i..8i+7
    lo, hi = ((spread & -spread).bit_length() - 1) >> 3, (spread.bit_length() + 7) >> 3
    if hi - lo + 2 >= MINUTES_PER_DAY:
        return counts
    return lo.to_bytes(2, "big") + counts[lo:hi]


def encode_good_counts(good_counts: bytes, total_counts: bytes) -> bytes:
    """Good counts as stored: one byte ``=`` when equal to the total counts (every
    result good, the common day), else as ``encode_counts``."""
    return SAME_AS_TOTAL if good_counts == total_counts else encode_counts(good_counts)


SAME_AS_TOTAL = b"="


def decode_counts(blob: bytes) -> bytes:
    """The 1,440 per-minute counts from what ``encode_counts`` stored."""
    n = len(blob)
    if n == MINUTES_PER_DAY:
        return bytes(blob)
    if not n:
        return _NO_COUNTS
    lo = (blob[0] << 8) | blob[1]
    return bytes(lo) + bytes(blob[2:]) + bytes(MINUTES_PER_DAY - lo - n + 2)


def decode_good_counts(blob: bytes, total_counts: bytes) -> bytes:
    return total_counts if len(blob) == 1 else decode_counts(blob)


def rollup_row(r: DayRollup) -> dict[str, Any]:
    return {
        "vantage": r.vantage,
        "service_id": r.service_id,
        "day": r.day,
        "observed": bitmap_to_bytes(r.observed),
        "good": bitmap_to_bytes(r.good),
        "fast": bitmap_to_bytes(r.fast),
        "steps_ok": bitmap_to_bytes(r.steps_ok),
        "total_counts": encode_counts(r.total_counts),
        "good_counts": encode_good_counts(r.good_counts, r.total_counts),
    }


ROLLUP_KEY_COLUMNS = ("vantage", "service_id", "day")
ROLLUP_DATA_COLUMNS = ("observed", "good", "fast", "steps_ok", "total_counts", "good_counts")


def rollup_values(r: DayRollup, day_as_text: bool) -> tuple:
    """A rollup row as a tuple in key then data column order (the fast insert path).

    ``day_as_text``: SQLite keeps dates as ISO text, as SQLAlchemy's ``Date`` writes them."""
    return (
        r.vantage, r.service_id, r.day.isoformat() if day_as_text else r.day,
        r.observed.to_bytes(BITMAP_BYTES, "big"), r.good.to_bytes(BITMAP_BYTES, "big"),
        r.fast.to_bytes(BITMAP_BYTES, "big"), r.steps_ok.to_bytes(BITMAP_BYTES, "big"),
        encode_counts(r.total_counts), encode_good_counts(r.good_counts, r.total_counts),
    )  # fmt: skip


def rollup_data_values(
    observed: int, good: int, fast: int, steps_ok: int, total_counts: bytes, good_counts: bytes
) -> tuple:
    """A rollup's data columns as a tuple in ``ROLLUP_DATA_COLUMNS`` order (the fast update path)."""
    return (
        observed.to_bytes(BITMAP_BYTES, "big"), good.to_bytes(BITMAP_BYTES, "big"),
        fast.to_bytes(BITMAP_BYTES, "big"), steps_ok.to_bytes(BITMAP_BYTES, "big"),
        encode_counts(total_counts), encode_good_counts(good_counts, total_counts),
    )  # fmt: skip


def rollup_from_row(row: Any) -> DayRollup:
    day = row.day if isinstance(row.day, dt.date) else dt.date.fromisoformat(row.day)
    total = decode_counts(row.total_counts) if "total_counts" in row._fields else _NO_COUNTS
    return DayRollup(
        row.vantage,
        row.service_id,
        day,
        observed=bitmap_from_bytes(bytes(row.observed)),
        good=bitmap_from_bytes(bytes(row.good)),
        fast=bitmap_from_bytes(bytes(row.fast)),
        steps_ok=bitmap_from_bytes(bytes(row.steps_ok)),
        total_counts=total,
        good_counts=decode_good_counts(row.good_counts, total) if "good_counts" in row._fields else _NO_COUNTS,
    )


_NO_COUNTS = bytes(MINUTES_PER_DAY)


def rollups_from_tuples(rows: Iterable[tuple[Any, ...]], with_counts: bool) -> Iterator[DayRollup]:
    """Rollups from ``(vantage, service_id, day, observed, good, fast, steps_ok
    [, total_counts, good_counts])`` tuples: the hot path of every period report."""
    from_bytes = int.from_bytes  # the blobs were written by bitmap_to_bytes (big-endian)
    from_iso = dt.date.fromisoformat
    for row in rows:
        day = row[2] if isinstance(row[2], dt.date) else from_iso(row[2])
        if with_counts:
            total = row[7]
            total = bytes(total) if len(total) == MINUTES_PER_DAY else decode_counts(total)
            good_n = row[8]
            good_n = bytes(good_n) if len(good_n) == MINUTES_PER_DAY else decode_good_counts(good_n, total)
        else:
            total = good_n = _NO_COUNTS
        yield DayRollup(
            row[0],
            row[1],
            day,
            observed=from_bytes(row[3], "big"),
            good=from_bytes(row[4], "big"),
            fast=from_bytes(row[5], "big"),
            steps_ok=from_bytes(row[6], "big"),
            total_counts=total,
            good_counts=good_n,
        )


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
