"""Benchmark rounds with memory: the retry curve, the control, clean mode and resume, on a fake backend."""

from __future__ import annotations

import json
import threading

import pytest

from lrm_lab.errors import InputError
from lrm_lab.models.fake import FakeBackend
from lrm_lab.service.benchmark import BenchmarkRequest, parse_item, plan_benchmark, run_benchmark, start_benchmark
from lrm_lab.service.memory import MemorySettings
from lrm_lab.service.plots import rounds_figure
from lrm_lab.service.results import summarize_run, summary_table
from lrm_lab.store import question_key
from lrm_lab.tasks.question_file import parse_question_file
from lrm_lab.techniques.recipe import parse_recipe

QUESTIONS = parse_question_file("\n".join(
    json.dumps({"question": f"What is {a} + {b}?", "answer": a + b, "id": f"sum-{a}-{b}"})
    for a, b in [(1, 1), (2, 3)]
))


def request(recipes, rounds=2, memory=None) -> BenchmarkRequest:
    return BenchmarkRequest(QUESTIONS, tuple(parse_recipe(r) for r in recipes), rounds=rounds,
                            memory=memory or MemorySettings("rounds-test"))


def run(plan_request, outputs, store, cancel=None):
    plan = plan_benchmark(plan_request)
    backend = FakeBackend(outputs)
    run_id = start_benchmark(plan, backend, store, plan_request.memory)
    updates = list(run_benchmark(run_id, backend, store, cancel))
    return run_id, updates, backend


def test_second_round_reads_first_rounds_memory(store):
    # Round 1: baseline right on q0, memory right on q0 and wrong on q1. Round 2 repeats the set.
    outputs = ["Answer: 2", "Answer: 2", "Answer: 9", "Answer: 9",
               "Answer: 2", "Answer: 2", "Answer: 9", "Answer: 5"]
    run_id, updates, backend = run(request(("baseline", "memory")), outputs, store)

    assert updates[-1].status == "finished"
    attempts = store.run_attempts(run_id)
    assert [a.item for a in attempts] == ["q0/r0/k0", "q0/r1/k0", "q1/r0/k0", "q1/r1/k0",
                                          "t1/q0/r0/k0", "t1/q0/r1/k0", "t1/q1/r0/k0", "t1/q1/r1/k0"]
    memory_attempts = [a for a in attempts if a.recipe == "memory"]
    assert memory_attempts[0].details["memories_used"] == []
    written = store.list_memories("rounds-test")[::-1]  # oldest first
    assert [memory.attempt_id for memory in written] == [memory_attempts[0].id, memory_attempts[3].id]
    # In round 2 the memory of q0 comes first for q0; the baseline never sees a memory.
    assert memory_attempts[2].details["memories_used"][0] == written[0].id
    assert all("memories_used" not in a.details for a in attempts if a.recipe == "baseline")
    assert len(backend.calls[5][0]) > 1  # round 2's memory prompt has worked examples before the question


def test_summary_gives_accuracy_per_round(store):
    outputs = ["Answer: 2", "Answer: 2", "Answer: 9", "Answer: 9",
               "Answer: 2", "Answer: 2", "Answer: 9", "Answer: 5"]
    run_id, _, _ = run(request(("baseline", "memory")), outputs, store)

    summary = summarize_run(store, run_id)
    assert summary["rounds"] == 2
    assert summary["memory"] == {"writes": True, "namespace": "rounds-test", "entries_at_start": 0}
    baseline, memory = summary["recipes"]
    assert [(row["round"], row["correct"], row["n"]) for row in baseline["by_round"]] == [(1, 1, 2), (2, 1, 2)]
    assert [(row["round"], row["correct"], row["n"]) for row in memory["by_round"]] == [(1, 1, 2), (2, 2, 2)]
    assert baseline["by_round"][0]["used_memory"] is None
    assert memory["by_round"][0]["used_memory"] == 0.0  # round 1 reads only earlier rounds, and there are none
    assert memory["by_round"][1]["used_memory"] == 1.0
    assert [row[0] for row in summary_table(summary)][:3] == ["baseline", "baseline · round 1", "baseline · round 2"]
    figure = rounds_figure(summary)
    assert [trace.name for trace in figure.data] == ["baseline", "memory"]
    assert list(figure.data[1].y) == [0.5, 1.0]


