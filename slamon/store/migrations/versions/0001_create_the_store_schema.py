"""create the store schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29

Times other than raw results' started_at are naive UTC (the models' UTCDateTime).
This file is frozen: a change of schema is a new revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("breach",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("service_id", sa.String(length=63), nullable=False),
    sa.Column("vantage", sa.String(length=16), nullable=False),
    sa.Column("objective", sa.String(length=32), nullable=False),
    sa.Column("period", sa.String(length=32), nullable=False),
    sa.Column("opened_at", sa.DateTime(), nullable=False),
    sa.Column("resolved_at", sa.DateTime(), nullable=True),
    sa.Column("measure", sa.Float(precision=53), nullable=False),
    sa.Column("target", sa.Float(precision=53), nullable=False),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("breach", schema=None) as batch_op:
        batch_op.create_index("ix_breach_service_period", ["service_id", "period"], unique=False)

    op.create_table("day_rollup",
    sa.Column("vantage", sa.String(length=16), nullable=False),
    sa.Column("service_id", sa.String(length=63), nullable=False),
    sa.Column("day", sa.Date(), nullable=False),
    sa.Column("observed", sa.LargeBinary(), nullable=False),
    sa.Column("good", sa.LargeBinary(), nullable=False),
    sa.Column("fast", sa.LargeBinary(), nullable=False),
    sa.Column("steps_ok", sa.LargeBinary(), nullable=False),
    sa.Column("total_counts", sa.LargeBinary(), nullable=False),
    sa.Column("good_counts", sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint("vantage", "service_id", "day")
    )
    op.create_table("exclusion",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("service_id", sa.String(length=63), nullable=False),
    sa.Column("vantage", sa.String(length=16), nullable=True),
    sa.Column("starts_at", sa.DateTime(), nullable=False),
    sa.Column("ends_at", sa.DateTime(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("approver", sa.String(length=200), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("exclusion", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exclusion_service_id"), ["service_id"], unique=False)

    op.create_table("period_record",
    sa.Column("service_id", sa.String(length=63), nullable=False),
    sa.Column("vantage", sa.String(length=16), nullable=False),
    sa.Column("period", sa.String(length=32), nullable=False),
    sa.Column("objective", sa.String(length=32), nullable=False),
    sa.Column("period_start", sa.DateTime(), nullable=False),
    sa.Column("period_end", sa.DateTime(), nullable=False),
    sa.Column("measure", sa.Float(precision=53), nullable=True),
    sa.Column("target", sa.Float(precision=53), nullable=False),
    sa.Column("met", sa.Boolean(), nullable=True),
    sa.Column("eligible_seconds", sa.Float(precision=53), nullable=False),
    sa.Column("observed_seconds", sa.Float(precision=53), nullable=False),
    sa.Column("good_seconds", sa.Float(precision=53), nullable=False),
    sa.Column("excluded_seconds", sa.Float(precision=53), nullable=False),
    sa.Column("maintenance_seconds", sa.Float(precision=53), nullable=False),
    sa.Column("recorded_at", sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint("service_id", "vantage", "period", "objective")
    )
    op.create_table("probe_result",
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
    sa.Column("vantage", sa.String(length=16), nullable=False),
    sa.Column("service_id", sa.String(length=63), nullable=False),
    sa.Column("probe_id", sa.String(), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("started_at", sa.Float(precision=53), nullable=False),
    sa.Column("success", sa.Boolean(), nullable=False),
    sa.Column("reason", sa.String(length=32), nullable=True),
    sa.Column("duration_seconds", sa.Float(precision=53), nullable=False),
    sa.Column("status_code", sa.Integer(), nullable=True),
    sa.Column("phases", sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("probe_result", schema=None) as batch_op:
        batch_op.create_index("ix_probe_result_started_at", ["started_at"], unique=False)

    op.create_table("service_revision",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("service_id", sa.String(length=63), nullable=False),
    sa.Column("office", sa.String(length=16), nullable=False),
    sa.Column("content_hash", sa.String(length=64), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("valid_from", sa.DateTime(), nullable=False),
    sa.Column("valid_to", sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint("id")
    )
    with op.batch_alter_table("service_revision", schema=None) as batch_op:
        batch_op.create_index("ix_service_revision_service_valid_from", ["service_id", "valid_from"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("service_revision", schema=None) as batch_op:
        batch_op.drop_index("ix_service_revision_service_valid_from")

    op.drop_table("service_revision")
    with op.batch_alter_table("probe_result", schema=None) as batch_op:
        batch_op.drop_index("ix_probe_result_started_at")

    op.drop_table("probe_result")
    op.drop_table("period_record")
    with op.batch_alter_table("exclusion", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exclusion_service_id"))

    op.drop_table("exclusion")
    op.drop_table("day_rollup")
    with op.batch_alter_table("breach", schema=None) as batch_op:
        batch_op.drop_index("ix_breach_service_period")

    op.drop_table("breach")
