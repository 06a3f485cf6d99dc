"""Adapter rows in the store: create, progress, finish, look up, list, delete and the 0004 upgrade."""

from __future__ import annotations

import math
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic import command

from lrm_lab.errors import InputError
from lrm_lab.store import Store, check_adapter_name
from lrm_lab.store.database import alembic_config


def create(store: Store, name: str = "gflownet-basic_arithmetic-20261205-0712", **overrides: Any):
    fields: dict[str, Any] = {
        "name": name,
        "kind": "gflownet",
        "family": "basic_arithmetic",
        "base_model_id": "embedded",
        "base_model_revision": "rev1",
        "base_model_name": "SmolLM2-135M-Instruct",
        "path": f"/adapters/{name.strip()}",
        "settings": {"steps": 200, "learning_rate": 1e-4, "target_modules": ("q_proj", "v_proj")},
    }
    fields.update(overrides)
    return store.create_adapter(**fields)


def finished(store: Store, name: str, **overrides: Any):
    adapter = create(store, name, **overrides)
    return store.finish_adapter(adapter.id, status="finished", train_seconds=12.5)


def set_created_at(database: Path, adapter_id: int, created_at: datetime) -> None:
    """Overwrite a row's created_at in the format SQLAlchemy writes for SQLite."""
    with sqlite3.connect(database) as connection:
        connection.execute(
            "UPDATE adapters SET created_at = ? WHERE id = ?",
            (created_at.strftime("%Y-%m-%d %H:%M:%S.%f"), adapter_id),
        )


# Create and read back


def test_create_adapter_starts_training(store):
    before = datetime.now(timezone.utc)

    adapter = create(store)

    assert adapter.id > 0
    assert adapter.name == "gflownet-basic_arithmetic-20261205-0712"
    assert adapter.kind == "gflownet"
    assert adapter.family == "basic_arithmetic"
    assert adapter.base_model_id == "embedded"
    assert adapter.base_model_revision == "rev1"
    assert adapter.base_model_name == "SmolLM2-135M-Instruct"
    assert adapter.path == "/adapters/gflownet-basic_arithmetic-20261205-0712"
    assert adapter.status == "training"
    assert adapter.steps_done == 0
    assert adapter.curves == {}
    assert adapter.train_seconds is None
    assert adapter.error is None
    assert adapter.finished_at is None
    assert adapter.created_at.tzinfo == timezone.utc
    assert before <= adapter.created_at <= datetime.now(timezone.utc)


def test_get_adapter_reads_stored_row(store):
    adapter = create(store)

    stored = store.get_adapter(adapter.id)

    assert stored == adapter
    # JSON columns come back as plain JSON, so the tuple reads back as a list.
    assert stored.settings == {"steps": 200, "learning_rate": 1e-4, "target_modules": ["q_proj", "v_proj"]}


def test_get_adapter_by_name(store):
    adapter = create(store)

    assert store.get_adapter_by_name(adapter.name) == adapter
    assert store.get_adapter_by_name(f"  {adapter.name}\n") == adapter
    assert store.get_adapter_by_name("no-such-adapter") is None


def test_get_missing_adapter_returns_none(store):
    assert store.get_adapter(12345) is None


def test_create_strips_name(store):
    adapter = create(store, "  padded-name \t")

    assert adapter.name == "padded-name"
    assert store.get_adapter_by_name("padded-name") == adapter


def test_create_accepts_null_family_and_revision(store):
    adapter = create(store, family=None, base_model_revision=None)

    stored = store.get_adapter(adapter.id)
    assert stored.family is None
    assert stored.base_model_revision is None


def test_create_rejects_unknown_kind(store):
    with pytest.raises(ValueError, match="invalid adapter kind 'lora'"):
        create(store, kind="lora")

    assert store.list_adapters() == []


# Names


def test_duplicate_name_raises_input_error(store):
    first = create(store, "taken-name")

    with pytest.raises(InputError) as raised:
        create(store, " taken-name ")

    message = str(raised.value)
    assert "'taken-name'" in message
    assert "taken" in message
    assert "choose another name" in message

    # The failed insert is rolled back, so the store still writes and reads.
    second = create(store, "other-name")
    assert second.id != first.id
    assert [adapter.name for adapter in store.list_adapters()] == ["other-name", "taken-name"]
    store.update_adapter_progress(first.id, steps_done=3, curves={"loss": [1.0, 0.5, 0.25]})
    assert store.get_adapter(first.id).steps_done == 3