def test_writes_off_leaves_memory_empty(store):
    outputs = ["Answer: 2", "Answer: 5"] * 2
    run_id, _, _ = run(request(("memory",), memory=MemorySettings("off-test", writes=False)), outputs, store)

    assert store.count_memories("off-test") == 0
    assert store.get_run(run_id).settings["memory_writes"] is False
    assert summarize_run(store, run_id)["recipes"][0]["by_round"][1]["correct"] == 2


def test_clean_mode_never_reads_own_question(store):
    outputs = ["Answer: 2", "Answer: 2", "Answer: 5", "Answer: 5"] * 2
    run_id, _, _ = run(request(("memory:threshold=0", "memory:threshold=0,clean=true")), outputs, store)

    attempts = store.run_attempts(run_id)
    clean = [a for a in attempts if a.recipe == "memory(threshold=0, clean=true)"]
    assert len(clean) == 4
    memories = {memory.id: memory for memory in store.list_memories("rounds-test")}
    used_by_clean = 0
    for attempt in clean:
        for memory_id in attempt.details["memories_used"]:
            assert question_key(memories[memory_id].question_text) != question_key(attempt.question.text)
            used_by_clean += 1
    assert used_by_clean > 0  # the other question's memory was used: transfer, not recall


def test_resume_continues_in_its_round(store):
    plan_request = request(("memory",))
    plan = plan_benchmark(plan_request)
    backend = FakeBackend(["Answer: 2", "Answer: 5", "Answer: 2"])
    run_id = start_benchmark(plan, backend, store, plan_request.memory)
    cancel = threading.Event()
    for update in run_benchmark(run_id, backend, store, cancel):
        if update.done == 3:
            cancel.set()
    assert sorted(a.item for a in store.run_attempts(run_id)) == ["q0/r0/k0", "q1/r0/k0", "t1/q0/r0/k0"]

    resumed = list(run_benchmark(run_id, FakeBackend(["Answer: 5"]), store))
    assert resumed[-1].status == "finished"
    assert parse_item(store.run_attempts(run_id)[-1].item).round == 1


@pytest.mark.parametrize("rounds", [0, 11, 1.5])
def test_bad_rounds_rejected(rounds):
    with pytest.raises(InputError, match="Rounds must be"):
        plan_benchmark(request(("memory",), rounds=rounds))


def test_bad_namespace_rejected():
    with pytest.raises(InputError, match="namespace"):
        plan_benchmark(request(("memory",), memory=MemorySettings("bad;name")))


def test_item_keys_parse():
    assert parse_item("q3/r1/k0") == parse_item("t0/q3/r1/k0")
    assert parse_item("t2/q3/r1/k4").round == 2


def test_rounds_sample_with_new_seeds(store):
    outputs = ["Answer: 2", "Answer: 5"] * 4
    run_id, _, _ = run(BenchmarkRequest(QUESTIONS, (parse_recipe("search:n=1"),), repeats=2, seed=10, rounds=2,
                                        memory=MemorySettings("seeds")), outputs, store)

    seeds = {a.item: a.seed for a in store.run_attempts(run_id)}
    assert seeds == {"q0/r0/k0": 10, "q0/r0/k1": 11, "t1/q0/r0/k0": 12, "t1/q0/r0/k1": 13,
                     "q1/r0/k0": 10, "q1/r0/k1": 11, "t1/q1/r0/k0": 12, "t1/q1/r0/k1": 13}


def test_round_never_reads_its_own_answers(store):
    # Two memory recipes, both right on every question: in round 1 neither sees the other's answer.
    outputs = ["Answer: 2"] * 2 + ["Answer: 5"] * 2 + ["Answer: 2"] * 2 + ["Answer: 5"] * 2
    run_id, _, _ = run(request(("memory:threshold=0", "memory:k=1,threshold=0")), outputs, store)

    first_round = [a for a in store.run_attempts(run_id) if parse_item(a.item).round == 0]
    assert [a.details["memories_used"] for a in first_round] == [[], [], [], []]
    second_round = [a for a in store.run_attempts(run_id) if parse_item(a.item).round == 1]
    assert all(a.details["memories_used"] for a in second_round)
    assert store.count_memories("rounds-test") == 2  # one per question, though two recipes solved each


def test_last_round_remembered_at_finish(store):
    run_id, _, _ = run(request(("memory",), rounds=1), ["Answer: 2", "Answer: 5"], store)

    assert sorted(m.answer for m in store.list_memories("rounds-test")) == ["2", "5"]
    assert store.get_run(run_id).status == "finished"
