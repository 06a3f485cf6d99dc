"""Recipes: techniques composed into stages, with their settings, named by a label such as "memory+search(n=8)".

A recipe runs its stages in order: context techniques (memory) change the prompt, an adaptation
technique (TTT) changes the model, then one decoding technique (baseline or search) answers.
A recipe without a decoding technique decodes greedily with baseline. A benchmark compares recipes, and every attempt stores its recipe's label.

On the command line a recipe is written ``TECHNIQUE[:OPTION=VALUE,...]``, with ``+`` between
techniques, for example ``search:n=8,temperature=0.5`` or ``memory:k=3+search:n=8``.
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass
from typing import Any

from lrm_lab.errors import InputError
from lrm_lab.tasks.question import Question
from lrm_lab.techniques import TECHNIQUES, RunContext, TechniqueResult, get_technique
from lrm_lab.techniques.options import option_fields, parse_options
from lrm_lab.techniques.technique import STAGES

MAX_SPEC_CHARS = 500
DEFAULT_DECODING = "baseline"
# A "+" that starts the next technique's name; a "+" inside a number such as 1e+2 is not one.
_TECHNIQUE_SEPARATOR = re.compile(r"\+(?=\s*[A-Za-z_])")


@dataclass(frozen=True)
class Recipe:
    """The stages of one column: technique names in stage order, their parsed options and the label."""

    techniques: tuple[str, ...]  # in stage order: context, adaptation, then the decoding technique last
    options: dict[str, Any]  # technique name -> its options dataclass
    label: str

    @property
    def name(self) -> str:
        """The technique names joined by "+", as stored in an attempt's technique column."""
        return "+".join(self.techniques)

    @property
    def decoding(self) -> str:
        return self.techniques[-1]

    @property
    def context(self) -> tuple[str, ...]:
        return tuple(name for name in self.techniques if get_technique(name).stage == "context")

    @property
    def adaptation(self) -> str | None:
        return next((name for name in self.techniques if get_technique(name).stage == "adaptation"), None)

    @property
    def reads_memory(self) -> bool:
        return "memory" in self.techniques

    @property
    def samples(self) -> int:
        """Number of answers the recipe samples per question (search's n, otherwise 1)."""
        return max((getattr(options, "n", 1) for options in self.options.values()), default=1)

    @property
    def max_new_tokens(self) -> int:
        return max(getattr(options, "max_new_tokens", 0) for options in self.options.values())

    @property
    def sampled(self) -> bool:
        """Whether any stage depends on the seed (sampling, or TTT's variations), so that repeats can differ."""
        return any(get_technique(name).sampled for name in self.techniques)

    def uses_reference(self) -> bool:
        return any(getattr(options, "strategy", None) == "best_of_n_oracle" for options in self.options.values())


def make_recipe(techniques: str | tuple[str, ...] | list[str], values: dict[str, dict[str, Any]] | None = None) -> Recipe:
    """Build a recipe from technique names and raw option values per technique.

    A single name may be given as a string, and "memory+search" as one string too. The
    techniques are put in stage order; without a decoding technique, baseline decodes.
    """
    names = [part.strip() for part in techniques.split("+")] if isinstance(techniques, str) else list(techniques)
    values = values or {}
    found = [get_technique(name) for name in names]
    if len(set(names)) != len(names):
        raise InputError(f"Recipe {'+'.join(names)} names a technique twice. Give each technique once.")
    decoding = [technique.name for technique in found if technique.stage == "decoding"]
    if len(decoding) > 1:
        raise InputError(
            f"Recipe {'+'.join(names)} has more than one decoding technique ({', '.join(decoding)}); "
            "combine a context technique such as memory with one of them."
        )
    adaptation = [technique.name for technique in found if technique.stage == "adaptation"]
    if len(adaptation) > 1:
        raise InputError(f"Recipe {'+'.join(names)} has more than one adaptation technique ({', '.join(adaptation)}); "
                         "keep one of them.")
    if adaptation and any(technique.name == "gflownet" for technique in found):
        raise InputError(f"Recipe {'+'.join(names)} needs two adapters at once ({adaptation[0]} and gflownet's); "
                         "run them in separate columns.")
    if not decoding:
        found.append(get_technique(DEFAULT_DECODING))
    found.sort(key=lambda technique: STAGES.index(technique.stage))

    options = {technique.name: parse_options(technique.options_type, values.get(technique.name), technique.name)
               for technique in found}
    ordered = tuple(technique.name for technique in found)
    return Recipe(ordered, options, compose_label(ordered, options))


