"""period records are written once: the database refuses updates and deletes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

The closed-period SLA records are audit evidence. The store never offers an update,
and from this revision the database itself refuses one, so neither a bug nor a hand
edit with a SQL client rewrites history silently.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_MESSAGE = "period records are written once and never changed"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION period_record_write_once() RETURNS trigger AS $$
            BEGIN
              RAISE EXCEPTION '{_MESSAGE}';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER period_record_write_once BEFORE UPDATE OR DELETE ON period_record "
            "FOR EACH ROW EXECUTE FUNCTION period_record_write_once()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER period_record_no_{action.lower()} BEFORE {action} ON period_record "
                f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER period_record_write_once ON period_record")
        op.execute("DROP FUNCTION period_record_write_once()")
    else:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER period_record_no_{action}")
