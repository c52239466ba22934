"""Schema migrations run programmatically: the store upgrades itself at open.

The scripts live in ``slamon/store/migrations`` inside the package, so an installed
slamon carries them; no ``alembic.ini`` is needed.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from slamon.store.tables import METADATA

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


_PG_LOCK_KEY = 0x736C616D6F6E  # "slamon": serialises migrations of daemons starting together


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest), keeping the data.

    One transaction, taken exclusively (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL
    advisory lock), so two processes opening a new store at once do not both create it."""
    with engine.execution_options(slamon_write=True).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
        command.upgrade(alembic_config(conn), revision)


def schema_differences(engine: Engine) -> list:
    """What the migrated schema lacks against the table models (empty when they match)."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, METADATA)