@pytest.mark.parametrize(
    ("name", "expected_words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("../x", "invalid characters '/'"),
        ("a/b", "invalid characters '/'"),
        ("a b", "invalid characters ' '"),
        ("adapter\\x", "invalid characters '\\\\'"),
        ("naïve", "invalid characters 'ï'"),
        (".hidden", 'starts with "."'),
        (".", 'starts with "."'),
        ("..", 'starts with "."'),
        ("a" * 121, "121 characters, more than the maximum of 120"),
    ],
)
def test_bad_name_rejected(store, name, expected_words):
    with pytest.raises(InputError) as raised:
        create(store, name, path="/adapters/x")

    assert expected_words in str(raised.value)
    assert store.list_adapters() == []


def test_check_adapter_name_accepts_valid_names():
    assert check_adapter_name("gflownet-basic_arithmetic-20261205-0712") == "gflownet-basic_arithmetic-20261205-0712"
    assert check_adapter_name("v1.2") == "v1.2"
    assert check_adapter_name(" a ") == "a"
    assert check_adapter_name("a" * 120) == "a" * 120


def test_check_adapter_name_rejects_non_text():
    with pytest.raises(InputError, match="must be text"):
        check_adapter_name(None)


# Progress and finishing


def test_progress_round_trips_curves(store):
    adapter = create(store)
    curves = {"loss": [2.5, 1.25, 0.5], "log_z": [0.0, 0.1, 0.2], "mean_reward": [0.0, 0.5, 1.0]}

    store.update_adapter_progress(adapter.id, steps_done=3, curves=curves)

    stored = store.get_adapter(adapter.id)
    assert stored.steps_done == 3
    assert stored.curves == curves
    assert stored.status == "training"


def test_progress_replaces_previous_curves(store):
    adapter = create(store)
    store.update_adapter_progress(adapter.id, steps_done=1, curves={"loss": [2.0]})

    store.update_adapter_progress(adapter.id, steps_done=2, curves={"loss": [2.0, 1.0]})

    stored = store.get_adapter(adapter.id)
    assert stored.steps_done == 2
    assert stored.curves == {"loss": [2.0, 1.0]}


def test_progress_stores_nan_as_text(store):
    adapter = create(store)

    store.update_adapter_progress(adapter.id, steps_done=2, curves={"loss": (1.0, math.nan)})

    assert store.get_adapter(adapter.id).curves == {"loss": [1.0, "nan"]}


def test_progress_rejects_invalid_input(store):
    adapter = create(store)

    with pytest.raises(ValueError, match="adapter 999 not found"):
        store.update_adapter_progress(999, steps_done=1, curves={})
    with pytest.raises(ValueError, match="steps_done must be an integer >= 0"):
        store.update_adapter_progress(adapter.id, steps_done=-1, curves={})
    with pytest.raises(ValueError, match="steps_done must be an integer >= 0"):
        store.update_adapter_progress(adapter.id, steps_done=True, curves={})

    assert store.get_adapter(adapter.id).steps_done == 0


def test_finish_sets_status_and_time(store):
    adapter = create(store)
    store.update_adapter_progress(adapter.id, steps_done=4, curves={"loss": [4.0, 3.0, 2.0, 1.0]})
    before = datetime.now(timezone.utc)

    returned = store.finish_adapter(adapter.id, status="finished", train_seconds=31.5)

    stored = store.get_adapter(adapter.id)
    assert returned == stored
    assert stored.status == "finished"
    assert stored.train_seconds == 31.5
    assert stored.error is None
    assert stored.steps_done == 4
    assert stored.finished_at is not None
    assert stored.finished_at.tzinfo == timezone.utc
    assert before <= stored.finished_at <= datetime.now(timezone.utc)


def test_finish_failed_keeps_error(store):
    adapter = create(store)

    store.finish_adapter(adapter.id, status="failed", train_seconds=None, error="CUDA out of memory")

    stored = store.get_adapter(adapter.id)
    assert stored.status == "failed"
    assert stored.error == "CUDA out of memory"
    assert stored.train_seconds is None
    assert stored.finished_at is not None


