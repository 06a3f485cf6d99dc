"""Checking a completion's answer against its question.

reasoning-gym questions are scored by their family's own scorer, and only a score of 1.0
counts as correct, because some scorers give partial credit (gsm_symbolic 0.01, countdown
0.05 for a wrong answer). Typed questions with a reference are compared with math-verify.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import lru_cache
from typing import Any

import reasoning_gym
from reasoning_gym.dataset import ProceduralDataset

from lrm_lab.tasks import mathcheck
from lrm_lab.tasks.extract import EXTRACTOR_VERSION, extract_answer
from lrm_lab.tasks.question import Question
from lrm_lab.tasks.verdict import Check, Verdict


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


# Families whose scorer reads only the puzzle, never the reference answer: a countdown answer is
# checked by evaluating it and comparing the numbers it uses and its value with the puzzle's.
REFERENCE_FREE_FAMILIES = frozenset({"countdown"})


def check_without_reference(question: Question, completion: str) -> Check | None:
    """Score a completion with a verifier that never reads the reference answer, or return None when none exists.

    Techniques may use this at answer time (GFlowNet's reward-weighted vote), because it leaves
    the reference answer out of the entry before the family's scorer sees it.
    """
    if question.source != "reasoning_gym" or question.family not in REFERENCE_FREE_FAMILIES or question.entry is None:
        return None
    entry = {key: value for key, value in question.entry.items() if key != "answer"}
    return check(replace(question, reference=None, entry=entry), completion)


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
    comparison = mathcheck.compare(reference, answer)
    matches, note = comparison.equal, comparison.note
    if comparison.timed_out:
        return _check(answer, Verdict.ERROR, None, note)
    if matches is None:
        # math-verify found no math on one side: compare the texts instead.
        matches = _normalise_text(reference) == _normalise_text(answer)
        note += ", so the texts were compared ignoring case, spacing and a final period"
    return _check(answer, Verdict.CORRECT if matches else Verdict.WRONG, 1.0 if matches else 0.0, note)


def _normalise_text(text: str) -> str:
    return " ".join(text.casefold().split()).removesuffix(".").strip()
