"""Comparisons end to end on a fake backend and a real SQLite database."""

import threading

import pytest

from lrm_lab.errors import InputError
from lrm_lab.models.fake import FakeBackend
from lrm_lab.service.compare import CompareRequest, comparison_json, run_comparison
from lrm_lab.service.questions import build_question
from lrm_lab.tasks.question import Question

QUESTION = Question(text="What is 6 * 7?", reference="42", source="typed")


def run_all(request, backend, store, cancel=None):
    updates = list(run_comparison(request, backend, store, cancel))
    return updates[-1], updates


def test_compare_stores_each_attempt(store):
    backend = FakeBackend(["Answer: 42", "Answer: 41", "Answer: 42", "Answer: 42"])
    request = CompareRequest(QUESTION, ("baseline", "search"), {"search": {"n": 3}}, seed=5)
    final, updates = run_all(request, backend, store)

    assert final.done
    summary = comparison_json(final)
    assert [r["technique"] for r in summary["results"]] == ["baseline", "search"]
    assert [r["verdict"] for r in summary["results"]] == ["correct", "correct"]
    stored = store.list_attempts()
    assert len(stored) == 2
    record = store.get_attempt(summary["results"][1]["attempt_id"])
    assert record.details["votes"] == {"42": 2, "41": 1}
    assert record.options["n"] == 3
    assert record.seed == 5
    assert record.run.status == "finished"
    assert record.run.package_versions["torch"]
    assert len(updates) > 2


def test_json_shape_matches_cli_contract(store):
    final, _ = run_all(CompareRequest(QUESTION, ("baseline",)), FakeBackend(["Answer: 42"]), store)
    summary = comparison_json(final)
    assert set(summary) == {"question", "run_id", "results"}
    assert {"technique", "answer", "verdict", "completion_tokens", "seconds", "details"} <= set(summary["results"][0])


@pytest.mark.parametrize(
    "request_kwargs, words",
    [
        ({"techniques": ()}, "at least one technique"),
        ({"techniques": ("baseline", "baseline")}, "once"),
        ({"techniques": ("oracle",)}, "Unknown technique"),
        ({"techniques": ("search",), "options": {"search": {"n": 0}}}, "between 1 and 64"),
        ({"techniques": ("search",), "options": {"search": {"temperature": -1}}}, "temperature"),
        ({"techniques": ("baseline",), "options": {"search": {"n": 2}}}, "not ticked"),
        ({"techniques": ("baseline",), "seed": -3}, "seed"),
        ({"question": Question("What is 2 + 2?", None, "typed"), "techniques": ("search",),
          "options": {"search": {"strategy": "best_of_n_oracle"}}}, "reference answer"),
    ],
)
def test_bad_request_stores_nothing(store, request_kwargs, words):
    request = CompareRequest(**({"question": QUESTION} | request_kwargs))
    with pytest.raises(InputError, match=words):
        list(run_comparison(request, FakeBackend([]), store))
    assert store.list_runs() == []
    assert store.list_attempts() == []


def test_failing_technique_is_stored_as_error(store):
    backend = FakeBackend([])  # no canned output: generate raises
    final, _ = run_all(CompareRequest(QUESTION, ("baseline",)), backend, store)
    result = comparison_json(final)["results"][0]
    assert result["verdict"] == "error"
    assert "outputs left" in result["error"]
    assert store.list_attempts()[0].verdict == "error"


def test_cancel_before_second_technique(store, tiny):
    cancel = threading.Event()
    request = CompareRequest(QUESTION, ("baseline", "search"), {"baseline": {"max_new_tokens": 4}})
    updates = []
    for update in run_comparison(request, tiny, store, cancel):
        updates.append(update)
        if update.columns["baseline"].result is not None:
            cancel.set()
    final = updates[-1]
    assert final.columns["search"].status == "cancelled"
    assert final.columns["search"].result is None
    assert len(store.list_attempts()) == 1
    assert store.get_run(final.run_id).status == "cancelled"


def test_closed_consumer_cancels_and_marks_run(store, tiny):
    tiny.stop_ids = {tiny.tokenizer.unk_token_id}
    request = CompareRequest(QUESTION, ("baseline",), {"baseline": {"max_new_tokens": 4000}})
    updates = run_comparison(request, tiny, store)
    first = next(updates)
    updates.close()  # as when the browser tab closes mid-generation
    assert store.get_run(first.run_id).status == "cancelled"


def test_build_question_from_family_is_repeatable():
    first = build_question("family", "basic_arithmetic", "", 3)
    second = build_question("family", "basic_arithmetic", "{}", 3.0)
    assert first == second
    assert first.reference is not None


@pytest.mark.parametrize(
    "args, words",
    [
        (("typed", None, None, 0, "   "), "empty"),
        (("family", "no_such_family", "", 0), "no_such_family"),
        (("family", "basic_arithmetic", "{not json", 0), "JSON"),
        (("family", "basic_arithmetic", "", 1.5), "whole number"),
        (("sideways",), "source"),
    ],
)
def test_build_question_rejects_bad_input(args, words):
    with pytest.raises(InputError, match=words):
        build_question(*args)


def test_locked_model_cannot_be_switched(store, tiny, monkeypatch):
    from lrm_lab.models.slot import ModelSlot
    from lrm_lab.service.lab import Lab

    slot = ModelSlot()
    slot.set(tiny)
    lab = Lab(store=store, slot=slot)
    monkeypatch.setenv("LRM_LAB_LOCK_MODEL", "1")
    with pytest.raises(InputError, match="LRM_LAB_LOCK_MODEL"):
        lab.load_model("/etc")
    assert lab.model is tiny
