"""Family registry, question generation and validation of what the user enters."""

from __future__ import annotations

import json

import pytest

from lrm_lab.errors import InputError
from lrm_lab.tasks.families import (
    FAMILIES,
    MAX_QUESTION_CHARS,
    family_names,
    make_question,
    parse_settings,
    typed_question,
)

REQUIRED_FAMILIES = ["basic_arithmetic", "chain_sum", "gsm_symbolic", "leg_counting", "countdown"]


def test_required_families_registered():
    for name in REQUIRED_FAMILIES:
        assert name in family_names()
    assert family_names() == list(FAMILIES)


@pytest.mark.parametrize("name", REQUIRED_FAMILIES)
def test_family_metadata(name):
    family = FAMILIES[name]
    assert family.name == name
    assert family.title
    assert family.description.endswith(".")
    assert family.defaults
    assert family.answer_kind == ("expression" if name == "countdown" else "number")


@pytest.mark.parametrize("name", REQUIRED_FAMILIES)
def test_question_fields_filled(name):
    question = make_question(name, seed=5)

    assert question.source == "reasoning_gym"
    assert question.family == name
    assert question.seed == 5
    assert question.text == question.entry["question"]
    assert question.reference == str(question.entry["answer"])
    assert question.settings == FAMILIES[name].defaults
    assert question.answer_kind == FAMILIES[name].answer_kind
    # The entry and settings are stored as JSON, so they must survive a round trip unchanged.
    assert json.loads(json.dumps(question.entry)) == question.entry
    assert json.loads(json.dumps(question.settings)) == question.settings


@pytest.mark.parametrize("name", REQUIRED_FAMILIES)
def test_same_seed_same_question(name):
    first = make_question(name, seed=7)
    second = make_question(name, seed=7)
    assert first == second


@pytest.mark.parametrize("name", REQUIRED_FAMILIES)
def test_different_seed_different_question(name):
    texts = {make_question(name, seed=seed).text for seed in range(5)}
    assert len(texts) > 1


def test_defaults_stay_small():
    question = make_question("basic_arithmetic", seed=0)
    assert question.entry["metadata"]["num_terms"] == 2
    assert question.entry["metadata"]["num_digits"] <= 2

    countdown = make_question("countdown", seed=0)
    assert 3 <= len(countdown.entry["metadata"]["numbers"]) <= 4
    assert 10 <= countdown.entry["metadata"]["target"] <= 100


def test_settings_override_defaults():
    question = make_question("chain_sum", {"min_terms": 4, "max_terms": 4}, seed=1)
    assert question.entry["metadata"]["num_terms"] == 4
    assert question.settings["min_terms"] == 4
    assert question.settings["max_digits"] == FAMILIES["chain_sum"].defaults["max_digits"]


def test_settings_accept_other_config_fields():
    question = make_question("basic_arithmetic", {"operators": ["+"], "allow_parentheses": False}, seed=2)
    assert "+" in question.text
    assert question.settings["operators"] == ["+"]


def test_integral_float_setting_accepted():
    question = make_question("chain_sum", {"max_digits": 2.0}, seed=1)
    assert question.settings["max_digits"] == 2
    assert isinstance(question.settings["max_digits"], int)


def test_defaults_not_mutated():
    before = dict(FAMILIES["chain_sum"].defaults)
    make_question("chain_sum", {"max_terms": 3}, seed=1)
    assert FAMILIES["chain_sum"].defaults == before


# ---- Invalid input ---------------------------------------------------------------------


def test_unknown_family_lists_known():
    with pytest.raises(InputError) as raised:
        make_question("sudoku")
    message = str(raised.value)
    assert "sudoku" in message
    assert "basic_arithmetic" in message
    assert "countdown" in message


def test_unknown_setting_lists_valid_keys():
    with pytest.raises(InputError) as raised:
        make_question("chain_sum", {"max_term": 3})
    message = str(raised.value)
    assert "max_term" in message
    assert "max_terms" in message
    assert "min_digits" in message


@pytest.mark.parametrize("reserved", ["seed", "size"])
def test_reserved_setting_rejected(reserved):
    with pytest.raises(InputError, match=reserved):
        make_question("chain_sum", {reserved: 3})


@pytest.mark.parametrize(
    ("settings", "expected_words"),
    [
        ({"max_terms": "three"}, ["max_terms", "whole number", "'three'"]),
        ({"max_terms": 2.5}, ["max_terms", "whole number", "2.5"]),
        ({"max_terms": True}, ["max_terms", "whole number"]),
        ({"allow_parentheses": "no"}, ["allow_parentheses", "true or false"]),
        ({"format_style": "fancy"}, ["format_style", "'simple'", "'natural'"]),
        ({"operators": "+"}, ["operators", "list of strings"]),
    ],
)
def test_wrong_setting_type_rejected(settings, expected_words):
    with pytest.raises(InputError) as raised:
        make_question("basic_arithmetic", settings)
    for word in expected_words:
        assert word in str(raised.value)


def test_float_setting_rejects_string():
    with pytest.raises(InputError, match="difficulty.*must be a number"):
        make_question("gsm_symbolic", {"difficulty": "hard"})


def test_settings_not_a_dict_rejected():
    with pytest.raises(InputError, match="JSON object"):
        make_question("chain_sum", [("max_terms", 3)])


