"""The transformers backend on a tiny random Llama built in the test."""

import threading

import pytest

from lrm_lab.errors import InputError
from lrm_lab.models.base import SamplingParams

CHAT = [{"role": "user", "content": "what is 2 + 3"}]


def test_sampling_n_is_one_generate_call(tiny):
    real_generate = tiny.model.generate
    calls = []

    def counting_generate(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape)
        return real_generate(*args, **kwargs)

    tiny.model.generate = counting_generate
    completions = tiny.generate(CHAT, SamplingParams(n=5, temperature=1.0, max_new_tokens=8, seed=0))
    assert len(completions) == 5
    assert len(calls) == 1
    assert calls[0][0] == 1  # one prompt row, expanded to 5 sequences inside generate


def test_same_seed_same_samples(tiny):
    params = SamplingParams(n=4, temperature=1.0, max_new_tokens=12, seed=7)
    first = [c.text for c in tiny.generate(CHAT, params)]
    second = [c.text for c in tiny.generate(CHAT, params)]
    assert first == second


def test_other_seed_other_samples(tiny):
    first = [c.text for c in tiny.generate(CHAT, SamplingParams(n=4, temperature=1.0, max_new_tokens=12, seed=1))]
    second = [c.text for c in tiny.generate(CHAT, SamplingParams(n=4, temperature=1.0, max_new_tokens=12, seed=2))]
    assert first != second


def test_greedy_is_repeatable_without_seed(tiny):
    params = SamplingParams(max_new_tokens=12)
    assert tiny.generate(CHAT, params)[0].text == tiny.generate(CHAT, params)[0].text


def test_completion_stops_at_end_of_turn(tiny):
    for completion in tiny.generate(CHAT, SamplingParams(n=16, temperature=1.5, max_new_tokens=20, seed=3)):
        assert completion.completion_tokens == len(completion.token_ids)
        if completion.finish_reason == "stop":
            assert completion.token_ids[-1] == tiny.tokenizer.eos_token_id
            assert tiny.tokenizer.eos_token_id not in completion.token_ids[:-1]
        else:
            assert completion.completion_tokens == 20


def test_stream_reports_every_sequence(tiny):
    reports = []
    tiny.generate(CHAT, SamplingParams(n=3, temperature=1.0, max_new_tokens=10, seed=0),
                  on_tokens=lambda texts, steps: reports.append((list(texts), steps)))
    assert reports, "the streamer never called back"
    assert all(len(texts) == 3 for texts, _ in reports)
    assert reports[-1][1] >= 1


def test_cancel_stops_generation_early(tiny):
    cancel = threading.Event()
    steps_seen = []

    def on_tokens(texts, steps):
        steps_seen.append(steps)
        cancel.set()  # ask to stop after the first streamed step

    tiny.stop_ids = {tiny.tokenizer.unk_token_id}  # the random model must not stop by itself
    completions = tiny.generate(CHAT, SamplingParams(n=2, temperature=1.0, max_new_tokens=200, seed=0),
                                on_tokens=on_tokens, cancel=cancel)
    assert all(c.completion_tokens < 200 for c in completions)
    assert {c.finish_reason for c in completions} <= {"cancelled", "stop"}


def test_logprobs_one_value_per_completion_token(tiny):
    texts = ["2 + 3 = 5", "Answer : 5"]
    scores = tiny.logprobs(CHAT, texts)
    assert [len(values) for values in scores] == [5, 3]
    assert all(value < 0 for values in scores for value in values)


def test_logprobs_of_empty_completion_is_empty(tiny):
    assert tiny.logprobs(CHAT, [""]) == [[]]


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"n": 0, "temperature": 1.0}, "between 1 and 64"),
        ({"n": 1_000_000, "temperature": 1.0}, "between 1 and 64"),
        ({"temperature": -0.5}, "temperature"),
        ({"n": 4, "temperature": 0.0}, "Greedy"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"top_p": 0.0}, "top_p"),
    ],
)
def test_sampling_params_reject_bad_values(kwargs, words):
    with pytest.raises(InputError, match=words):
        SamplingParams(**kwargs)


def test_ignore_eos_gives_exact_length(tiny):
    params = SamplingParams(n=4, temperature=1.5, max_new_tokens=15, seed=0, ignore_eos=True)
    assert [c.completion_tokens for c in tiny.generate(CHAT, params)] == [15] * 4
