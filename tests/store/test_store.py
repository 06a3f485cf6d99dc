"""Store tests against real SQLite files under tmp_path."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from lrm_lab.store import Store, database_url, question_content_hash, to_plain_json
from lrm_lab.tasks.question import Question
from lrm_lab.tasks.verdict import Verdict

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def database_path(tmp_path: Path) -> Path:
    return tmp_path / "lab.db"


@pytest.fixture
def store(database_path: Path):
    opened = Store(sqlite_url(database_path))
    yield opened
    opened.close()


def make_question(**overrides: Any) -> Question:
    fields: dict[str, Any] = {
        "text": "What is 17 + 25?",
        "reference": "42",
        "source": "reasoning_gym",
        "family": "basic_arithmetic",
        "settings": {"min_terms": 2, "max_terms": 2},
        "seed": 7,
        "entry": {"question": "What is 17 + 25?", "answer": "42", "metadata": {"terms": (17, 25)}},
        "answer_kind": "number",
    }
    fields.update(overrides)
    return Question(**fields)


def create_run(store: Store, **overrides: Any) -> int:
    fields: dict[str, Any] = {
        "kind": "compare",
        "model_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "model_revision": "abc123",
        "device": "cpu",
        "dtype": "float32",
        "settings": {"techniques": ["greedy", "self_consistency"], "max_new_tokens": 256},
        "seed": 1234,
        "package_versions": {"torch": "2.5.1", "transformers": "4.47.0"},
    }
    fields.update(overrides)
    return store.create_run(**fields)


def attempt_fields(run_id: int, question_id: int, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "run_id": run_id,
        "question_id": question_id,
        "technique": "greedy",
        "options": {"temperature": 0.0},
        "seed": 11,
        "model_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "trace": "17 + 25 = 42. The answer is 42.",
        "answer": "42",
        "verdict": "correct",
        "score": 1.0,
        "extractor_version": "number-1",
        "completion_tokens": 12,
        "seconds": 0.75,
        "details": {},
    }
    fields.update(overrides)
    return fields


def count_rows(database_path: Path, table: str) -> int:
    with sqlite3.connect(database_path) as connection:
        return connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_round_trip_reads_back_every_field(store: Store) -> None:
    before = datetime.now(timezone.utc)
    run_id = create_run(store)
    question_id = store.add_question(make_question())
    first_id = store.add_attempt(**attempt_fields(run_id, question_id))
    second_id = store.add_attempt(
        **attempt_fields(
            run_id,
            question_id,
            technique="self_consistency",
            options={"samples": 3, "temperature": 0.7},
            seed=None,
            trace="sample 1: 42\nsample 2: 41\nsample 3: 42",
            answer=None,
            verdict=Verdict.UNPARSED,
            score=None,
            completion_tokens=0,
            seconds=0.0,
            details={"candidates": [{"answer": "42", "votes": 2}, {"answer": "41", "votes": 1}]},
            error="generation stopped early",
        )
    )
    store.finish_run(run_id, "finished")
    after = datetime.now(timezone.utc)

    first = store.get_attempt(first_id)
    assert first is not None
    assert first.id == first_id
    assert before <= first.created_at <= after
    assert first.created_at.tzinfo == timezone.utc
    assert first.run_id == run_id
    assert first.question_id == question_id
    assert first.technique == "greedy"
    assert first.options == {"temperature": 0.0}
    assert first.seed == 11
    assert first.model_id == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert first.trace == "17 + 25 = 42. The answer is 42."
    assert first.answer == "42"
    assert first.verdict == "correct"
    assert first.score == 1.0
    assert first.extractor_version == "number-1"
    assert first.completion_tokens == 12
    assert first.seconds == 0.75
    assert first.details == {}
    assert first.error is None

    question = first.question
    assert question.id == question_id
    assert question.source == "reasoning_gym"
    assert question.family == "basic_arithmetic"
    assert question.settings == {"min_terms": 2, "max_terms": 2}
    assert question.seed == 7
    assert question.text == "What is 17 + 25?"
    assert question.reference == "42"
    assert question.answer_kind == "number"
    assert question.entry == {"question": "What is 17 + 25?", "answer": "42", "metadata": {"terms": [17, 25]}}

    run = first.run
    assert run.id == run_id
    assert run.kind == "compare"
    assert run.status == "finished"
    assert before <= run.created_at <= after
    assert run.model_id == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert run.model_revision == "abc123"
    assert run.device == "cpu"
    assert run.dtype == "float32"
    assert run.settings == {"techniques": ["greedy", "self_consistency"], "max_new_tokens": 256}
    assert run.seed == 1234
    assert run.package_versions == {"torch": "2.5.1", "transformers": "4.47.0"}
    assert run.finished_at is not None
    assert run.created_at <= run.finished_at <= after

    second = store.get_attempt(second_id)
    assert second is not None
    assert second.technique == "self_consistency"
    assert second.options == {"samples": 3, "temperature": 0.7}
    assert second.seed is None
    assert second.answer is None
    assert second.verdict == "unparsed"
    assert type(second.verdict) is str
    assert second.score is None
    assert second.completion_tokens == 0
    assert second.seconds == 0.0
    assert second.details == {"candidates": [{"answer": "42", "votes": 2}, {"answer": "41", "votes": 1}]}
    assert second.error == "generation stopped early"

    summaries = store.list_attempts()
    assert [summary.id for summary in summaries] == [second_id, first_id]
    newest = summaries[0]
    assert newest.created_at == second.created_at
    assert newest.run_id == run_id
    assert newest.model_id == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert newest.technique == "self_consistency"
    assert newest.family == "basic_arithmetic"
    assert newest.question_text == "What is 17 + 25?"
    assert newest.answer is None
    assert newest.verdict == "unparsed"
    assert newest.completion_tokens == 0
    assert newest.seconds == 0.0


def test_list_attempts_filters(store: Store) -> None:
    run_id = create_run(store)
    arithmetic_id = store.add_question(make_question())
    chain_id = store.add_question(make_question(family="chain_sum", text="Add 1, 2 and 3.", reference="6"))
    greedy_small = store.add_attempt(**attempt_fields(run_id, arithmetic_id, technique="greedy", model_id="small"))
    vote_small = store.add_attempt(**attempt_fields(run_id, chain_id, technique="self_consistency", model_id="small"))
    greedy_large = store.add_attempt(**attempt_fields(run_id, chain_id, technique="greedy", model_id="large"))

    def ids(**filters: Any) -> list[int]:
        return [summary.id for summary in store.list_attempts(**filters)]

    assert ids() == [greedy_large, vote_small, greedy_small]
    assert ids(technique="greedy") == [greedy_large, greedy_small]
    assert ids(model_id="small") == [vote_small, greedy_small]
    assert ids(family="chain_sum") == [greedy_large, vote_small]
    assert ids(technique="greedy", model_id="large", family="chain_sum") == [greedy_large]
    assert ids(technique="beam_search") == []
    assert ids(limit=2) == [greedy_large, vote_small]


def test_list_attempts_truncates_question_text(store: Store) -> None:
    run_id = create_run(store)
    long_text = "x" * 119 + "\N{CROSS MARK}" + "y" * 500
    question_id = store.add_question(make_question(text=long_text))
    store.add_attempt(**attempt_fields(run_id, question_id))

    (summary,) = store.list_attempts()

    assert summary.question_text == long_text[:120]
    assert summary.question_text.endswith("\N{CROSS MARK}")


def test_list_attempts_rejects_bad_limit(store: Store) -> None:
    with pytest.raises(ValueError, match="limit"):
        store.list_attempts(limit=0)


def test_runs_listed_newest_first(store: Store) -> None:
    first = create_run(store)
    second = create_run(store, kind="benchmark", model_revision=None, seed=None)

    runs = store.list_runs()

    assert [run.id for run in runs] == [second, first]
    assert runs[0].kind == "benchmark"
    assert runs[0].status == "running"
    assert runs[0].model_revision is None
    assert runs[0].seed is None
    assert runs[0].finished_at is None
    assert [run.id for run in store.list_runs(limit=1)] == [second]


def test_missing_ids_return_none(store: Store) -> None:
    assert store.get_run(999) is None
    assert store.get_attempt(999) is None


def test_create_run_rejects_unknown_kind(store: Store, database_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid run kind 'duel'"):
        create_run(store, kind="duel")

    assert count_rows(database_path, "runs") == 0


@pytest.mark.parametrize("status", ["finished", "cancelled", "failed"])
def test_finish_run_sets_status(store: Store, status: str) -> None:
    run_id = create_run(store)

    store.finish_run(run_id, status)

    run = store.get_run(run_id)
    assert run is not None
    assert run.status == status
    assert run.finished_at is not None


def test_finish_run_rejects_bad_status(store: Store) -> None:
    run_id = create_run(store)

    with pytest.raises(ValueError, match="invalid run status 'running'"):
        store.finish_run(run_id, "running")
    with pytest.raises(ValueError, match="invalid run status 'done'"):
        store.finish_run(run_id, "done")

    run = store.get_run(run_id)
    assert run is not None
    assert run.status == "running"
    assert run.finished_at is None


def test_finish_run_rejects_missing_run(store: Store) -> None:
    with pytest.raises(ValueError, match="run 999 not found"):
        store.finish_run(999, "finished")


def test_same_question_stored_once(store: Store, database_path: Path) -> None:
    first = store.add_question(make_question())
    again = store.add_question(make_question())
    # Settings compare as data, so the key order does not matter.
    reordered = store.add_question(make_question(settings={"max_terms": 2, "min_terms": 2}))

    assert again == first
    assert reordered == first
    assert count_rows(database_path, "questions") == 1


@pytest.mark.parametrize(
    "change",
    [
        {"seed": 8},
        {"seed": None},
        {"settings": {"min_terms": 2, "max_terms": 3}},
        {"family": "chain_sum"},
        {"text": "What is 17 + 26?"},
        {"reference": "43"},
        {"reference": None},
        {"source": "typed"},
    ],
)
def test_changed_question_gets_new_row(store: Store, database_path: Path, change: dict[str, Any]) -> None:
    first = store.add_question(make_question())
    second = store.add_question(make_question(**change))

    assert second != first
    assert count_rows(database_path, "questions") == 2


def test_content_hash_ignores_entry_and_answer_kind() -> None:
    plain = question_content_hash(make_question())
    other = question_content_hash(make_question(entry=None, answer_kind="text"))

    assert plain == other
    assert len(plain) == 64


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"source": "web"}, "invalid question source 'web'"),
        ({"answer_kind": "date"}, "invalid answer kind 'date'"),
    ],
)
def test_add_question_rejects_bad_values(
    store: Store, database_path: Path, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        store.add_question(make_question(**change))

    assert count_rows(database_path, "questions") == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"verdict": "maybe"}, "invalid verdict 'maybe'"),
        ({"verdict": "CORRECT"}, "invalid verdict 'CORRECT'"),
        ({"completion_tokens": -1}, "completion_tokens must be an integer >= 0, got -1"),
        ({"completion_tokens": 1.5}, "completion_tokens must be an integer >= 0, got 1.5"),
        ({"seconds": -0.1}, "seconds must be a number >= 0, got -0.1"),
        ({"seconds": math.nan}, "seconds must be a number >= 0, got nan"),
        ({"score": math.nan}, "score must be a finite number or None, got nan"),
        ({"run_id": 999}, "run 999 not found"),
        ({"question_id": 999}, "question 999 not found"),
    ],
)
def test_add_attempt_rejects_invalid_values(
    store: Store, database_path: Path, change: dict[str, Any], message: str
) -> None:
    run_id = create_run(store)
    question_id = store.add_question(make_question())
    store.add_attempt(**attempt_fields(run_id, question_id))
    before = count_rows(database_path, "attempts")

    with pytest.raises(ValueError, match=message):
        store.add_attempt(**{**attempt_fields(run_id, question_id), **change})

    assert before == 1
    assert count_rows(database_path, "attempts") == before


def test_hostile_text_round_trip(store: Store) -> None:
    injection = "'; DROP TABLE attempts; -- \" OR 1=1 /* */"
    trace = ("Let me think \N{THINKING FACE} step by step.\n" * 40_000)[:1_000_000]
    nul_text = "before\x00after"
    question = make_question(
        source="typed",
        family=None,
        settings={},
        seed=None,
        entry=None,
        text=injection,
        reference=nul_text,
        answer_kind="text",
    )
    run_id = create_run(store, settings={"note": injection, "emoji": "\N{ROCKET}"})
    question_id = store.add_question(question)
    attempt_id = store.add_attempt(
        **attempt_fields(
            run_id,
            question_id,
            trace=trace,
            answer=nul_text,
            technique=injection,
            details={injection: nul_text, "emoji": "\N{FACE WITH TEARS OF JOY}\u200d\N{FIRE}"},
            error="\N{PILE OF POO} \x00 \ud7ff",
        )
    )

    record = store.get_attempt(attempt_id)

    assert record is not None
    assert len(record.trace) == 1_000_000
    assert record.trace == trace
    assert record.answer == nul_text
    assert record.technique == injection
    assert record.details == {injection: nul_text, "emoji": "\N{FACE WITH TEARS OF JOY}\u200d\N{FIRE}"}
    assert record.error == "\N{PILE OF POO} \x00 \ud7ff"
    assert record.question.text == injection
    assert record.question.reference == nul_text
    assert record.run.settings == {"note": injection, "emoji": "\N{ROCKET}"}
    assert [summary.id for summary in store.list_attempts(technique=injection)] == [attempt_id]
    assert store.list_attempts()[0].question_text == injection
    assert store.add_question(question) == question_id


def test_nul_in_question_text_survives_summary(store: Store) -> None:
    run_id = create_run(store)
    question_id = store.add_question(make_question(text="a\x00b"))
    store.add_attempt(**attempt_fields(run_id, question_id))

    assert store.list_attempts()[0].question_text == "a\x00b"


class Opaque:
    def __str__(self) -> str:
        return "opaque object"


def test_to_plain_json_converts_non_json_values() -> None:
    value = {
        "tuple": (1, (2, 3)),
        "set": {3, 1, 2},
        "frozenset": frozenset({"b", "a"}),
        "object": Opaque(),
        "nan": math.nan,
        "infinity": -math.inf,
        "verdict": Verdict.CORRECT,
        5: "integer key",
        ("a", 1): "tuple key",
        "nested": [{"inner": (None, True, 1.5)}],
    }

    plain = to_plain_json(value)

    assert plain == {
        "tuple": [1, [2, 3]],
        "set": [1, 2, 3],
        "frozenset": ["a", "b"],
        "object": "opaque object",
        "nan": "nan",
        "infinity": "-inf",
        "verdict": "correct",
        "5": "integer key",
        '["a", 1]': "tuple key",
        "nested": [{"inner": [None, True, 1.5]}],
    }
    assert type(plain["verdict"]) is str


def test_json_columns_store_non_json_values(store: Store) -> None:
    run_id = create_run(store, settings={"stop": ("\n\n", "Question:")}, package_versions={"torch": Opaque()})
    question_id = store.add_question(make_question(entry={"metadata": {"pair": (1, 2), "tags": {"b", "a"}}}))
    attempt_id = store.add_attempt(**attempt_fields(run_id, question_id, details={"scores": (0.5, math.inf)}))

    record = store.get_attempt(attempt_id)

    assert record is not None
    assert record.run.settings == {"stop": ["\n\n", "Question:"]}
    assert record.run.package_versions == {"torch": "opaque object"}
    assert record.question.entry == {"metadata": {"pair": [1, 2], "tags": ["a", "b"]}}
    assert record.details == {"scores": [0.5, "inf"]}


def test_times_are_utc(store: Store) -> None:
    run_id = create_run(store)
    store.finish_run(run_id, "cancelled")

    run = store.get_run(run_id)

    assert run is not None
    assert run.created_at.utcoffset() == timedelta(0)
    assert run.finished_at is not None
    assert run.finished_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(timezone.utc) - run.created_at) < timedelta(minutes=1)


def test_wal_mode_on_file_database(store: Store, database_path: Path) -> None:
    with sqlite3.connect(database_path) as connection:
        journal_mode = connection.execute("PRAGMA journal_mode").fetchone()[0]

    assert journal_mode == "wal"


def test_sqlite_connection_pragmas(store: Store) -> None:
    with store._engine.connect() as connection:
        foreign_keys = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
        busy_timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()

    assert foreign_keys == 1
    assert busy_timeout > 0


def test_attempt_survives_dropped_store(database_path: Path) -> None:
    store = Store(sqlite_url(database_path))
    run_id = create_run(store)
    question_id = store.add_question(make_question())
    attempt_id = store.add_attempt(**attempt_fields(run_id, question_id))
    del store

    reopened = Store(sqlite_url(database_path))
    try:
        record = reopened.get_attempt(attempt_id)
    finally:
        reopened.close()

    assert record is not None
    assert record.answer == "42"


CRASHING_WRITER = """
import os, sys
from lrm_lab.store import Store
from lrm_lab.tasks.question import Question

