"""Recipe specs: parsing, labels and the stored JSON form."""

import pytest

from lrm_lab.errors import InputError
from lrm_lab.techniques.recipe import parse_recipe, recipe_from_json, recipe_json


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
