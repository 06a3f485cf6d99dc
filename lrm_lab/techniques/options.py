"""Technique options as dataclasses whose fields carry help text and limits.

The UI builds its controls from these fields and the CLI its flags, so a new option appears
everywhere at once. `parse_options` turns user input into a validated options object.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from lrm_lab.errors import InputError

OptionsT = TypeVar("OptionsT")


def option(default: Any, help: str, *, minimum: float | None = None, maximum: float | None = None,
           choices: tuple[str, ...] | None = None, labels: dict[str, str] | None = None,
           in_label: bool = False) -> Any:
    """Declare an option field with its help text, numeric range or allowed choices.

    ``in_label`` puts the option in a recipe's label even at its default, as in "search(n=4)".
    """
    metadata = {"help": help, "minimum": minimum, "maximum": maximum, "choices": choices, "labels": labels,
                "in_label": in_label}
    return dataclasses.field(default=default, metadata=metadata)


def option_fields(options_type: type) -> list[dataclasses.Field]:
    return list(dataclasses.fields(options_type))


def parse_options(options_type: type[OptionsT], values: dict[str, Any] | None, technique: str) -> OptionsT:
    """Build `options_type` from a dict, converting types and checking every limit.

    Raises InputError naming the technique, the option, the bad value and the allowed range.
    """
    values = dict(values or {})
    known = {field.name: field for field in option_fields(options_type)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InputError(f"{technique} has no option {', '.join(unknown)}; its options are {', '.join(known)}.")

    converted = {}
    for name, value in values.items():
        if value is None:
            continue
        converted[name] = _convert(known[name], value, technique)
    return options_type(**converted)


def _convert(field: dataclasses.Field, value: Any, technique: str) -> Any:
    kind = type(field.default)
    where = f"{technique} option {field.name}"
    try:
        if kind is bool:
            value = _parse_bool(value)
        elif kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            value = int(value)
        elif kind is float:
            value = float(value)
        elif kind is str:
            value = str(value)
    except (TypeError, ValueError):
        expected = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}.get(kind, kind.__name__)
        raise InputError(f"{where} must be {expected}, got {value!r}.") from None

    meta = field.metadata
    if meta.get("choices") and value not in meta["choices"]:
        raise InputError(f"{where} must be one of {', '.join(meta['choices'])}, got {value!r}.")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value != value:  # NaN compares unequal to itself
            raise InputError(f"{where} must be a number, got NaN.")
        low, high = meta.get("minimum"), meta.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            raise InputError(f"{where} must be between {low} and {high}, got {value}.")
    return value


_BOOLEAN_WORDS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


def _parse_bool(value: Any) -> bool:
    """Return a bool from True/False or the words true/false, yes/no, on/off, 1/0 (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOLEAN_WORDS:
        return _BOOLEAN_WORDS[value.strip().lower()]
    raise ValueError(value)