def parse_recipe(spec: str, defaults: dict[str, Any] | None = None) -> Recipe:
    """Parse ``TECHNIQUE[:OPTION=VALUE,...][+TECHNIQUE[:...]]``; ``defaults`` are option values the spec may override.

    Defaults that a technique has no option for are ignored, so one set of command-line flags
    can serve recipes of different techniques.
    """
    spec = (spec or "").strip()
    if not spec:
        raise InputError("A recipe is empty. Write a technique name such as baseline, search:n=8 or memory+search.")
    if len(spec) > MAX_SPEC_CHARS:
        raise InputError(f"A recipe is {len(spec)} characters long; the maximum is {MAX_SPEC_CHARS}.")

    names: list[str] = []
    values: dict[str, dict[str, Any]] = {}
    for part in _TECHNIQUE_SEPARATOR.split(spec):
        name, _, settings = part.partition(":")
        name = name.strip()
        if name not in TECHNIQUES:
            raise InputError(f"Recipe {spec!r} names an unknown technique {name!r}; choose from {', '.join(TECHNIQUES)}.")
        names.append(name)
        values[name] = _parse_settings(spec, name, settings, defaults or {})
    # The default decoding technique takes the defaults too, so --max-new-tokens reaches "memory".
    values.setdefault(DEFAULT_DECODING, _parse_settings(spec, DEFAULT_DECODING, "", defaults or {}))
    return make_recipe(names, values)


def _parse_settings(spec: str, name: str, settings: str, defaults: dict[str, Any]) -> dict[str, Any]:
    known = {field.name for field in option_fields(TECHNIQUES[name].options_type)}
    values = {key: value for key, value in defaults.items() if key in known and value is not None}
    keys_seen: set[str] = set()
    for pair in filter(None, (part.strip() for part in settings.split(","))):
        key, equals, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not equals or not key or not value.strip():
            raise InputError(f"Recipe {spec!r}: write each setting as OPTION=VALUE, got {pair!r}.")
        if key in keys_seen:
            raise InputError(f"Recipe {spec!r} sets {name}'s {key} twice. Give each option once.")
        keys_seen.add(key)
        values[key] = value.strip()
    return values


def recipe_label(technique: str, options: Any) -> str:
    """Name one technique by its options that differ from their defaults or are marked in_label.

    For example "search(n=8, temperature=0.5)".
    """
    changed = [
        f"{field.name}={_format(getattr(options, field.name))}"
        for field in option_fields(type(options))
        if getattr(options, field.name) != field.default or field.metadata.get("in_label")
    ]
    return f"{technique}({', '.join(changed)})" if changed else technique


def compose_label(techniques: tuple[str, ...], options: dict[str, Any]) -> str:
    """Join the techniques' labels with "+", leaving out a default baseline after another stage.

    For example "memory+search(n=8)", and "memory" for memory decoded by a default baseline.
    """
    return "+".join(recipe_label(name, options[name]) for name in named_techniques(techniques, options))


def named_techniques(techniques: tuple[str, ...], options: dict[str, Any]) -> tuple[str, ...]:
    """Return the techniques a label names: all of them, less a default baseline after another stage."""
    if len(techniques) > 1 and recipe_label(techniques[-1], options[techniques[-1]]) == DEFAULT_DECODING:
        return techniques[:-1]
    return techniques


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()  # as written in a recipe: clean=true
    return f"{value + 0.0:g}" if isinstance(value, float) else str(value)  # + 0.0 turns -0.0 into 0


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


def attempt_options(recipe: Recipe) -> dict[str, Any]:
    """Return the options as an attempt stores them: flat for one technique, per technique for several."""
    if len(recipe.techniques) == 1:
        return dataclasses.asdict(recipe.options[recipe.decoding])
    return {name: dataclasses.asdict(options) for name, options in recipe.options.items()}


def recipe_from_attempt(technique: str, options: dict[str, Any]) -> Recipe:
    """Rebuild the recipe of a stored attempt from its technique column and stored options."""
    names = technique.split("+")
    values = {names[0]: options} if len(names) == 1 else options
    return make_recipe(names, values)


def stage_options(technique: str, options: dict[str, Any]) -> dict[str, Any]:
    """Return the stored options of an attempt's decoding technique (the last of its technique column)."""
    names = technique.split("+")
    return options if len(names) == 1 else options.get(names[-1], {})


def run_recipe(recipe: Recipe, question: Question, ctx: RunContext) -> TechniqueResult:
    """Run the recipe's context stages, then its decoding technique (inside its adaptation stage, if any).

    The details of every stage are merged into the result's details.
    """
    start = time.perf_counter()

    # Context stages add worked examples to the prompt and report what they used.
    context_details: dict[str, Any] = {}
    for name in recipe.context:
        context = get_technique(name).prepare(question, recipe.options[name], ctx)
        ctx = dataclasses.replace(ctx, examples=ctx.examples + context.examples)
        context_details.update(context.details)

    # The decoding technique answers with that prompt; an adaptation stage calls it with the model adapted.
    decoding = get_technique(recipe.decoding)

    def decode(decode_ctx: RunContext) -> TechniqueResult:
        return decoding.run(question, recipe.options[recipe.decoding], decode_ctx)

    if recipe.adaptation is None:
        result = decode(ctx)
    else:
        result = get_technique(recipe.adaptation).adapt(question, recipe.options[recipe.adaptation], ctx, decode)
    result.technique = recipe.name
    result.details = context_details | result.details
    result.seconds = time.perf_counter() - start
    return result
