"""Recipes: a technique with its settings, named by a label such as "search(n=8)".

A benchmark compares recipes, and every attempt stores its recipe's label. On the command line a
recipe is written ``TECHNIQUE[:OPTION=VALUE,...]``, for example ``search:n=8,temperature=0.5``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from lrm_lab.errors import InputError
from lrm_lab.tasks.question import Question
from lrm_lab.techniques import TECHNIQUES, RunContext, TechniqueResult, get_technique
from lrm_lab.techniques.options import option_fields, parse_options

MAX_SPEC_CHARS = 500


@dataclass(frozen=True)
class Recipe:
    """The techniques of one benchmark column, their parsed options and the label that names them."""

    techniques: tuple[str, ...]
    options: dict[str, Any]  # technique name -> its options dataclass
    label: str

    @property
    def samples(self) -> int:
        """Number of answers the recipe samples per question (search's n, otherwise 1)."""
        return max((getattr(options, "n", 1) for options in self.options.values()), default=1)

    @property
    def max_new_tokens(self) -> int:
        return max(getattr(options, "max_new_tokens", 0) for options in self.options.values())

    @property
    def sampled(self) -> bool:
        """Whether any of the recipe's techniques samples, so that repeats can differ."""
        return any(get_technique(name).sampled for name in self.techniques)

    def uses_reference(self) -> bool:
        return any(getattr(options, "strategy", None) == "best_of_n_oracle" for options in self.options.values())


def make_recipe(technique: str, values: dict[str, Any] | None = None) -> Recipe:
    """Build a one-technique recipe from raw option values, labelled by recipe_label."""
    found = get_technique(technique)
    options = parse_options(found.options_type, values, technique)
    return Recipe((technique,), {technique: options}, recipe_label(technique, options))


def parse_recipe(spec: str, defaults: dict[str, Any] | None = None) -> Recipe:
    """Parse ``TECHNIQUE[:OPTION=VALUE,...]``; ``defaults`` are option values the spec may override.

    Defaults that the technique has no option for are ignored, so one set of command-line flags
    can serve recipes of different techniques.
    """
    spec = (spec or "").strip()
    if not spec:
        raise InputError("A recipe is empty. Write a technique name such as baseline or search:n=8.")
    if len(spec) > MAX_SPEC_CHARS:
        raise InputError(f"A recipe is {len(spec)} characters long; the maximum is {MAX_SPEC_CHARS}.")
    name, _, settings = spec.partition(":")
    name = name.strip()
    if "+" in name:
        # NOTE: composed recipes (memory as context, search as decoding) need a context stage,
        # which no technique provides yet.
        raise InputError(f"Recipe {spec!r} combines techniques, which is not supported yet. Give one technique per recipe.")
    if name not in TECHNIQUES:
        raise InputError(f"Recipe {spec!r} names an unknown technique {name!r}; choose from {', '.join(TECHNIQUES)}.")

    known = {field.name for field in option_fields(TECHNIQUES[name].options_type)}
    values = {key: value for key, value in (defaults or {}).items() if key in known and value is not None}
    keys_seen: set[str] = set()
    for pair in filter(None, (part.strip() for part in settings.split(","))):
        key, equals, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not equals or not key or not value.strip():
            raise InputError(f"Recipe {spec!r}: write each setting as OPTION=VALUE, got {pair!r}.")
        if key in keys_seen:
            raise InputError(f"Recipe {spec!r} sets {key} twice. Give each option once.")
        keys_seen.add(key)
        values[key] = value.strip()
    return make_recipe(name, values)


def recipe_label(technique: str, options: Any) -> str:
    """Name a recipe by its technique and its options that differ from their defaults or are marked in_label.

    For example "search(n=8, temperature=0.5)".
    """
    changed = [
        f"{field.name}={_format(getattr(options, field.name))}"
        for field in option_fields(type(options))
        if getattr(options, field.name) != field.default or field.metadata.get("in_label")
    ]
    return f"{technique}({', '.join(changed)})" if changed else technique


def _format(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def recipe_json(recipe: Recipe) -> dict[str, Any]:
    """Return the recipe as plain JSON, as stored in a benchmark run's settings."""
    return {
        "label": recipe.label,
        "techniques": list(recipe.techniques),
        "options": {name: dataclasses.asdict(options) for name, options in recipe.options.items()},
    }


def recipe_from_json(data: dict[str, Any]) -> Recipe:
    """Rebuild a recipe stored by recipe_json, keeping its stored label."""
    techniques = tuple(data["techniques"])
    options = {
        name: parse_options(get_technique(name).options_type, data["options"].get(name), name) for name in techniques
    }
    return Recipe(techniques, options, data["label"])


def run_recipe(recipe: Recipe, question: Question, ctx: RunContext) -> TechniqueResult:
    """Run the recipe's technique on one question."""
    (name,) = recipe.techniques
    return get_technique(name).run(question, recipe.options[name], ctx)
