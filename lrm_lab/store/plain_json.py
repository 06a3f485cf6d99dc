"""Conversion of Python values to plain JSON, for the store's JSON columns and content hashes."""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from typing import Any


def to_plain_json(value: Any) -> Any:
    """Convert ``value`` to the plain JSON types dict, list, str, int, float, bool and None.

    Tuples become lists, sets become lists sorted by their JSON text, and mapping keys become
    strings. Integers and floats of other types (such as NumPy's) become int and float.
    NaN and the infinities become the strings "nan", "inf" and "-inf" because JSON cannot
    represent them. Any other object becomes str(value).
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)  # the plain text of str subclasses such as StrEnum members
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else str(number)
    if isinstance(value, Mapping):
        return {_to_json_key(key): to_plain_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain_json(item) for item in value]
    if isinstance(value, (set, frozenset)):
        items = [to_plain_json(item) for item in value]
        return sorted(items, key=canonical_json)
    return str(value)


def _to_json_key(key: Any) -> str:
    plain = to_plain_json(key)
    return plain if isinstance(plain, str) else json.dumps(plain)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
