"""The bench and export commands: a small benchmark on the embedded model, resume, export, bad input."""

import json

import pytest
from test_cli import run_cli

from lrm_lab.service.export import read_export

SUMMARY_KEYS = {"recipe", "n", "correct", "accuracy", "ci_low", "ci_high", "unparsed", "mean_tokens", "mean_seconds"}
QUESTIONS = (
    '{"question": "What is 2 + 2?", "answer": 4, "id": "two-plus-two"}\n'
    '{"question": "What is 3 * 5?"}\n'  # no answer: reported and skipped
    '{"question": "What is 10 - 7?", "answer": "3"}\n'
)


@pytest.mark.model
def test_bench_file_then_resume_and_export(tmp_path):
    database = tmp_path / "bench.db"
    questions = tmp_path / "questions.jsonl"
    questions.write_text(QUESTIONS, encoding="utf-8")
    args = ["bench", "--file", str(questions), "--technique", "baseline:max_new_tokens=16",
            "--technique", "search:n=2,max_new_tokens=16", "--json"]

    # Above the time threshold and without --yes, nothing starts when stdin is not a terminal.
    refused = run_cli(*args, database=database, env={"LRM_LAB_CONFIRM_SECONDS": "0"})
    assert refused.returncode == 2, refused.stderr
    assert "--yes" in refused.stderr

    done = run_cli(*args, "--yes", database=database)
    assert done.returncode == 0, done.stderr
    assert "line 2" in done.stderr
    summary = json.loads(done.stdout)
    assert summary["run_id"] == 1  # the refused attempt stored no run
    assert [r["recipe"] for r in summary["recipes"]] == ["baseline(max_new_tokens=16)", "search(n=2, max_new_tokens=16)"]
    for recipe in summary["recipes"]:
        assert SUMMARY_KEYS <= set(recipe)
        assert recipe["n"] + recipe.get("errors", 0) == 2
        assert recipe["ci_low"] <= recipe["accuracy"] <= recipe["ci_high"]

    resumed = run_cli("bench", "--resume", "1", "--json", database=database)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["recipes"] == summary["recipes"]

    exported = run_cli("export", "--run", "1", "--format", "csv", database=database)
    rows = read_export(exported.stdout, "csv")
    assert len(rows) == 4
    assert {row["question"] for row in rows} == {"What is 2 + 2?", "What is 10 - 7?"}
    assert all(row["package_versions"]["torch"] for row in rows)
    assert all(row["chat_template_hash"] for row in rows)

    summary_rows = read_export(run_cli("export", "--run", "1", "--format", "jsonl", "--summary",
                                       database=database).stdout, "jsonl")
    assert [row["accuracy"] for row in summary_rows] == [r["accuracy"] for r in summary["recipes"]]


@pytest.mark.parametrize(
    "args, words",
    [
        (["bench", "--family", "basic_arithmetic", "--n", "0"], "number of questions"),
        (["bench", "--family", "basic_arithmetic", "--technique", "search:n=0"], "between 1 and 64"),
        (["bench", "--family", "basic_arithmetic", "--technique", "search", "--technique", "search"], "appears twice"),
        (["bench", "--family", "basic_arithmetic", "--repeats", "0"], "Repeats"),
        (["bench", "--family", "basic_arithmetic", "--technique", "search", "--rank", "4"], "--rank is an option of ttt"),
        (["bench", "--family", "basic_arithmetic", "--technique", "ttt", "--rank", "0"], "between 1 and 128"),
        (["bench", "--file", "/no/such/file.jsonl"], "Cannot read"),
        (["bench", "--resume", "999"], "No run with id 999"),
        (["export", "--run", "999"], "No run with id 999"),
        (["export", "--run", "1", "--format", "xlsx"], "invalid choice"),
    ],
)
def test_bench_bad_input_exits_2(tmp_path, args, words):
    done = run_cli(*args, database=tmp_path / "bad.db", timeout=60)

    assert done.returncode == 2
    assert words in done.stderr
    assert done.stdout == ""


def test_bench_file_without_good_lines(tmp_path):
    questions = tmp_path / "bad.jsonl"
    questions.write_text('{"question": "no answer"}\nnot json\n', encoding="utf-8")

    done = run_cli("bench", "--file", str(questions), database=tmp_path / "bad.db", timeout=60)

    assert done.returncode == 2
    assert "Line 1" in done.stderr
