"""Test-time training: variations, leave-one-out, and the adapter's life on the tiny random model."""

import threading

import pytest
import torch

from lrm_lab.errors import InputError
from lrm_lab.models.base import SamplingParams
from lrm_lab.models.fake import FakeBackend
from lrm_lab.tasks.families import make_question, typed_question
from lrm_lab.tasks.question import normalise_question
from lrm_lab.tasks.verdict import Verdict
from lrm_lab.techniques.prompts import WorkedExample
from lrm_lab.techniques.recipe import make_recipe, parse_recipe, run_recipe
from lrm_lab.techniques.result import RunContext
from lrm_lab.techniques.ttt import TTTOptions, leave_one_out
from lrm_lab.techniques.variations import build_variations, sibling_variations

# Shrunk settings so that TTT on the tiny model takes well under a second.
TINY_TTT = {"ttt": {"variations": 3, "steps": 3, "rank": 2, "alpha": 4, "learning_rate": 0.05},
            "baseline": {"max_new_tokens": 6}}


def lora_modules(backend):
    return [name for name, _ in backend.model.named_modules() if "lora" in name]


# ---- variations ---------------------------------------------------------------------------


def test_siblings_share_family_and_settings_but_never_the_question():
    # One-digit sums of two terms repeat often, so some siblings must be skipped.
    settings = {"min_digits": 1, "max_digits": 1}
    question = make_question("chain_sum", settings, 5)
    found = sibling_variations(question, 8, seed=0)

    assert len(found.variations) == 8
    texts = [normalise_question(v.question) for v in found.variations]
    assert normalise_question(question.text) not in texts
    assert len(set(texts)) == len(texts)
    for variation in found.variations:
        seed = int(variation.note.removeprefix("seed "))
        sibling = make_question("chain_sum", settings, seed)
        assert (variation.question, variation.answer) == (sibling.text, sibling.reference)
        assert variation.solution == f"Answer: {sibling.reference}"
        assert seed != question.seed


def test_siblings_follow_the_sampling_seed():
    question = make_question("basic_arithmetic", None, 0)
    first = sibling_variations(question, 4, seed=0).variations
    assert sibling_variations(question, 4, seed=0).variations == first
    assert sibling_variations(question, 4, seed=1).variations != first


def test_typed_question_takes_memories_first_then_self_generated_variants():
    question = typed_question("What is 4 + 4?")
    memories = (WorkedExample("What is 3 + 3?", "3 + 3 = 6\nAnswer: 6", "6"),
                WorkedExample("What is 4 + 4?", "Answer: 8", "8"))  # the question itself is left out
    model = FakeBackend([
        "What is 5 + 5?", "What is 5 + 5?", "What is 7 + 1?", "hi",  # 2 wanted, 4 written: a repeat and a short one
        "5 + 5 = 10\nAnswer: 10", "Answer: 10", "Answer: 11",  # 2 of 3 votes agree: labelled 10
        "Answer: 8", "Answer: 8", "Answer: 8",
    ])
    found = build_variations(question, 3, 3, RunContext(model=model, seed=0, examples=memories))

    assert [(v.question, v.answer, v.source) for v in found.variations] == [
        ("What is 3 + 3?", "6", "memory"), ("What is 5 + 5?", "10", "self-generated"),
        ("What is 7 + 1?", "8", "self-generated")]
    assert found.variations[1].solution == "5 + 5 = 10\nAnswer: 10"  # a trace that gave the majority answer
    assert found.variations[1].note == "2 of 3 votes"
    assert any("repeats" in line for line in found.dropped)
    assert any("too short" in line for line in found.dropped)
    assert found.tokens > 0


def test_self_generated_variant_without_a_majority_is_dropped():
    question = typed_question("What is 4 + 4?")
    model = FakeBackend(["What is 9 - 2?", "What is 6 * 2?", "what is 4 +  4?", "x",  # the question again, too short
                         "Answer: 7", "Answer: 8", "no answer",  # 1 of 3: dropped
                         "Answer: 12", "Answer: 12", "Answer: 12"])
    found = build_variations(question, 2, 3, RunContext(model=model, seed=0))
    assert [(v.question, v.answer) for v in found.variations] == [("What is 6 * 2?", "12")]
    assert found.dropped[-1] == "variant 1: no majority among 3 answers (7 x1, 8 x1, unparsed x1)"
    assert len(found.dropped) == 3


def test_leave_one_out_holds_each_variation_out_once():
    question = make_question("basic_arithmetic", None, 0)
    variations = sibling_variations(question, 3, seed=0).variations
    training_set = leave_one_out(variations, (), show_variations=True)

    assert len(training_set) == 3
    for held_out, example in zip(variations, training_set):
        asked = example.messages[-1]["content"]
        assert asked.startswith(held_out.question)
        earlier = " ".join(message["content"] for message in example.messages[:-1])
        assert held_out.question not in earlier
        assert all(other.question in earlier for other in variations if other is not held_out)
        assert example.target == f"Answer: {held_out.answer}"
    alone = leave_one_out(variations, (), show_variations=False)
    assert all(len(example.messages) == 1 for example in alone)


