"""Checking a completion's answer against its question.

reasoning-gym questions are scored by their family's own scorer, and only a score of 1.0
counts as correct, because some scorers give partial credit (gsm_symbolic 0.01, countdown
0.05 for a wrong answer). Typed questions with a reference are compared with math-verify.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from typing import Any

import reasoning_gym
import sympy
from math_verify import parse, verify
from reasoning_gym.dataset import ProceduralDataset

from lrm_lab.tasks.extract import EXTRACTOR_VERSION, extract_answer
from lrm_lab.tasks.question import Question
from lrm_lab.tasks.verdict import Check, Verdict

# Seconds that math-verify may spend on each parse and comparison. It applies only in the main
# thread, because math-verify enforces it with signal.alarm.
MATH_VERIFY_TIMEOUT_S = 5

# Powers and factorials above these sizes can keep sympy busy past any timeout: comparing
# 9^9^9^9 with 5 did not finish within 20 s.
_MAX_EXPONENT = 1000
_MAX_FACTORIAL = 1000


def check(question: Question, completion: str) -> Check:
    """Extract the answer of a completion and return its verdict for the question.

    Safe to call from any thread. Scorer failures become Verdict.ERROR and are not raised.
    """
    answer = extract_answer(completion, question.answer_kind)
    if answer is None:
        return _check(None, Verdict.UNPARSED, None, f"no {question.answer_kind} answer found in the completion")

    if question.source == "reasoning_gym":
        return _check_with_scorer(question, answer)
    if question.reference is None:
        return _check(answer, Verdict.UNVERIFIED, None, "the question has no reference answer")
    return _check_with_math_verify(question.reference, answer)


def _check(answer: str | None, verdict: Verdict, score: float | None, note: str = "") -> Check:
    return Check(answer=answer, verdict=verdict, score=score, extractor_version=EXTRACTOR_VERSION, note=note)


# ---- reasoning-gym questions -----------------------------------------------------------


def _check_with_scorer(question: Question, answer: str) -> Check:
    if question.family is None or question.entry is None:
        return _check(answer, Verdict.ERROR, None, "the reasoning-gym question has no family or entry to score with")
    try:
        dataset = _scoring_dataset(question.family, json.dumps(question.settings, sort_keys=True))
        score = float(dataset.score_answer(answer, question.entry))
    except Exception as error:  # scorers can raise anything on odd input, and the note records it
        return _check(answer, Verdict.ERROR, None, f"{question.family} scorer failed: {type(error).__name__}: {error}")

    verdict = Verdict.CORRECT if score >= 1.0 else Verdict.WRONG
    return _check(answer, verdict, score, f"{question.family} scorer gave {score:g}")


@lru_cache(maxsize=64)
def _scoring_dataset(family: str, settings_json: str) -> ProceduralDataset:
    """Return a dataset object whose score_answer scores entries of this family and settings.

    The seed is fixed because the scorers of the supported families read only the answer,
    the entry and the config, never the seed.
    """
    settings: dict[str, Any] = json.loads(settings_json)
    return reasoning_gym.create_dataset(family, size=1, seed=0, **settings)


# ---- Typed questions -------------------------------------------------------------------


def _check_with_math_verify(reference: str, answer: str) -> Check:
    gold = _parse_math(reference)
    predicted = _parse_math(answer)
    if gold is None or predicted is None:
        side = "reference" if gold is None else "answer"
        matches = _normalise_text(reference) == _normalise_text(answer)
        note = (
            f"math-verify could not parse the {side}, or it was too large to compare safely, "
            "so the texts were compared ignoring case, spacing and a final period"
        )
        return _check(answer, Verdict.CORRECT if matches else Verdict.WRONG, 1.0 if matches else 0.0, note)

    matches = verify(gold, predicted, timeout_seconds=_timeout_for_this_thread())
    return _check(answer, Verdict.CORRECT if matches else Verdict.WRONG, 1.0 if matches else 0.0, "math-verify")


def _parse_math(text: str) -> list[Any] | None:
    """Parse `text` with math-verify, or return None if it contains no math or math too large to compare."""
    # math-verify finds bare LaTeX only between math delimiters.
    if "\\" in text and "$" not in text:
        text = f"${text}$"
    parsed = parse(text, parsing_timeout=_timeout_for_this_thread())

    expressions = [item for item in parsed if isinstance(item, sympy.Basic)]
    if not expressions or any(_is_too_large(expression) for expression in expressions):
        return None
    return parsed


def _timeout_for_this_thread() -> int | None:
    """Return math-verify's timeout, or None outside the main thread.

    math-verify enforces timeouts with signal.alarm, which raises ValueError outside the main
    thread, so worker threads run without one.
    """
    if threading.current_thread() is threading.main_thread():
        return MATH_VERIFY_TIMEOUT_S
    # NOTE: _is_too_large rejects the slow inputs known so far (power towers, big factorials),
    # but a worker thread has no timeout if sympy is slow on some other input.
    return None


def _is_too_large(expression: sympy.Basic) -> bool:
    """Return whether `expression` has a power or factorial too large for sympy to compare quickly."""
    for node in sympy.preorder_traversal(expression):
        if isinstance(node, sympy.Pow):
            exponent = node.exp
            if not exponent.is_Number or abs(exponent) > _MAX_EXPONENT:
                return True
        if isinstance(node, sympy.factorial):
            argument = node.args[0]
            if not argument.is_Number or argument > _MAX_FACTORIAL:
                return True
    return False


def _normalise_text(text: str) -> str:
    return " ".join(text.casefold().split()).removesuffix(".").strip()
