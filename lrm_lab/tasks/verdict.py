"""Verdicts and the outcome of checking one completion against a question."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    CORRECT = "correct"
    WRONG = "wrong"
    UNPARSED = "unparsed"  # no answer could be extracted; never counted as wrong
    ERROR = "error"  # generation or scoring raised
    UNVERIFIED = "unverified"  # an answer was extracted but there is no reference to check it against
    CANCELLED = "cancelled"  # stopped by the user before it finished


@dataclass(frozen=True)
class Check:
    """The extracted answer of one completion and its verdict."""

    answer: str | None  # None when nothing could be extracted
    verdict: Verdict
    score: float | None  # scorer output in [0, 1]; None when there is nothing to score against
    extractor_version: str
    note: str = ""  # why the verdict was given, for the trace (e.g. the scorer's error)
