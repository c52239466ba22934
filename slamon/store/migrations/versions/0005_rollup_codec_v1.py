"""day rollup codec v1: a version byte on every blob, one byte order (little-endian)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Before: bitmaps as 180 bytes big-endian; per-minute counts as 1,440 bytes, or empty,
or a big-endian 2-byte first minute and a span, or ``=`` for good counts equal to the
total. From this revision every blob starts with a byte naming its version and form,
and numbers are little-endian (docs/storage.md, "Day rollup codec"); a day with every
minute set is one byte, so reading it decodes nothing. Every stored row is rewritten
here, in chunks (keyed by the primary key), inside the migration's transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_MINUTES = 1440
_ALL = (1 << _MINUTES) - 1
_CHUNK = 2000


def _old_bitmap(blob: bytes) -> int:
    return int.from_bytes(blob, "big")


def _old_counts(blob: bytes) -> bytes:
    n = len(blob)
    if n == _MINUTES:
        return bytes(blob)
    if not n:
        return bytes(_MINUTES)
    lo = (blob[0] << 8) | blob[1]
    return bytes(lo) + bytes(blob[2:]) + bytes(_MINUTES - lo - n + 2)


def _new_bitmap(bitmap: int) -> bytes:
    if bitmap == _ALL:
        return b"\x11"
    return b"\x01" + bitmap.to_bytes((bitmap.bit_length() + 7) >> 3, "little")


def _new_counts(counts: bytes) -> bytes:
    if counts == bytes(_MINUTES):
        return b"\x01"
    spread = int.from_bytes(counts, "little")
    lo, hi = ((spread & -spread).bit_length() - 1) >> 3, (spread.bit_length() + 7) >> 3
    return bytes((1, lo & 0xFF, lo >> 8)) + counts[lo:hi]


def _convert(row) -> dict:
    total = _old_counts(bytes(row.total_counts))
    good_blob = bytes(row.good_counts)
    good = total if good_blob == b"=" else _old_counts(good_blob)
    return {
        "v": row.vantage, "s": row.service_id, "d": row.day,
        "observed": _new_bitmap(_old_bitmap(bytes(row.observed))), "good": _new_bitmap(_old_bitmap(bytes(row.good))),
        "fast": _new_bitmap(_old_bitmap(bytes(row.fast))), "steps_ok": _new_bitmap(_old_bitmap(bytes(row.steps_ok))),
        "total_counts": _new_counts(total),
        "good_counts": b"\x12" if good == total else _new_counts(good),
    }  # fmt: skip


def upgrade() -> None:
    conn = op.get_bind()
    first = sa.text(
        "SELECT vantage, service_id, day, observed, good, fast, steps_ok, total_counts, good_counts "
        "FROM day_rollup ORDER BY vantage, service_id, day LIMIT :n"
    )
    after = sa.text(
        "SELECT vantage, service_id, day, observed, good, fast, steps_ok, total_counts, good_counts "
        "FROM day_rollup WHERE (vantage > :v) OR (vantage = :v AND service_id > :s) "
        "OR (vantage = :v AND service_id = :s AND day > :d) ORDER BY vantage, service_id, day LIMIT :n"
    )
    write = sa.text(
        "UPDATE day_rollup SET observed = :observed, good = :good, fast = :fast, steps_ok = :steps_ok, "
        "total_counts = :total_counts, good_counts = :good_counts "
        "WHERE vantage = :v AND service_id = :s AND day = :d"
    )
    rows = conn.execute(first, {"n": _CHUNK}).fetchall()
    while rows:
        conn.execute(write, [_convert(r) for r in rows])
        last = rows[-1]
        # the day as the driver gave it (ISO text from SQLite, a date from PostgreSQL)
        rows = conn.execute(after, {"v": last.vantage, "s": last.service_id, "d": last.day, "n": _CHUNK}).fetchall()


def downgrade() -> None:
    raise NotImplementedError("the v1 rollup codec is not converted back; restore a backup of the store")
