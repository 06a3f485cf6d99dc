"""Recipe specs: parsing, composition, labels and the stored JSON form."""

import pytest

from lrm_lab.errors import InputError
from lrm_lab.tasks.question import Question
from lrm_lab.techniques import RunContext
from lrm_lab.techniques.recipe import (
    attempt_options,
    parse_recipe,
    recipe_from_attempt,
    recipe_from_json,
    recipe_json,
    run_recipe,
    stage_options,
)


def test_default_options_give_bare_label():
    assert parse_recipe("baseline").label == "baseline"
    assert parse_recipe("search").label == "search(n=4)"  # n is always named


def test_changed_options_appear_in_label():
    recipe = parse_recipe("search:n=8, temperature=0.5")

    assert recipe.label == "search(n=8, temperature=0.5)"
    assert recipe.options["search"].n == 8
    assert recipe.samples == 8


def test_defaults_apply_unless_spec_overrides():
    defaults = {"max_new_tokens": 64, "n": 2, "strategy": None}

    baseline = parse_recipe("baseline", defaults)
    search = parse_recipe("search:n=6", defaults)

    assert baseline.options["baseline"].max_new_tokens == 64
    assert search.options["search"].n == 6
    assert search.max_new_tokens == 64


def test_json_round_trip_keeps_label():
    recipe = parse_recipe("search:strategy=best_of_n_oracle,n=3")

    assert recipe_from_json(recipe_json(recipe)) == recipe
    assert recipe.uses_reference()


@pytest.mark.parametrize(
    "spec, words",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("tree_search", "unknown technique"),
        ("search:n", "OPTION=VALUE"),
        ("search:=3", "OPTION=VALUE"),
        ("search:n=", "OPTION=VALUE"),
        ("search:n=0", "between 1 and 64"),
        ("search:n=two", "must be a whole number"),
        ("search:beam=4", "has no option beam"),
        ("baseline+search", "more than one decoding technique"),
        ("memory+memory:k=3", "names a technique twice"),
        ("memory+tree_search", "unknown technique"),
        ("search:" + "n=2," * 200, "maximum is 500"),
    ],
)
def test_bad_spec_rejected(spec, words):
    with pytest.raises(InputError, match=words):
        parse_recipe(spec)


def test_option_given_twice_rejected():
    with pytest.raises(InputError, match="sets search's n twice"):
        parse_recipe("search:n=2,n=3")


def test_sampled_follows_technique():
    assert not parse_recipe("baseline").sampled
    assert parse_recipe("search:n=1").sampled


def test_composed_recipe_in_stage_order():
    recipe = parse_recipe("search:n=4+memory:k=3")

    assert recipe.techniques == ("memory", "search")
    assert recipe.label == "memory(k=3)+search(n=4)"
    assert recipe.name == "memory+search"
    assert recipe.decoding == "search"
    assert recipe.context == ("memory",)
    assert recipe.reads_memory
    assert recipe.sampled


def test_memory_alone_decodes_greedily():
    recipe = parse_recipe("memory", {"max_new_tokens": 64})

    assert recipe.techniques == ("memory", "baseline")
    assert recipe.options["baseline"].max_new_tokens == 64
    assert recipe.label == "memory+baseline(max_new_tokens=64)"
    assert parse_recipe("memory").label == "memory"
    assert parse_recipe("memory+baseline").label == "memory"
    assert not parse_recipe("memory").sampled


def test_boolean_option_parsed():
    assert parse_recipe("memory:clean=yes").options["memory"].clean is True
    assert parse_recipe("memory:clean=False").options["memory"].clean is False
    assert parse_recipe("memory:clean=true").label == "memory(clean=true)"
    with pytest.raises(InputError, match="true or false"):
        parse_recipe("memory:clean=maybe")


def test_plus_inside_number_kept():
    recipe = parse_recipe("search:temperature=1e+0")

    assert recipe.techniques == ("search",)
    assert recipe.options["search"].temperature == 1.0


def test_composed_recipe_json_round_trip():
    recipe = parse_recipe("memory:threshold=0.3+search:n=4")

    assert recipe_from_json(recipe_json(recipe)) == recipe


def test_attempt_options_round_trip():
    single = parse_recipe("search:n=4")
    composed = parse_recipe("memory:k=1+search:n=4")

    assert attempt_options(single)["n"] == 4
    assert attempt_options(composed)["memory"]["k"] == 1
    assert recipe_from_attempt(single.name, attempt_options(single)) == single
    assert recipe_from_attempt(composed.name, attempt_options(composed)) == composed
    assert stage_options(composed.name, attempt_options(composed))["n"] == 4


def test_memory_recipe_needs_memory_source(tiny):
    question = Question("What is 1 + 1?", "2", "typed")

    with pytest.raises(InputError, match="no memory store"):
        run_recipe(parse_recipe("memory:k=1,threshold=0+baseline:max_new_tokens=2"), question, RunContext(model=tiny))
