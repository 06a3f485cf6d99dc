"""Alembic environment for the lab's database.

The store runs the migrations on its own connection, passed as config.attributes["connection"].
Without one, for example from the alembic command line, this script connects to
the configured sqlalchemy.url, or else to the URL that database_url() returns.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from lrm_lab.store.database import create_database_engine, database_url
from lrm_lab.store.tables import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    """Write the migrations as SQL to the output instead of running them."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url") or database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot alter most of a table in place, so Alembic recreates the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations_on(connection)
        return

    engine = create_database_engine(config.get_main_option("sqlalchemy.url") or database_url())
    try:
        with engine.connect() as own_connection:
            run_migrations_on(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
