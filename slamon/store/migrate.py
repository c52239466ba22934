"""Schema migrations run programmatically: the store upgrades itself at open.

The scripts live in ``slamon/store/migrations`` inside the package, so an installed
slamon carries them; no ``alembic.ini`` is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from slamon.store.tables import METADATA

if TYPE_CHECKING:
    from alembic.config import Config
# alembic is imported where it is used: it costs a command about a second to import, and
# a store already at the newest schema (every open but the first after an upgrade) needs
# none of it (``at_head``)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


_PG_LOCK_KEY = 0x736C616D6F6E  # "slamon": serialises migrations of daemons starting together


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: the newest), keeping the data.

    One transaction, taken exclusively (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL
    advisory lock), so two processes opening a new store at once do not both create it."""
    from alembic import command

    with engine.execution_options(slamon_write=True).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
        command.upgrade(alembic_config(conn), revision)


def schema_differences(engine: Engine) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    """What the migrated schema lacks against the table models (empty when they match)."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, METADATA)


def newest_script() -> str:
    """The newest revision shipped, from the scripts' file names (``0004_...py``),
    without importing alembic (a test checks it is alembic's head)."""
    names = [p.name[:4] for p in (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")]
    return max(names)


def at_head(engine: Engine) -> bool:
    """Whether the schema is already the newest (nothing to upgrade), in one query."""
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == newest_script()
    except DBAPIError:
        return False  # no schema yet
