"""The reasoning-gym task families the lab offers, and validated construction of questions.

Every function here raises `InputError` with a message that names the invalid value and tells
the user what to enter instead, because the UI and the CLI show these messages unchanged.
"""

from __future__ import annotations

import json
import re
import typing
from dataclasses import dataclass, field, fields
from typing import Any

import reasoning_gym
from reasoning_gym.factory import DATASETS

from lrm_lab.errors import InputError
from lrm_lab.tasks.question import AnswerKind, Question

MAX_QUESTION_CHARS = 4000
MAX_REFERENCE_CHARS = 500

# reasoning-gym draws its own random seeds from [0, 2**32], so larger seeds add nothing.
MAX_SEED = 2**32 - 1

# Config fields that make_question sets itself.
_RESERVED_FIELDS = ("seed", "size")


@dataclass(frozen=True)
class Family:
    """A reasoning-gym dataset offered in the lab, with defaults sized for a 135M-parameter model."""

    name: str  # reasoning-gym dataset name
    title: str
    description: str  # one sentence for a workshop audience
    defaults: dict[str, Any]  # user-facing size settings, while other config fields keep reasoning-gym's defaults
    answer_kind: AnswerKind
    # Maximum value of each size setting, to keep questions short and quick to generate.
    # FAMILIES gives the source of each limit.
    limits: dict[str, int] = field(default_factory=dict)


FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family(
            name="basic_arithmetic",
            title="Basic arithmetic",
            description="Evaluate a short expression with + - * / and parentheses, such as (12 + 5) * 3.",
            defaults={"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 2},
            answer_kind="number",
            # reasoning-gym 0.1.25 picks divisors by trial division up to the square root of
            # the dividend. With 8 terms of 4 digits one question took 2 s, and with 6 terms
            # of 5 digits 1 s. With 6 terms of 4 digits the slowest of 300 seeds took 0.03 s
            # on a 2-core CPU. 6 terms of 4 digits is also the library's default maximum.
            limits={"min_terms": 6, "max_terms": 6, "min_digits": 4, "max_digits": 4},
        ),
        Family(
            name="chain_sum",
            title="Chain sum",
            description="Add and subtract a chain of whole numbers, such as 57 + 87 - 70.",
            defaults={"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 2},
            answer_kind="number",
            # The largest levels of reasoning-gym's curriculum for this family.
            limits={"min_terms": 12, "max_terms": 12, "min_digits": 10, "max_digits": 10},
        ),
        Family(
            name="gsm_symbolic",
            title="Grade-school word problems",
            description="Solve a short word problem in the style of GSM8K, with numbers drawn at random.",
            # reasoning-gym 0.1.25 accepts only difficulty 1.0.
            defaults={"difficulty": 1.0},
            answer_kind="number",
        ),
        Family(
            name="leg_counting",
            title="Leg counting",
            description="Count the legs of a small group of animals, such as 3 spiders and 2 ducks.",
            defaults={"min_animals": 1, "max_animals": 2, "min_instances": 1, "max_instances": 3},
            answer_kind="number",
            # reasoning-gym itself rejects more than its 37 animals. 1024 instances is the
            # largest level of its curriculum for this family.
            limits={"min_instances": 1024, "max_instances": 1024},
        ),
        Family(
            name="countdown",
            title="Countdown",
            description="Combine the given numbers with + - * / to reach a target, using each number once.",
            defaults={
                "min_numbers": 3,
                "max_numbers": 4,
                "min_value": 1,
                "max_value": 25,
                "min_target": 10,
                "max_target": 100,
            },
            answer_kind="expression",
            # Generation tries 100 random expressions with sympy: with 8 numbers and an
            # unreachable target it gives up after 0.4 s on a 2-core CPU.
            limits={
                "min_numbers": 8,
                "max_numbers": 8,
                "min_value": 1000,
                "max_value": 1000,
                "min_target": 10000,
                "max_target": 10000,
            },
        ),
    )
}


def family_names() -> list[str]:
    """Return the names of the supported families, in the order the UI lists them."""
    return list(FAMILIES)


def make_question(family: str, settings: dict[str, Any] | None = None, seed: int = 0) -> Question:
    """Generate one reasoning-gym question, always the same one for the same arguments.

    `settings` override the family's defaults. Any field of the family's reasoning-gym config
    except seed and size may be set.
    """
    spec = _lookup_family(family)
    _validate_seed(seed)
    merged = {**spec.defaults, **_validate_settings(spec, settings)}

    try:
        dataset = reasoning_gym.create_dataset(family, size=1, seed=seed, **merged)
    except (AssertionError, ValueError, TypeError) as error:
        raise InputError(_rejection_message(spec, merged, error)) from error
    try:
        entry = dataset[0]
    except Exception as error:
        # Settings that pass the config checks can still fail here, and any failure here
        # comes from the settings. Countdown raises ValueError when no expression reaches the
        # target range, and basic_arithmetic raises IndexError for some seeds when "/" is its
        # only operator.
        raise InputError(
            f"Could not generate a {family} question with the settings {json.dumps(merged)} "
            f"({type(error).__name__}: {error}). Widen the ranges or restore more of the defaults."
        ) from error

    return Question(
        text=entry["question"],
        reference=str(entry["answer"]),
        source="reasoning_gym",
        family=family,
        settings=_to_json_value(merged),
        seed=seed,
        entry=_to_json_value(entry),
        answer_kind=spec.answer_kind,
    )


