"""raw results carry the identity of the daemon that probed

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-03

With several daemons sharing the work (``--shards N``), a result says who probed it
(``host/pid``), so minutes probed by two daemons at once (two holders of one shard
during a network partition) can be found and counted (``Store.duplicate_minutes``).
A nullable column: existing rows keep NULL (written by a single daemon).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("probe_result") as batch:
        batch.add_column(sa.Column("daemon", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("probe_result") as batch:
        batch.drop_column("daemon")
