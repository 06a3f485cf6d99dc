"""Alembic migration tests: the schema on open, unknown revisions, and agreement with the ORM models."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from lrm_lab.store import DatabaseVersionError, Store
from lrm_lab.store.database import alembic_config
from lrm_lab.store.tables import Base


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def version_rows(path: Path) -> list[tuple[str]]:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT version_num FROM alembic_version").fetchall()


def table_names(path: Path) -> set[str]:
    """Return the database's tables, without SQLite's own (sqlite_sequence backs AUTOINCREMENT)."""
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows if not name.startswith("sqlite_")}


def test_migrations_have_single_head() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))

    assert scripts.get_heads() == ["0004"]
    assert head_revision() == "0004"


def test_fresh_database_ends_at_head(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"

    Store(sqlite_url(path)).close()

    assert version_rows(path) == [(head_revision(),)]
    assert table_names(path) == {"runs", "questions", "attempts", "memories", "adapters", "alembic_version"}


def test_opening_twice_keeps_data(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "twice.db")
    with Store(url) as first:
        run_id = first.create_run(
            kind="compare",
            model_id="m",
            model_revision=None,
            device="cpu",
            dtype="float32",
            settings={},
            seed=None,
            package_versions={},
        )

    with Store(url) as second, Store(url) as third:
        assert second.get_run(run_id) is not None
        assert third.get_run(run_id) is not None

    assert version_rows(tmp_path / "twice.db") == [(head_revision(),)]


def test_first_open_from_threads(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "race.db")
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            Store(url).close()
        except BaseException as error:  # reported by the assert below
            errors.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert version_rows(tmp_path / "race.db") == [(head_revision(),)]


def test_unknown_revision_raises_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    Store(sqlite_url(path)).close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00dcafe9999'")

    with pytest.raises(DatabaseVersionError) as raised:
        Store(sqlite_url(path))

    message = str(raised.value)
    assert "'f00dcafe9999'" in message
    assert "newer LRM Lab" in message
    assert "LRM_LAB_DATABASE_URL" in message
    assert str(path) in message
    assert version_rows(path) == [("f00dcafe9999",)]


def test_orm_models_match_migrated_schema(tmp_path: Path) -> None:
    path = tmp_path / "compare.db"
    Store(sqlite_url(path)).close()

    engine = create_engine(sqlite_url(path))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()

    assert differences == []


def test_downgrade_to_base_and_upgrade_again(tmp_path: Path) -> None:
    path = tmp_path / "downgrade.db"
    Store(sqlite_url(path)).close()

    command.downgrade(alembic_config(sqlite_url(path)), "base")

    assert table_names(path) == {"alembic_version"}
    assert version_rows(path) == []

    Store(sqlite_url(path)).close()

    assert table_names(path) == {"runs", "questions", "attempts", "memories", "adapters", "alembic_version"}
    assert version_rows(path) == [(head_revision(),)]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO runs (created_at, kind, status, model_id, device, dtype, settings, package_versions)"
        " VALUES ('2025-01-01 00:00:00', 'compare', 'paused', 'm', 'cpu', 'float32', '{}', '{}')",
        "INSERT INTO attempts (created_at, run_id, question_id, technique, options, model_id, trace,"
        " verdict, extractor_version, completion_tokens, seconds, details)"
        " VALUES ('2025-01-01 00:00:00', 999, 999, 't', '{}', 'm', '', 'correct', '1', 1, 1.0, '{}')",
        "INSERT INTO adapters (name, kind, base_model_id, base_model_name, path, settings, status, steps_done,"
        " curves, created_at) VALUES ('a', 'gflownet', 'm', 'm', '/a', '{}', 'paused', 0, '{}', '2025-01-01 00:00:00')",
        "INSERT INTO adapters (name, kind, base_model_id, base_model_name, path, settings, status, steps_done,"
        " curves, created_at) VALUES ('a', 'lora', 'm', 'm', '/a', '{}', 'training', 0, '{}', '2025-01-01 00:00:00')",
    ],
)
def test_schema_rejects_invalid_rows(tmp_path: Path, statement: str) -> None:
    path = tmp_path / "constraints.db"
    Store(sqlite_url(path)).close()

    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA foreign_keys=ON")
        with pytest.raises(sqlite3.IntegrityError):
            connection.execute(statement)


# Imports first, then waits for a line on stdin, so that every process opens the file at once.
RACING_OPENER = """
import sys
from lrm_lab.store import Store

print("ready", flush=True)
sys.stdin.readline()
Store(sys.argv[1]).close()
"""


def test_first_open_from_processes(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "processes.db")
    repository_root = Path(__file__).resolve().parents[2]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", RACING_OPENER, url],
            cwd=repository_root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"

    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    outcomes = [process.communicate(timeout=60) for process in processes]

    assert [process.returncode for process in processes] == [0, 0, 0, 0], [error for _, error in outcomes]
    assert version_rows(tmp_path / "processes.db") == [(head_revision(),)]
