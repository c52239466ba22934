"""rollup deltas: write batches append what they add to a day rollup; merged in bulk

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

Each write batch used to rewrite the whole day rollup row (about 3.6 KB) of every
service it touched. From this revision it appends a small delta row per service
(the minutes the batch touched) in the same transaction as the raw results, and the
deltas are merged into ``day_rollup`` in bulk. Existing rows are untouched.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollup_delta",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("vantage", sa.String(16), nullable=False),
        sa.Column("service_id", sa.String(63), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("first_minute", sa.SmallInteger(), nullable=False),
        sa.Column("bits", sa.LargeBinary(), nullable=False),
        sa.Column("counts", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    # merge what is pending first (the store does it: Store.merge_pending_rollups)
    op.drop_table("rollup_delta")
