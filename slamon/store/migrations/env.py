"""Alembic environment: runs on the connection handed in by ``slamon.store.migrate``.

Also usable from the ``alembic`` command line for development
(``alembic -x url=sqlite:///dev.db revision --autogenerate -m ...``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from slamon.store.tables import METADATA

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=METADATA,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copy
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()