store = Store(sys.argv[1])
run_id = store.create_run(
    kind="compare", model_id="m", model_revision=None, device="cpu", dtype="float32",
    settings={}, seed=None, package_versions={},
)
question_id = store.add_question(Question(text="1 + 1", reference="2", source="typed"))
attempt_id = store.add_attempt(
    run_id=run_id, question_id=question_id, technique="greedy", options={}, seed=None,
    model_id="m", trace="2", answer="2", verdict="correct", score=1.0,
    extractor_version="1", completion_tokens=1, seconds=0.1, details={},
)
print(attempt_id, flush=True)
os._exit(3)  # no close, no interpreter cleanup: the process dies as in a crash
"""


def test_attempt_survives_process_crash(database_path: Path) -> None:
    url = sqlite_url(database_path)

    result = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, url],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 3, result.stderr
    attempt_id = int(result.stdout)
    with Store(url) as reopened:
        record = reopened.get_attempt(attempt_id)
        run = reopened.get_run(record.run_id) if record is not None else None
    assert record is not None
    assert record.trace == "2"
    assert run is not None
    assert run.status == "running"


def test_concurrent_threads_add_attempts(store: Store, database_path: Path) -> None:
    run_id = create_run(store)
    errors: list[BaseException] = []

    def add_many(worker: int) -> None:
        try:
            for index in range(10):
                question_id = store.add_question(make_question(seed=index))
                store.add_attempt(**attempt_fields(run_id, question_id, technique=f"worker-{worker}"))
        except BaseException as error:  # reported by the assert below
            errors.append(error)

    threads = [threading.Thread(target=add_many, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert count_rows(database_path, "attempts") == 80
    assert count_rows(database_path, "questions") == 10


def test_environment_variable_sets_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "from-env" / "custom.db"
    monkeypatch.setenv("LRM_LAB_DATABASE_URL", sqlite_url(path))

    assert database_url() == sqlite_url(path)
    with Store() as store:
        run_id = create_run(store)
        assert store.url == sqlite_url(path)

    assert path.is_file()
    assert count_rows(path, "runs") == 1
    assert run_id == 1


def test_default_url_is_storage_lab_db(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LRM_LAB_DATABASE_URL", raising=False)

    assert database_url() == f"sqlite:///{REPOSITORY_ROOT / 'storage' / 'lab.db'}"
    assert (REPOSITORY_ROOT / "storage").is_dir()


def test_in_memory_database_is_shared_between_threads() -> None:
    with Store("sqlite://") as store:
        run_ids: list[int] = []
        thread = threading.Thread(target=lambda: run_ids.append(create_run(store)))
        thread.start()
        thread.join()

        assert [run.id for run in store.list_runs()] == run_ids
        assert len(run_ids) == 1