def parse_settings(text: str) -> dict[str, Any]:
    """Parse the JSON object typed in a settings box. Blank text gives an empty dict."""
    if not text or not text.strip():
        return {}
    try:
        settings = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"Settings are not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}. "
            'Write an object such as {"max_terms": 3}.'
        ) from error
    if not isinstance(settings, dict):
        raise InputError(
            f"Settings must be a JSON object, not {_json_type_name(settings)}. "
            'Write an object such as {"max_terms": 3}.'
        )
    return settings


def typed_question(text: str, reference: str | None = None) -> Question:
    """Build a question that the user typed, with an optional reference answer."""
    text = (text or "").strip()
    if not text:
        raise InputError("The question is empty. Type a question or pick a reasoning-gym family.")
    if len(text) > MAX_QUESTION_CHARS:
        raise InputError(
            f"The question is {len(text)} characters long, but the maximum is {MAX_QUESTION_CHARS}. Shorten it."
        )

    reference = (reference or "").strip() or None
    if reference is not None and len(reference) > MAX_REFERENCE_CHARS:
        raise InputError(
            f"The reference answer is {len(reference)} characters long, but the maximum is "
            f"{MAX_REFERENCE_CHARS}. Enter only the final answer."
        )

    answer_kind: AnswerKind = "number"
    if reference is not None and not _is_math(reference):
        answer_kind = "text"
    return Question(text=text, reference=reference, source="typed", answer_kind=answer_kind)


# ---- Validation ------------------------------------------------------------------------


def _lookup_family(family: str) -> Family:
    if family not in FAMILIES:
        known = ", ".join(FAMILIES)
        raise InputError(f"Unknown task family {family!r}. Choose one of: {known}.")
    return FAMILIES[family]


def _validate_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InputError(f"The seed must be a whole number, not {seed!r}. Enter a number such as 0 or 42.")
    if not 0 <= seed <= MAX_SEED:
        raise InputError(f"The seed must be between 0 and {MAX_SEED}, not {seed}. Enter a number such as 0 or 42.")


def _validate_settings(spec: Family, settings: dict[str, Any] | None) -> dict[str, Any]:
    """Return the settings with their types checked and integral floats converted to int."""
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise InputError(f"Settings must be a JSON object of name-value pairs, not {settings!r}.")

    config_types = _config_types(spec.name)
    checked = {}
    for key, value in settings.items():
        if key not in config_types:
            valid = ", ".join(config_types)
            raise InputError(f"{spec.name} has no setting {key!r}. Valid settings: {valid}.")
        checked[key] = _check_type(spec.name, key, value, config_types[key])
        _check_limit(spec, key, checked[key])
    return checked


def _config_types(family: str) -> dict[str, Any]:
    """Return the type of each settable field of the family's reasoning-gym config."""
    _, config_class = DATASETS[family]
    hints = typing.get_type_hints(config_class)
    return {item.name: hints[item.name] for item in fields(config_class) if item.name not in _RESERVED_FIELDS}


def _check_type(family: str, key: str, value: Any, expected: Any) -> Any:
    """Return `value` if it fits the config field's type, converting 3.0 to 3 for int fields."""
    prefix = f"Setting {key!r} of {family}"

    if expected is bool:
        if not isinstance(value, bool):
            raise InputError(f"{prefix} must be true or false, not {value!r}.")
        return value

    if expected is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{prefix} must be a whole number, not {value!r}.")
        return value

    if expected is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{prefix} must be a number, not {value!r}.")
        return float(value)

    if typing.get_origin(expected) is typing.Literal:
        choices = typing.get_args(expected)
        if value not in choices:
            raise InputError(f"{prefix} must be one of {', '.join(map(repr, choices))}, not {value!r}.")
        return value

    # Lists of strings, such as the operators of basic_arithmetic and countdown.
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputError(f'{prefix} must be a list of strings such as ["+", "-"], not {value!r}.')
    return value


def _check_limit(spec: Family, key: str, value: Any) -> None:
    limit = spec.limits.get(key)
    if limit is not None and value > limit:
        raise InputError(
            f"Setting {key!r} of {spec.name} is {value}, above the maximum of {limit} that the lab allows "
            f"to keep questions short and quick to generate. Use at most {limit}."
        )


def _rejection_message(spec: Family, settings: dict[str, Any], error: Exception) -> str:
    """Return the message for settings that reasoning-gym's config validation rejected."""
    if str(error):
        return f"Invalid settings for {spec.name}: {error}. Change the value it names."
    # Some reasoning-gym checks are bare asserts, such as gsm_symbolic's difficulty == 1.0.
    return (
        f"reasoning-gym rejected the {spec.name} settings {json.dumps(settings)} without giving a reason. "
        f"Go back to the defaults {json.dumps(spec.defaults)}."
    )


# ---- Conversions -----------------------------------------------------------------------


def _to_json_value(value: Any) -> Any:
    """Return a copy of `value` made of JSON types: tuples become lists, NumPy scalars numbers."""
    if isinstance(value, dict):
        return {str(key): _to_json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json_value(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "item"):  # NumPy scalar
        return _to_json_value(value.item())
    return str(value)


def _json_type_name(value: Any) -> str:
    names = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true or false"}
    return names.get(type(value), "null")


# A reference counts as math when, once LaTeX commands and $ are removed, only digits,
# operators, brackets and separators remain: "0.5", "3/4", "\frac{1}{2}", "2^{10}", "-1,234".
_LATEX_COMMAND = re.compile(r"\\[a-zA-Z]+")
_MATH_CHARACTERS = re.compile(r"[\d\s.,+\-−*/^()\[\]{}%=]+")


def _is_math(reference: str) -> bool:
    stripped = _LATEX_COMMAND.sub("", reference).replace("$", "")
    return any(char.isdigit() for char in stripped) and _MATH_CHARACTERS.fullmatch(stripped) is not None
