"""The history, runs, rescore and rerun commands, called through lrm_lab.cli.main on a temporary database."""

import json
from datetime import timedelta

import pytest

from lrm_lab.cli import main
from lrm_lab.models.fake import FakeBackend
from lrm_lab.service.compare import CompareRequest, run_comparison
from lrm_lab.store import Store
from lrm_lab.tasks.question import Question
from tiny import tiny_model, tiny_tokenizer

QUESTION = Question(text="What is 6 * 7?", reference="42", source="typed")


@pytest.fixture
def database(tmp_path, monkeypatch):
    """A database with one comparison on the fake backend: baseline then search(n=2)."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("LRM_LAB_DATABASE_URL", url)
    with Store(url) as store:
        backend = FakeBackend(["Answer: 42", "Answer: 42", "Answer: 41"])
        list(run_comparison(CompareRequest(QUESTION, ("baseline", "search"), {"search": {"n": 2}}), backend, store))
        yield store


def run_json(capsys, *args):
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_history_filters(database, capsys):
    assert [row["recipe"] for row in run_json(capsys, "history", "--recipe", "search(n=2)")] == ["search(n=2)"]
    assert len(run_json(capsys, "history", "--model", "fake", "--run", "1")) == 2
    assert run_json(capsys, "history", "--model", "other") == []
    day = database.list_attempts(limit=1)[0].created_at.date()
    assert len(run_json(capsys, "history", "--since", day.isoformat(), "--until", day.isoformat())) == 2
    assert run_json(capsys, "history", "--since", (day + timedelta(days=1)).isoformat()) == []


def test_history_table_shows_recipe(database, capsys):
    assert main(["history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "search(n=2)" in lines[0]
    assert "run 1" in lines[0]


def test_runs_lists_counts(database, capsys):
    runs = run_json(capsys, "runs", "--kind", "compare", "--model", "fake")
    assert [(run["id"], run["attempts"], run["techniques"]) for run in runs] == [(1, 2, "baseline, search")]
    assert run_json(capsys, "runs", "--kind", "benchmark") == []
    assert main(["runs"]) == 0
    assert "2 attempts" in capsys.readouterr().out


def test_rescore_attempt_reports_change(database, capsys):
    run_id = database.create_run(kind="compare", model_id="fake", model_revision=None, device="cpu", dtype="none",
                                 settings={}, seed=0, package_versions={})
    attempt_id = database.add_attempt(
        run_id=run_id, question_id=database.add_question(QUESTION), technique="baseline", options={}, seed=0,
        model_id="fake", trace="Answer: 42", answer="4", verdict="wrong", score=0.0, extractor_version="0",
        completion_tokens=2, seconds=0.1, details={},
    )
    result = run_json(capsys, "rescore", "--attempt", str(attempt_id))
    assert result["summary"]["changed"] == 1
    assert result["summary"]["verdict_changes"] == {"wrong -> correct": 1}
    (report,) = result["attempts"]
    assert (report["old_answer"], report["new_answer"]) == ("4", "42")

    assert main(["rescore", "--attempt", str(attempt_id)]) == 0
    printed = capsys.readouterr().out
    assert "1 changed" in printed
    assert "'4' (wrong) -> '42' (correct)" in printed
    assert database.get_attempt(attempt_id).answer == "4"  # re-scoring stores nothing


def test_rescore_run_unchanged(database, capsys):
    result = run_json(capsys, "rescore", "--run", "1")
    assert result["summary"]["attempts"] == 2
    assert result["summary"]["changed"] == 0
    assert main(["rescore", "--run", "1"]) == 0
    assert "0 changed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, words",
    [
        (["history", "--since", "2025-13-01"], "from date must be a UTC date written YYYY-MM-DD"),
        (["history", "--since", "2025-03-02", "--until", "2025-03-01"], "after the to date"),
        (["history", "--run", "x"], "run id must be a whole number"),
        (["runs", "--until", "tomorrow"], "to date must be"),
        (["rescore", "--run", "99"], "No run with id 99"),
        (["rescore", "--attempt", "99"], "No attempt with id 99"),
        (["rerun", "99"], "No attempt with id 99"),
        (["rerun", "1", "--model", "embedded"], "Attempt 1 ran on fake, and embedded is loaded; load fake first"),
    ],
)
def test_bad_input_exits_2(database, capsys, args, words):
    assert main(args) == 2
    captured = capsys.readouterr()
    assert words in captured.err
    assert captured.out == ""


def test_rerun_from_model_folder(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "tiny-model"
    tokenizer = tiny_tokenizer()
    tiny_model(len(tokenizer)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    monkeypatch.setenv("LRM_LAB_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")

    first = run_json(capsys, "compare", "--question", "What is 2 + 2?", "--answer", "4", "--technique", "search",
                     "--n", "2", "--max-new-tokens", "6", "--sample-seed", "7", "--model", str(folder), "--no-progress")
    attempt_id = first["results"][0]["attempt_id"]
    rerun = run_json(capsys, "rerun", str(attempt_id), "--no-progress")

    assert rerun["attempt_id"] == attempt_id
    assert rerun["rerun_attempt_id"] != attempt_id
    assert rerun["same_answer"]
    assert rerun["new"]["completion_tokens"] == rerun["old"]["completion_tokens"]
    assert rerun["notes"] == []
    with Store() as store:
        again = store.get_attempt(rerun["rerun_attempt_id"])
        assert again.trace == store.get_attempt(attempt_id).trace
        assert again.run.settings["rerun_of"] == attempt_id
