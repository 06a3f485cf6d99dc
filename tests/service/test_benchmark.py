"""Benchmarks end to end on a fake backend, a tiny random model and a real SQLite database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from lrm_lab.errors import InputError
from lrm_lab.models.fake import FakeBackend
from lrm_lab.service.benchmark import BenchmarkRequest, FamilySet, plan_benchmark, run_benchmark, start_benchmark
from lrm_lab.service.estimate import estimate_benchmark
from lrm_lab.service.results import run_grid, summarize_run
from lrm_lab.store import Store
from lrm_lab.tasks.question_file import parse_question_file
from lrm_lab.techniques.recipe import parse_recipe

QUESTIONS = "\n".join(
    json.dumps({"question": f"What is {a} + {b}?", "answer": a + b, "id": f"sum-{a}-{b}"})
    for a, b in [(1, 1), (2, 3), (4, 4)]
)


def file_request(recipes=("baseline",), repeats=1, seed=0) -> BenchmarkRequest:
    return BenchmarkRequest(parse_question_file(QUESTIONS), tuple(parse_recipe(r) for r in recipes), repeats, seed)


def run_to_end(run_id, backend, store, cancel=None):
    return list(run_benchmark(run_id, backend, store, cancel))


def test_benchmark_stores_every_item(store):
    # Baseline then search (n=3) on each question, question by question.
    outputs = ["Answer: 2", "Answer: 2", "Answer: 3", "Answer: 2",
               "Answer: 5", "Answer: 5", "Answer: 5", "Answer: 1",
               "I am not sure", "Answer: 8", "Answer: 8", "Answer: 7"]
    plan = plan_benchmark(file_request(("baseline", "search:n=3")))
    backend = FakeBackend(outputs)
    run_id = start_benchmark(plan, backend, store)

    updates = run_to_end(run_id, backend, store)

    assert updates[-1].status == "finished"
    assert updates[-1].done == updates[-1].total == 6
    attempts = store.run_attempts(run_id)
    assert sorted(a.item for a in attempts) == sorted(item.key for item in plan.items())
    assert [a.recipe for a in attempts] == ["baseline", "search(n=3)"] * 3
    assert [a.verdict for a in attempts] == ["correct", "correct", "correct", "correct", "unparsed", "correct"]
    assert store.get_run(run_id).status == "finished"


def test_summary_counts_unparsed_apart(store):
    backend = FakeBackend(["Answer: 2", "Answer: 4", "no idea"])
    run_id = start_benchmark(plan_benchmark(file_request()), backend, store)
    run_to_end(run_id, backend, store)

    (baseline,) = summarize_run(store, run_id)["recipes"]

    assert baseline["n"] == 3
    assert baseline["correct"] == 1
    assert baseline["unparsed"] == 1
    assert baseline["accuracy"] == pytest.approx(1 / 3)
    assert baseline["ci_low"] == pytest.approx(0.0615, abs=1e-4)
    assert baseline["ci_high"] == pytest.approx(0.7923, abs=1e-4)
    assert baseline["mean_tokens"] == pytest.approx((2 + 2 + 2) / 3)


def test_summary_reports_any_sample_correct(store):
    backend = FakeBackend(["Answer: 3", "Answer: 2", "Answer: 1", "Answer: 1", "Answer: 8", "no idea"])
    run_id = start_benchmark(plan_benchmark(file_request(("search:n=2",))), backend, store)
    run_to_end(run_id, backend, store)

    (search,) = summarize_run(store, run_id)["recipes"]

    assert search["accuracy"] == pytest.approx(1 / 3)  # the tied vote on the first question picks "3"
    assert search["any_correct"] == pytest.approx(2 / 3)


def test_summary_leaves_any_correct_empty_for_baseline(store):
    backend = FakeBackend(["Answer: 2", "Answer: 5", "Answer: 8"])
    run_id = start_benchmark(plan_benchmark(file_request()), backend, store)
    run_to_end(run_id, backend, store)

    (baseline,) = summarize_run(store, run_id)["recipes"]

    assert baseline["any_correct"] is None


def test_grid_places_each_attempt(store):
    backend = FakeBackend(["Answer: 2", "Answer: 2", "Answer: 4", "Answer: 5", "Answer: 8", "Answer: 0"])
    run_id = start_benchmark(plan_benchmark(file_request(("search:n=1",), repeats=2, seed=7)), backend, store)
    run_to_end(run_id, backend, store)

    grid = run_grid(store, run_id)

    assert grid["questions"] == ["sum-1-1", "sum-2-3", "sum-4-4"]
    assert grid["recipes"] == ["search(n=1)"]
    assert [row[0]["verdicts"] for row in grid["cells"]] == [["correct", "correct"], ["wrong", "correct"], ["correct", "wrong"]]
    assert [row[0]["correct"] for row in grid["cells"]] == [2, 1, 1]
    assert [a.seed for a in store.run_attempts(run_id)] == [7, 8] * 3


def test_cancel_then_resume_repeats_nothing(store):
    plan = plan_benchmark(file_request(("baseline", "search:n=2")))
    backend = FakeBackend(["Answer: 2"] * 9)
    run_id = start_benchmark(plan, backend, store)
    cancel = threading.Event()

    updates = run_benchmark(run_id, backend, store, cancel)
    for update in updates:
        if update.done == 3:
            cancel.set()
    first = store.run_attempts(run_id)

    assert store.get_run(run_id).status == "cancelled"
    assert len(first) == 3

    updates = run_to_end(run_id, backend, store)
    attempts = store.run_attempts(run_id)

    assert updates[0].done == 3
    assert updates[-1].status == "finished"
    assert [a.id for a in attempts[:3]] == [a.id for a in first]
    assert sorted(a.item for a in attempts) == sorted(item.key for item in plan.items())
    assert not backend.outputs  # the remaining items used exactly the 5 outputs left (1 + 2 + 2 samples)


def test_resume_refuses_other_model(store, tiny):
    backend = FakeBackend([])
    run_id = start_benchmark(plan_benchmark(file_request()), backend, store)

    with pytest.raises(InputError, match="fake"):
        run_to_end(run_id, tiny, store)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"recipes": ()}, "at least one recipe"),
        ({"recipes": (parse_recipe("search:n=4"), parse_recipe("search:n=4"))}, "appears twice"),
        ({"repeats": 0}, "Repeats"),
        ({"repeats": 21}, "Repeats"),
        ({"seed": -1}, "seed"),
        ({"questions": FamilySet("basic_arithmetic", {}, 0, 0)}, "number of questions"),
        ({"questions": FamilySet("basic_arithmetic", {}, -5, 3)}, "first question seed"),
        ({"questions": FamilySet("no_such_family", {}, 0, 3)}, "Unknown task family"),
        ({"questions": FamilySet("basic_arithmetic", {}, 0, 2000), "repeats": 20,
          "recipes": (parse_recipe("search"),)}, "maximum is 20000"),
    ],
)
def test_plan_rejects_bad_request(change, words):
    request = file_request()
    fields = {"questions": request.questions, "recipes": request.recipes, "repeats": 1, "seed": 0} | change

    with pytest.raises(InputError, match=words):
        plan_benchmark(BenchmarkRequest(**fields))


def test_greedy_recipe_runs_once_despite_repeats(store):
    plan = plan_benchmark(file_request(("baseline", "search:n=2"), repeats=3))
    backend = FakeBackend(["Answer: 2"] * 21)  # 3 questions x (1 baseline + 3 repeats x 2 samples)
    run_id = start_benchmark(plan, backend, store)

    run_to_end(run_id, backend, store)
    summary = summarize_run(store, run_id)

    assert plan.total == 3 * (1 + 3)
    assert [recipe["n"] for recipe in summary["recipes"]] == [3, 9]
    assert not backend.outputs


def test_family_set_labels_by_seed():
    plan = plan_benchmark(BenchmarkRequest(FamilySet("chain_sum", {}, 10, 3), (parse_recipe("baseline"),)))

    assert plan.labels == ("seed 10", "seed 11", "seed 12")
    assert [q.seed for q in plan.questions] == [10, 11, 12]
    assert plan.total == 3


def test_estimate_uses_stored_attempts(store):
    backend = FakeBackend(["Answer: 2", "Answer: 5", "Answer: 8"])
    plan = plan_benchmark(file_request())
    run_id = start_benchmark(plan, backend, store)
    run_to_end(run_id, backend, store)
    stored = store.run_attempts(run_id)

    estimate = estimate_benchmark(plan, backend, store)

    (recipe,) = estimate.recipes
    assert recipe.attempts == 3
    assert recipe.basis == "mean of 3 stored attempts"
    assert recipe.seconds == pytest.approx(sum(a.seconds for a in stored))
    assert estimate.tokens == 6


def test_estimate_measures_without_history(store, tiny, monkeypatch):
    monkeypatch.setenv("LRM_LAB_CONFIRM_SECONDS", "0")
    plan = plan_benchmark(file_request(("baseline", "search:n=4,max_new_tokens=10")))

    estimate = estimate_benchmark(plan, tiny, store, skip=frozenset({"q0/r0/k0"}))

    assert [r.attempts for r in estimate.recipes] == [2, 3]
    assert estimate.recipes[1].tokens == 3 * 4 * 10  # an upper bound: every sample runs to max_new_tokens
    assert estimate.seconds > 0
    assert estimate.needs_confirmation
    assert "needs confirmation" in estimate.text()


def test_estimate_counts_ttt_training_and_both_answers(store, tiny):
    plan = plan_benchmark(file_request(("baseline:max_new_tokens=10", "ttt:steps=2,variations=3+baseline:max_new_tokens=10")))

    baseline, ttt = estimate_benchmark(plan, tiny, store).recipes

    assert ttt.tokens == 2 * baseline.tokens  # the answer before adapting and the answer after
    assert ttt.seconds > 2 * baseline.seconds  # plus the training passes
    assert "plus 6 training passes" in ttt.basis


def test_estimate_counts_gflownet_samples_twice_with_the_base_model_beside(store, tiny):
    plan = plan_benchmark(file_request(("search:n=4,max_new_tokens=10", "gflownet:n=4,max_new_tokens=10",
                                        "gflownet:n=4,max_new_tokens=10,compare_base=false")))

    search, both, alone = estimate_benchmark(plan, tiny, store).recipes

    assert both.tokens == 2 * search.tokens
    assert alone.tokens == search.tokens
    assert "twice (adapter and base model)" in both.basis


CRASHING_RUN = """
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    from tiny import tiny_backend
    from lrm_lab.service.benchmark import BenchmarkRequest, FamilySet, plan_benchmark, run_benchmark, start_benchmark
    from lrm_lab.store import Store
    from lrm_lab.techniques.recipe import parse_recipe

    store = Store({url!r})
    backend = tiny_backend()
    recipes = (parse_recipe("baseline:max_new_tokens=6"), parse_recipe("search:n=2,max_new_tokens=6"))
    plan = plan_benchmark(BenchmarkRequest(FamilySet("chain_sum", {{}}, 0, 4), recipes))
    run_id = start_benchmark(plan, backend, store)
    print(run_id, flush=True)
    for update in run_benchmark(run_id, backend, store):
        if update.done == 3 and update.fraction > 3 / plan.total:
            os.kill(os.getpid(), signal.SIGKILL)  # die in the middle of the fourth attempt
"""


def test_resume_after_crash_loses_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    script = textwrap.dedent(CRASHING_RUN).format(tests=str(Path(__file__).parents[1]), url=url)
    crashed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                             env=os.environ | {"PYTHONUNBUFFERED": "1"})
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    run_id = int(crashed.stdout.split()[0])

    from tiny import tiny_backend

    with Store(url) as store:
        before = store.run_attempts(run_id)
        assert store.get_run(run_id).status == "running"  # the dead process could not finish it
        assert len(before) == 3

        updates = run_to_end(run_id, tiny_backend(), store)
        after = store.run_attempts(run_id)

    assert updates[-1].status == "finished"
    assert len(after) == 8
    assert [(a.id, a.trace, a.item) for a in after[:3]] == [(a.id, a.trace, a.item) for a in before]
    assert len({a.item for a in after}) == 8
