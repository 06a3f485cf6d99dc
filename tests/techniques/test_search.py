"""Search strategies on a fake backend with canned samples."""

import pytest

from lrm_lab.errors import InputError
from lrm_lab.models.fake import FakeBackend
from lrm_lab.tasks.question import Question
from lrm_lab.tasks.verdict import Verdict
from lrm_lab.techniques import RunContext, get_technique
from lrm_lab.techniques.options import parse_options
from lrm_lab.techniques.search import SearchOptions, answer_key, run_search

QUESTION = Question(text="What is 6 * 7?", reference="42", source="typed")
SAMPLES = [
    "6 * 7 = 41\nAnswer: 41",
    "Six sevens are 42.\nAnswer: 42",
    "I am not sure.",
    "Answer: 41",
    "6 * 7 = 42. Answer: 42",
    "Answer: 42.0",
]


def search(samples, strategy, logprob_per_word=None, n=None):
    backend = FakeBackend(list(samples), logprob_per_word)
    options = SearchOptions(strategy=strategy, n=n or len(samples), temperature=0.7, max_new_tokens=32)
    return run_search(QUESTION, options, RunContext(model=backend, seed=0)), backend


def test_self_consistency_takes_majority():
    result, _ = search(SAMPLES, "self_consistency")
    assert result.answer in {"42", "42.0"}
    assert result.verdict == Verdict.CORRECT
    assert result.details["votes"] == {"42": 3, "41": 2}
    assert result.details["unparsed_candidates"] == 1


def test_self_consistency_tie_goes_to_first_answer():
    result, _ = search(["Answer: 41", "Answer: 42", "Answer: 42", "Answer: 41"], "self_consistency")
    assert result.answer == "41"
    assert result.details["chosen_index"] == 0


def test_all_unparsed_gives_unparsed_not_wrong():
    result, _ = search(["no idea", "still no idea"], "self_consistency")
    assert result.verdict == Verdict.UNPARSED
    assert result.answer is None


def test_oracle_picks_a_correct_sample_and_says_so():
    result, _ = search(["Answer: 41", "Answer: 40", "Answer: 42", "Answer: 41"], "best_of_n_oracle")
    assert result.answer == "42"
    assert result.details["uses_reference"] is True
    assert result.details["chosen_index"] == 2


def test_other_strategies_do_not_use_reference():
    for strategy in ("self_consistency", "best_of_n_self"):
        result, _ = search(SAMPLES, strategy)
        assert result.details["uses_reference"] is False


def test_self_scored_picks_highest_mean_logprob():
    samples = ["Answer: 41", "Answer: 42", "Answer: 43"]
    result, _ = search(samples, "best_of_n_self", {"Answer: 41": -2.0, "Answer: 42": -0.5, "Answer: 43": -1.0})
    assert result.answer == "42"
    scores = [candidate["score"] for candidate in result.details["candidates"]]
    assert scores == [-2.0, -0.5, -1.0]


def test_samples_come_from_one_batched_call():
    _, backend = search(SAMPLES, "self_consistency")
    assert len(backend.calls) == 1
    assert backend.calls[0][1].n == len(SAMPLES)


def test_tokens_add_up_over_candidates():
    result, _ = search(SAMPLES, "self_consistency")
    assert result.completion_tokens == sum(c["completion_tokens"] for c in result.details["candidates"])
    assert sum(c["chosen"] for c in result.details["candidates"]) == 1


def test_any_correct_is_pass_at_n():
    result, _ = search(["Answer: 41", "Answer: 41", "Answer: 42"], "self_consistency")
    assert result.verdict == Verdict.WRONG
    assert result.details["any_correct"] is True


@pytest.mark.parametrize("raw, key", [("25", "25"), ("25.0", "25"), (" 25. ", "25"), ("1,000", "1000"), ("0.5", "0.5"), ("Paris", "paris")])
def test_answer_key_normalises(raw, key):
    assert answer_key(raw) == key


@pytest.mark.parametrize(
    "values, words",
    [
        ({"n": 0}, "between 1 and 64"),
        ({"n": 1_000_000}, "between 1 and 64"),
        ({"temperature": -1}, "between 0.05 and 2.0"),
        ({"strategy": "beam"}, "must be one of"),
        ({"n": "many"}, "must be a whole number"),
        ({"n": 2.5}, "must be a whole number"),
        ({"temperature": float("nan")}, "NaN"),
        ({"width": 3}, "has no option width"),
    ],
)
def test_search_options_reject_bad_values(values, words):
    with pytest.raises(InputError, match=words):
        parse_options(SearchOptions, values, "search")


def test_unknown_technique_lists_known():
    with pytest.raises(InputError, match="baseline, search"):
        get_technique("telepathy")
