"""Export of attempts and summaries as CSV and JSONL, read back unchanged."""

import json

import pytest

from lrm_lab.errors import InputError
from lrm_lab.models.fake import FakeBackend
from lrm_lab.service.benchmark import BenchmarkRequest, plan_benchmark, run_benchmark, start_benchmark
from lrm_lab.service.export import (
    ATTEMPT_COLUMNS,
    RUN_COLUMNS,
    attempt_rows,
    export_attempts,
    export_summaries,
    read_export,
    summary_rows,
)
from lrm_lab.tasks.question_file import parse_question_file
from lrm_lab.techniques.recipe import parse_recipe

# Texts that break naive CSV and JSON writers: commas, quotes, line breaks, non-ASCII, formulas.
AWKWARD = [
    {"question": 'Say "hi", then add 1 + 1.', "answer": 2, "id": "quotes"},
    {"question": "Line one\nline two: 3 + 4?", "answer": 7, "id": "newline"},
    {"question": "=HYPERLINK(\"x\") 2 + 2 ÷ 1 ≈ ?", "answer": 4, "id": "formula"},
]


@pytest.fixture
def finished_run(store):
    text = "\n".join(json.dumps(entry, ensure_ascii=False) for entry in AWKWARD)
    request = BenchmarkRequest(parse_question_file(text), (parse_recipe("baseline"), parse_recipe("search:n=2")))
    backend = FakeBackend(["Answer: 2", "Answer: 3", "Answer: 2", "Answer, \"x\":\n7\n", "", "Answer: 7", "", "Answer: 4", "Answer: 4"])
    run_id = start_benchmark(plan_benchmark(request), backend, store)
    list(run_benchmark(run_id, backend, store))
    return run_id


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_attempts_round_trip(store, finished_run, fmt):
    text = export_attempts(store, finished_run, fmt)

    rows = read_export(text, fmt)

    assert rows == attempt_rows(store, finished_run)
    assert len(rows) == 6
    assert list(rows[0]) == list(ATTEMPT_COLUMNS + RUN_COLUMNS)


def test_rows_carry_reproducibility_record(store, finished_run):
    row = attempt_rows(store, finished_run)[0]
    run = store.get_run(finished_run)

    assert row["run_seed"] == run.seed
    assert row["run_settings"]["recipes"][1]["options"]["search"]["n"] == 2
    assert row["package_versions"]["torch"]
    assert row["model_id"] == "fake"
    assert "chat_template_hash" in row


def test_rows_keep_empty_trace(store, finished_run):
    rows = read_export(export_attempts(store, finished_run, "csv"), "csv")
    empty = [row for row in rows if row["trace"] == ""]

    assert len(empty) == 1
    assert empty[0]["verdict"] == "unparsed"
    assert empty[0]["answer"] is None


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_summary_round_trip(store, finished_run, fmt):
    rows = read_export(export_summaries(store, [finished_run], fmt), fmt)

    assert rows == summary_rows(store, [finished_run])
    assert [row["recipe"] for row in rows] == ["baseline", "search(n=2)"]
    assert rows[0]["n"] == 3


def test_export_rejects_unknown_run_and_format(store, finished_run):
    with pytest.raises(InputError, match="No run with id 999"):
        export_attempts(store, 999, "csv")
    with pytest.raises(InputError, match="csv, jsonl"):
        export_attempts(store, finished_run, "xlsx")