@pytest.mark.parametrize("status", ["training", "done", "cancelled", ""])
def test_finish_rejects_bad_status(store, status):
    adapter = create(store)

    with pytest.raises(ValueError, match="invalid adapter status"):
        store.finish_adapter(adapter.id, status=status, train_seconds=1.0)

    stored = store.get_adapter(adapter.id)
    assert stored.status == "training"
    assert stored.finished_at is None


@pytest.mark.parametrize("seconds", [-1.0, math.nan, math.inf])
def test_finish_rejects_bad_seconds(store, seconds):
    adapter = create(store)

    with pytest.raises(ValueError, match="train_seconds must be a finite number >= 0"):
        store.finish_adapter(adapter.id, status="finished", train_seconds=seconds)

    assert store.get_adapter(adapter.id).status == "training"


def test_finish_missing_adapter_raises(store):
    with pytest.raises(ValueError, match="adapter 42 not found"):
        store.finish_adapter(42, status="stopped", train_seconds=1.0)


# Listing and the newest adapter


def test_list_adapters_filters(store):
    arithmetic = create(store, "arithmetic")
    chain_sum = create(store, "chain-sum", family="chain_sum")
    hub = create(store, "hub", base_model_id="HuggingFaceTB/SmolLM2-360M-Instruct")
    done = finished(store, "done")
    stopped = create(store, "stopped")
    store.finish_adapter(stopped.id, status="stopped", train_seconds=3.0)

    def names(**filters: Any) -> list[str]:
        return [adapter.name for adapter in store.list_adapters(**filters)]

    assert names() == ["stopped", "done", "hub", "chain-sum", "arithmetic"]
    assert names(kind="gflownet") == ["stopped", "done", "hub", "chain-sum", "arithmetic"]
    assert names(family="chain_sum") == [chain_sum.name]
    assert names(base_model_id="HuggingFaceTB/SmolLM2-360M-Instruct") == [hub.name]
    assert names(family="basic_arithmetic", base_model_id="embedded") == ["stopped", "done", "arithmetic"]
    assert names(statuses=["finished"]) == [done.name]
    assert names(statuses=("finished", "stopped")) == ["stopped", "done"]
    assert names(statuses=["training"], family="basic_arithmetic") == [hub.name, arithmetic.name]
    assert names(statuses=["training"], base_model_id="embedded") == [chain_sum.name, arithmetic.name]
    assert names(statuses=[]) == []
    assert names(family="no_such_family") == []


def test_list_adapters_rejects_unknown_status(store):
    with pytest.raises(ValueError, match="invalid adapter status 'done'"):
        store.list_adapters(statuses=["finished", "done"])


def test_list_adapters_orders_by_created_at(store, tmp_path):
    first = create(store, "first")
    second = create(store, "second")
    # The older id gets the later creation time, so the order cannot come from ids alone.
    set_created_at(tmp_path / "lab.db", first.id, datetime.now(timezone.utc) + timedelta(hours=1))

    assert [adapter.name for adapter in store.list_adapters()] == [first.name, second.name]


def test_newest_adapter_only_finished(store):
    finished(store, "old-finished")
    newest_finished = finished(store, "new-finished")
    stopped = create(store, "stopped")
    store.finish_adapter(stopped.id, status="stopped", train_seconds=1.0)
    failed = create(store, "failed")
    store.finish_adapter(failed.id, status="failed", train_seconds=1.0, error="boom")
    create(store, "training")

    newest = store.newest_adapter(
        kind="gflownet", family="basic_arithmetic", base_model_id="embedded", base_model_revision="rev1"
    )

    assert newest == newest_finished


def test_newest_adapter_none_without_finished(store):
    create(store, "training")

    newest = store.newest_adapter(
        kind="gflownet", family="basic_arithmetic", base_model_id="embedded", base_model_revision="rev1"
    )

    assert newest is None


def test_newest_adapter_matches_every_key(store):
    match = finished(store, "match")
    finished(store, "other-revision", base_model_revision="rev2")
    finished(store, "no-revision", base_model_revision=None)
    finished(store, "other-family", family="chain_sum")
    finished(store, "other-model", base_model_id="HuggingFaceTB/SmolLM2-360M-Instruct")

    def newest_name(**overrides: Any) -> str | None:
        keys = {"kind": "gflownet", "family": "basic_arithmetic", "base_model_id": "embedded",
                "base_model_revision": "rev1"}
        keys.update(overrides)
        adapter = store.newest_adapter(**keys)
        return None if adapter is None else adapter.name

    assert newest_name() == match.name
    assert newest_name(base_model_revision="rev2") == "other-revision"
    assert newest_name(base_model_revision=None) == "no-revision"
    assert newest_name(base_model_revision="rev3") is None
    assert newest_name(family="chain_sum") == "other-family"
    assert newest_name(family=None) is None
    assert newest_name(base_model_id="HuggingFaceTB/SmolLM2-360M-Instruct") == "other-model"
    assert newest_name(kind="lora") is None