# ---- options and recipes ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "q_proj;v_proj", "q_proj, 1x"])
def test_target_modules_must_be_layer_names(value):
    with pytest.raises(InputError, match="target_modules must be layer names"):
        make_recipe("ttt", {"ttt": {"target_modules": value}})


def test_ttt_recipes_run_in_stage_order_with_readable_labels():
    assert make_recipe("search+ttt+memory").techniques == ("memory", "ttt", "search")
    assert make_recipe("ttt").techniques == ("ttt", "baseline")
    assert make_recipe("ttt").label == "ttt"
    assert parse_recipe("ttt:steps=2+search:n=4").label == "ttt(steps=2)+search(n=4)"
    assert make_recipe("ttt").sampled, "the variations follow the seed, so repeats differ"
    assert TTTOptions().module_names() == ("q_proj", "v_proj")


def test_backend_that_cannot_train_gives_a_clear_error():
    question = make_question("basic_arithmetic", None, 0)
    model = FakeBackend(["Answer: 1"])
    with pytest.raises(InputError, match="cannot train adapters"):
        run_recipe(make_recipe("ttt", TINY_TTT), question, RunContext(model=model, seed=0))


# ---- the whole technique on the tiny model ------------------------------------------------


def test_ttt_reports_losses_and_both_answers_and_leaves_no_adapter(tiny):
    question = make_question("basic_arithmetic", None, 0)
    base = {name: tensor.clone() for name, tensor in tiny.model.state_dict().items()}

    result = run_recipe(make_recipe("ttt", TINY_TTT), question, RunContext(model=tiny, seed=0))

    details = result.details
    assert result.technique == "ttt+baseline"
    assert details["adapted"] is True
    assert len(details["train_loss"]) == 3 and all(loss > 0 for loss in details["train_loss"])
    assert details["variations"] == 3
    assert details["variation_source"] == "siblings"
    assert "answer_before" in details and details["verdict_before"] in {v.value for v in Verdict}
    assert result.completion_tokens > details["tokens_before"] > 0  # the answer after adds its tokens
    assert lora_modules(tiny) == []
    assert all(torch.equal(tiny.model.state_dict()[name], base[name]) for name in base)


def test_stop_during_training_ends_it_and_removes_the_adapter(tiny):
    question = make_question("basic_arithmetic", None, 0)
    cancel = threading.Event()

    def report(progress):
        if progress.message.startswith("Training step 1 "):
            cancel.set()

    options = {"ttt": TINY_TTT["ttt"] | {"steps": 50}, "baseline": TINY_TTT["baseline"]}
    result = run_recipe(make_recipe("ttt", options), question, RunContext(model=tiny, seed=0, cancel=cancel, report=report))

    assert result.verdict is Verdict.CANCELLED
    assert len(result.details["train_loss"]) == 1
    assert result.trace == "Stopped after 1 training step; the adapter was removed."
    assert lora_modules(tiny) == []


def test_concurrent_baseline_during_ttt_gives_its_usual_output(tiny):
    question = make_question("basic_arithmetic", None, 0)
    chat = [{"role": "user", "content": "what is 2 + 3"}]
    greedy = SamplingParams(max_new_tokens=6)
    alone = tiny.generate(chat, greedy)[0].token_ids

    training = threading.Event()
    during: dict[str, object] = {}

    def baseline_request() -> None:
        during["ids"] = tiny.generate(chat, greedy)[0].token_ids

    other = threading.Thread(target=baseline_request)

    def report(progress):
        if progress.message.startswith("Training step 1 ") and not training.is_set():
            training.set()
            other.start()  # a second request arrives while the adapter is on
        if progress.message.startswith("Training step 8 "):
            during["adapted"] = tiny.generate(chat, greedy)[0].token_ids  # this thread holds the lock

    # A learning rate this high changes the tiny model's output, so an unlocked request would see it.
    options = {"ttt": TINY_TTT["ttt"] | {"steps": 8, "learning_rate": 0.1}, "baseline": TINY_TTT["baseline"]}
    result = run_recipe(make_recipe("ttt", options), question, RunContext(model=tiny, seed=0, report=report))
    other.join(timeout=60)

    assert training.is_set()
    assert result.details["adapted"]
    assert during["adapted"] != alone, "the adapter did not change this output, so the test proves nothing"
    assert during["ids"] == alone


def test_unknown_target_module_fails_before_any_answer(tiny):
    question = make_question("basic_arithmetic", None, 0)
    options = {"ttt": TINY_TTT["ttt"] | {"target_modules": "foo"}, "baseline": TINY_TTT["baseline"]}
    reports = []
    with pytest.raises(InputError, match="no linear layers named foo"):
        run_recipe(make_recipe("ttt", options), question, RunContext(model=tiny, seed=0, report=reports.append))
    assert not any("Answering" in progress.message for progress in reports)