def test_library_validation_wrapped():
    with pytest.raises(InputError) as raised:
        make_question("basic_arithmetic", {"min_terms": 3, "max_terms": 2})
    assert "max_terms must be >= min_terms" in str(raised.value)


def test_bare_library_assert_explained():
    # gsm_symbolic's config check is an assert with no message.
    with pytest.raises(InputError) as raised:
        make_question("gsm_symbolic", {"difficulty": 2})
    message = str(raised.value)
    assert "without giving a reason" in message
    assert '"difficulty": 1.0' in message


def test_impossible_countdown_target_explained():
    settings = {"min_numbers": 3, "max_numbers": 3, "max_value": 2, "min_target": 5000, "max_target": 5001}
    with pytest.raises(InputError) as raised:
        make_question("countdown", settings, seed=0)
    message = str(raised.value)
    assert "Could not generate a countdown question" in message
    assert "Widen the ranges" in message


def test_generation_failure_wrapped():
    # With "/" as the only operator, reasoning-gym 0.1.25 raises IndexError for seed 1.
    with pytest.raises(InputError, match="IndexError"):
        make_question("basic_arithmetic", {"operators": ["/"]}, seed=1)


@pytest.mark.parametrize(
    ("family", "settings", "key", "limit"),
    [
        ("basic_arithmetic", {"max_terms": 50}, "max_terms", 6),
        ("basic_arithmetic", {"max_digits": 9}, "max_digits", 4),
        ("chain_sum", {"max_terms": 1000}, "max_terms", 12),
        ("countdown", {"max_numbers": 20}, "max_numbers", 8),
        ("leg_counting", {"max_instances": 10**9}, "max_instances", 1024),
    ],
)
def test_hostile_size_rejected(family, settings, key, limit):
    with pytest.raises(InputError) as raised:
        make_question(family, settings)
    message = str(raised.value)
    assert key in message
    assert f"maximum of {limit}" in message


def test_limit_itself_accepted():
    question = make_question("basic_arithmetic", {"max_terms": 6, "max_digits": 4}, seed=3)
    assert question.entry["metadata"]["num_terms"] <= 6


@pytest.mark.parametrize("seed", [-1, 2**40])
def test_out_of_range_seed_rejected(seed):
    with pytest.raises(InputError) as raised:
        make_question("chain_sum", seed=seed)
    message = str(raised.value)
    assert str(seed) in message
    assert "between 0 and" in message


@pytest.mark.parametrize("seed", ["3", 1.5, None, True])
def test_non_integer_seed_rejected(seed):
    with pytest.raises(InputError, match="whole number"):
        make_question("chain_sum", seed=seed)


# ---- Settings box ----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_blank_settings_are_empty(text):
    assert parse_settings(text) == {}


def test_settings_json_parsed():
    assert parse_settings('{"max_terms": 3, "operators": ["+", "-"]}') == {"max_terms": 3, "operators": ["+", "-"]}


def test_malformed_settings_show_position():
    with pytest.raises(InputError) as raised:
        parse_settings('{\n  "max_terms": 3,\n  "min_terms" 2\n}')
    message = str(raised.value)
    assert "not valid JSON" in message
    assert "line 3" in message
    assert "column" in message


@pytest.mark.parametrize(("text", "kind"), [("[1, 2]", "an array"), ('"max_terms"', "a string"), ("3", "a number")])
def test_non_object_settings_rejected(text, kind):
    with pytest.raises(InputError) as raised:
        parse_settings(text)
    message = str(raised.value)
    assert "JSON object" in message
    assert kind in message


# ---- Typed questions -------------------------------------------------------------------


def test_typed_question_fields():
    question = typed_question("  What is 2 + 2?  ", " 4 ")
    assert question.text == "What is 2 + 2?"
    assert question.reference == "4"
    assert question.source == "typed"
    assert question.family is None
    assert question.entry is None
    assert question.answer_kind == "number"


@pytest.mark.parametrize(
    ("reference", "kind"),
    [
        ("0.5", "number"),
        ("-1,234", "number"),
        ("3/4", "number"),
        ("\\frac{1}{2}", "number"),
        ("$2^{10}$", "number"),
        ("Paris", "text"),
        ("blue whale", "text"),
        ("3 apples", "text"),
    ],
)
def test_typed_answer_kind(reference, kind):
    assert typed_question("A question?", reference).answer_kind == kind


@pytest.mark.parametrize("reference", [None, "", "   "])
def test_blank_reference_is_none(reference):
    question = typed_question("A question?", reference)
    assert question.reference is None
    assert question.answer_kind == "number"


@pytest.mark.parametrize("text", ["", "   \n  ", None])
def test_empty_typed_question_rejected(text):
    with pytest.raises(InputError, match="question is empty"):
        typed_question(text)


def test_long_typed_question_rejected():
    with pytest.raises(InputError) as raised:
        typed_question("x" * 10_000)
    message = str(raised.value)
    assert "10000 characters" in message
    assert f"maximum is {MAX_QUESTION_CHARS}" in message


def test_question_at_limit_accepted():
    assert len(typed_question("x" * MAX_QUESTION_CHARS).text) == MAX_QUESTION_CHARS


def test_long_reference_rejected():
    with pytest.raises(InputError) as raised:
        typed_question("A question?", "7" * 600)
    message = str(raised.value)
    assert "reference answer" in message
    assert "maximum is 500" in message