def test_newest_adapter_null_family_matches_only_null(store):
    finished(store, "any-family", family=None)
    finished(store, "arithmetic")

    newest = store.newest_adapter(kind="gflownet", family=None, base_model_id="embedded", base_model_revision="rev1")

    assert newest is not None
    assert newest.name == "any-family"


def test_newest_adapter_newest_wins(store, tmp_path):
    older = finished(store, "older")
    newer = finished(store, "newer")
    found = store.newest_adapter(
        kind="gflownet", family="basic_arithmetic", base_model_id="embedded", base_model_revision="rev1"
    )
    assert found == newer

    # Creation time decides, not the id.
    set_created_at(tmp_path / "lab.db", older.id, datetime.now(timezone.utc) + timedelta(hours=1))
    found = store.newest_adapter(
        kind="gflownet", family="basic_arithmetic", base_model_id="embedded", base_model_revision="rev1"
    )
    assert found is not None
    assert found.id == older.id


# Deleting


def test_delete_adapter_returns_deleted_row(store, tmp_path):
    folder = tmp_path / "adapter-files"
    folder.mkdir()
    keep = create(store, "keep")
    doomed = create(store, "doomed", path=str(folder))
    store.update_adapter_progress(doomed.id, steps_done=2, curves={"loss": [1.0, 0.5]})

    deleted = store.delete_adapter(doomed.id)

    assert deleted is not None
    assert deleted.id == doomed.id
    assert deleted.name == "doomed"
    assert deleted.curves == {"loss": [1.0, 0.5]}
    assert store.get_adapter(doomed.id) is None
    assert store.get_adapter_by_name("doomed") is None
    assert store.get_adapter(keep.id) == keep
    assert folder.is_dir()  # only the row goes; the caller deletes the files
    assert store.delete_adapter(doomed.id) is None


def test_deleted_name_can_be_used_again(store):
    first = create(store, "reused")
    store.delete_adapter(first.id)

    second = create(store, "reused")

    assert store.get_adapter_by_name("reused") == second


# Migration 0004


def test_upgrade_from_0003_keeps_rows(tmp_path):
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    command.upgrade(alembic_config(url), "0003")
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO runs (created_at, kind, status, model_id, device, dtype, settings, package_versions)"
            " VALUES ('2026-12-01 10:00:00.000000', 'compare', 'finished', 'm', 'cpu', 'float32', '{\"a\": 1}', '{}')"
        )
        connection.execute(
            "INSERT INTO memories (created_at, namespace, question_key, question_text, trace, answer, source,"
            " model_id, embedding_model, embedding, retrievals)"
            " VALUES ('2026-12-01 10:00:00.000000', 'ns', 'k', 'What is 2 + 2?', 't', '4', 'verified', 'm', 'e',"
            " x'00000000', 0)"
        )
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "adapters" not in tables

    with Store(url) as store:
        run = store.get_run(1)
        assert run is not None
        assert run.settings == {"a": 1}
        assert run.created_at == datetime(2026, 12, 1, 10, tzinfo=timezone.utc)
        memory = store.get_memory(1)
        assert memory is not None
        assert memory.question_text == "What is 2 + 2?"

        adapter = create(store, "after-upgrade")
        assert store.get_adapter(adapter.id) == adapter

    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [("0004",)]


def test_downgrade_to_0003_drops_only_adapters(tmp_path):
    path = tmp_path / "down.db"
    url = f"sqlite:///{path}"
    with Store(url) as store:
        create(store, "dropped")
        run_id = store.create_run(kind="compare", model_id="m", model_revision=None, device="cpu",
                                  dtype="float32", settings={}, seed=None, package_versions={})

    command.downgrade(alembic_config(url), "0003")

    with sqlite3.connect(path) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        runs = connection.execute("SELECT id FROM runs").fetchall()
    assert "adapters" not in tables
    assert {"runs", "questions", "attempts", "memories"} <= tables
    assert runs == [(run_id,)]
