"""Re-running a stored attempt with its question, options and seed, on the fake backend and a tiny model."""

import dataclasses

import pytest

from lrm_lab.errors import InputError
from lrm_lab.models.fake import FAKE_INFO, FakeBackend
from lrm_lab.models.slot import ModelSlot
from lrm_lab.service.compare import CompareRequest, run_comparison
from lrm_lab.service.lab import Lab
from lrm_lab.service.questions import build_question
from lrm_lab.service.rerun import reproducibility_notes, rerun_attempt, rerun_json, rerun_request
from lrm_lab.tasks.question import Question

QUESTION = Question(text="What is 6 * 7?", reference="42", source="typed")


def lab_with(store, backend):
    slot = ModelSlot()
    slot.set(backend)
    return Lab(store=store, slot=slot)


def first_attempt(store, request, backend):
    final = list(run_comparison(request, backend, store))[-1]
    return store.get_attempt(next(iter(final.columns.values())).attempt_id)


def test_rerun_stores_new_run_and_compares(store):
    record = first_attempt(store, CompareRequest(QUESTION, ("baseline",), {"baseline": {"max_new_tokens": 64}}, seed=9),
                           FakeBackend(["Answer: 42"]))
    lab = lab_with(store, FakeBackend(["Answer: 41"]))
    final = list(rerun_attempt(lab, record))[-1]
    summary = rerun_json(store, record, final)

    assert summary["attempt_id"] == record.id
    assert summary["old"]["answer"] == "42"
    assert summary["new"]["answer"] == "41"
    assert summary["new"]["verdict"] == "wrong"
    assert not summary["same_answer"]
    assert not summary["same_verdict"]
    assert summary["notes"] == []
    rerun = store.get_attempt(summary["rerun_attempt_id"])
    assert rerun.run_id == summary["run_id"] != record.run_id
    assert rerun.seed == 9
    assert rerun.options == record.options
    assert rerun.question_id == record.question_id
    assert rerun.run.settings["rerun_of"] == record.id
    params = lab.model.calls[0][1]
    assert (params.seed, params.max_new_tokens) == (9, 64)


def test_rerun_rejects_other_model(store):
    record = first_attempt(store, CompareRequest(QUESTION, ("baseline",)), FakeBackend(["Answer: 42"]))
    other = FakeBackend(["Answer: 42"])
    other.info = dataclasses.replace(FAKE_INFO, model_id="Qwen/Qwen2.5-0.5B-Instruct")
    with pytest.raises(InputError, match=rf"Attempt {record.id} ran on fake.*load fake first"):
        list(rerun_attempt(lab_with(store, other), record))
    assert len(store.list_runs()) == 1


def test_rerun_checks_model_before_loading(store):
    def fail_if_loaded(model_id):
        raise AssertionError(f"loaded {model_id} although the attempt ran on another model")

    record = first_attempt(store, CompareRequest(QUESTION, ("baseline",)), FakeBackend(["Answer: 42"]))
    lab = Lab(store=store, slot=ModelSlot(loader=fail_if_loaded))
    with pytest.raises(InputError, match="load fake first"):
        list(rerun_attempt(lab, record))


def test_rerun_request_rebuilds_family_question(store):
    question = build_question("family", "chain_sum", "", 4)
    options = {"search": {"n": 2, "strategy": "best_of_n_oracle"}}
    record = first_attempt(store, CompareRequest(question, ("search",), options, seed=3),
                           FakeBackend(["Answer: 1", "Answer: 2"]))
    request = rerun_request(record, "fake")
    assert request.question == question
    assert request.techniques == ("search",)
    assert request.options["search"]["strategy"] == "best_of_n_oracle"
    assert request.seed == 3
    assert request.rerun_of == record.id


def test_same_seed_repeats_tiny_model_output(store, tiny):
    request = CompareRequest(QUESTION, ("search",), {"search": {"n": 2, "max_new_tokens": 8}}, seed=11)
    record = first_attempt(store, request, tiny)
    final = list(rerun_attempt(lab_with(store, tiny), record))[-1]
    summary = rerun_json(store, record, final)
    rerun = store.get_attempt(summary["rerun_attempt_id"])
    assert rerun.trace == record.trace
    assert [c["text"] for c in rerun.details["candidates"]] == [c["text"] for c in record.details["candidates"]]
    assert summary["same_answer"]
    assert summary["new"]["completion_tokens"] == record.completion_tokens


def test_notes_name_differences(store):
    first = store.create_run(kind="compare", model_id="m", model_revision="a", device="cpu", dtype="float32",
                             settings={"chat_template_hash": "x"}, seed=0, package_versions={"torch": "2.13.0"})
    second = store.create_run(kind="compare", model_id="m", model_revision="b", device="cuda", dtype="float32",
                              settings={"chat_template_hash": "y"}, seed=0, package_versions={"torch": "2.14.0"})
    notes = reproducibility_notes(store.get_run(first), store.get_run(second))
    assert notes == [
        "model revision differs: a then, b now",
        "device differs: cpu then, cuda now",
        "the chat template differs",
        "torch differs: 2.13.0 then, 2.14.0 now",
    ]


def test_ttt_with_search_repeats_itself_and_rescores(store, tiny):
    from lrm_lab.service.rescore import rescore_attempt

    question = build_question("family", "basic_arithmetic", "", 0)
    options = {"ttt": {"variations": 2, "steps": 2, "rank": 2, "learning_rate": 0.05}, "search": {"n": 2, "max_new_tokens": 8}}
    record = first_attempt(store, CompareRequest(question, ("ttt+search",), options, seed=5), tiny)
    assert record.technique == "ttt+search"
    assert record.recipe == "ttt(variations=2, steps=2, rank=2, learning_rate=0.05)+search(n=2, max_new_tokens=8)"
    assert len(record.details["train_loss"]) == 2
    assert len(record.details["candidates"]) == 2

    final = list(rerun_attempt(lab_with(store, tiny), record))[-1]
    rerun = store.get_attempt(rerun_json(store, record, final)["rerun_attempt_id"])
    assert rerun.details["train_loss"] == record.details["train_loss"]
    assert rerun.details["variation_list"] == record.details["variation_list"]
    assert [c["text"] for c in rerun.details["candidates"]] == [c["text"] for c in record.details["candidates"]]

    report = rescore_attempt(record)  # search's vote over the stored samples, taken again
    assert report["rescorable"]
    assert report["new_answer"] == record.answer
    assert not report["changed"]


def test_gflownet_rerun_keeps_the_adapter_it_used(store, tiny, tmp_path):
    from lrm_lab.service.gflownet import train_gflownet
    from lrm_lab.techniques.gflownet import GFlowNetTrainOptions

    quick = GFlowNetTrainOptions(steps=1, problems=1, batch_size=2, max_new_tokens=6)
    list(train_gflownet(store, tiny, "basic_arithmetic", quick, name="first", folder_root=tmp_path))
    question = build_question("family", "basic_arithmetic", "", 0)
    options = {"gflownet": {"n": 2, "max_new_tokens": 6}}
    record = first_attempt(store, CompareRequest(question, ("gflownet",), options, seed=5), tiny)
    assert record.details["adapter"] == "first"
    list(train_gflownet(store, tiny, "basic_arithmetic", quick, name="second", folder_root=tmp_path))

    final = list(rerun_attempt(lab_with(store, tiny), record))[-1]
    rerun = store.get_attempt(rerun_json(store, record, final)["rerun_attempt_id"])
    assert rerun.details["adapter"] == "first"
    assert [c["text"] for c in rerun.details["candidates"]] == [c["text"] for c in record.details["candidates"]]
