"""Database URL, engine setup and the Alembic upgrade that runs whenever a store opens."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from lrm_lab.errors import InputError

DATABASE_URL_VARIABLE = "LRM_LAB_DATABASE_URL"
MIGRATIONS_PATH = Path(__file__).resolve().parent / "migrations"
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]  # the folder that contains lrm_lab/
SQLITE_BUSY_TIMEOUT_MS = 30_000

# Alembic's ``context`` and ``op`` proxies are module globals, so two threads running migrations
# at once would send each other's DDL to the wrong connection.
_migration_lock = threading.Lock()


class DatabaseVersionError(RuntimeError):
    """A database whose schema revision this version of LRM Lab does not know."""


def database_url() -> str:
    """Return $LRM_LAB_DATABASE_URL, or else the SQLite file storage/lab.db in the repository root.

    Creates the storage folder when the default is used.
    """
    url = os.environ.get(DATABASE_URL_VARIABLE)
    if url:
        try:
            make_url(url)
        except ArgumentError:
            raise InputError(
                f"{DATABASE_URL_VARIABLE} is not a valid database URL: {url!r}. "
                "Write it like sqlite:////absolute/path/lab.db."
            ) from None
        return url

    storage = REPOSITORY_ROOT / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{storage / 'lab.db'}"


def create_database_engine(url: str) -> Engine:
    """Create an engine for ``url``, with WAL, foreign keys and a busy timeout on SQLite.

    A SQLite file's parent folder is created if missing. An in-memory SQLite database gets a
    single shared connection, so that every thread sees the same tables.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url)

    engine_options: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    database = parsed.database
    if database in (None, "", ":memory:"):
        engine_options["poolclass"] = StaticPool
    else:
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)

    engine = create_engine(url, **engine_options)
    event.listen(engine, "connect", _configure_sqlite_connection)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # The busy timeout first: switching to WAL needs a lock, and a process that is creating
        # the tables holds it, so without the timeout the switch fails at once with "locked".
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # An in-memory database keeps journal_mode "memory" and ignores this request.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def alembic_config(url: str, connection: Connection | None = None) -> Config:
    """Build an Alembic configuration for the migrations folder, without an alembic.ini file.

    When ``connection`` is given, migrations/env.py runs on it instead of opening its own.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_PATH))
    # Config values go through configparser interpolation, so a "%" in the URL must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Upgrade the database to the newest schema revision, creating all tables when it is empty.

    Raises DatabaseVersionError when the database is at a revision the migrations folder does
    not contain, which usually means a newer LRM Lab wrote it.
    """
    url = engine.url.render_as_string(hide_password=False)
    with _migration_lock, engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            # Take the write lock before reading alembic_version, so that two processes opening
            # a new file at once run the migrations one after the other. The explicit transaction
            # also makes SQLite roll back all the DDL if a migration fails.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        config = alembic_config(url, connection)
        _check_revision_is_known(connection, ScriptDirectory.from_config(config), engine)
        command.upgrade(config, "head")
        connection.commit()


def _check_revision_is_known(connection: Connection, scripts: ScriptDirectory, engine: Engine) -> None:
    current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        return

    known = {script.revision for script in scripts.walk_revisions()}
    if current in known:
        return

    raise DatabaseVersionError(
        f"The database {engine.url.render_as_string(hide_password=True)} is at schema revision "
        f"{current!r}, which this version of LRM Lab does not know "
        f"(its newest revision is {scripts.get_current_head()!r}). "
        f"A newer LRM Lab probably created it: upgrade LRM Lab, "
        f"or set {DATABASE_URL_VARIABLE} to another database."
    )
