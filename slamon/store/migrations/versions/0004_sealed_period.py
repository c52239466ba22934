"""sealed period aggregates: the measures of each closed SLA period, written once

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

A report over closed periods reads one sealed record per period (24 per service for a
monthly SLA over a biennium) instead of every day rollup. Records are written once:
as for ``period_record``, the database refuses updates and deletes. Existing stores
are sealed from their rollups by ``slamon store seal`` and by the daemon at start
(resumable: a period already sealed is left alone).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_MESSAGE = "sealed periods are written once and never changed"


def upgrade() -> None:
    minutes = [
        "window_minutes", "eligible_minutes", "observed_minutes", "good_minutes", "fast_minutes",
        "steps_ok_minutes", "outside_hours_minutes", "maintenance_minutes", "excluded_minutes", "outage_runs",
        "overrun_minutes", "dependency_minutes", "longest_outage_minutes", "head_run_minutes", "tail_run_minutes",
        "head_dependency_minutes",
    ]  # fmt: skip
    op.create_table(
        "sealed_period",
        sa.Column("service_id", sa.String(63), primary_key=True),
        sa.Column("vantage", sa.String(16), primary_key=True),
        sa.Column("period_start", sa.DateTime(), primary_key=True),
        sa.Column("part", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column("parts", sa.SmallInteger(), nullable=False),
        sa.Column("period_end", sa.DateTime(), nullable=False),
        sa.Column("period_label", sa.String(32), nullable=False),
        sa.Column("period_kind", sa.String(16), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(), nullable=False),
        sa.Column("met", sa.Boolean(), nullable=True),
        sa.Column("part_start", sa.BigInteger(), nullable=False),
        sa.Column("part_end", sa.BigInteger(), nullable=False),
        sa.Column("sla", sa.Text(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in minutes],
        sa.Column("results_total", sa.BigInteger(), nullable=False),
        sa.Column("results_good", sa.BigInteger(), nullable=False),
        sa.Column("tail_overrun", sa.Boolean(), nullable=False),
        sa.Column("runs", sa.LargeBinary(), nullable=False),
        sa.Column("objectives", sa.Text(), nullable=True),
    )
    op.create_index("ix_sealed_period_period_start", "sealed_period", ["period_start"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION sealed_period_write_once() RETURNS trigger AS $$
            BEGIN
              RAISE EXCEPTION '{_MESSAGE}';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER sealed_period_write_once BEFORE UPDATE OR DELETE ON sealed_period "
            "FOR EACH ROW EXECUTE FUNCTION sealed_period_write_once()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER sealed_period_no_{action.lower()} BEFORE {action} ON sealed_period "
                f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER sealed_period_write_once ON sealed_period")
        op.execute("DROP FUNCTION sealed_period_write_once()")
    op.drop_table("sealed_period")
