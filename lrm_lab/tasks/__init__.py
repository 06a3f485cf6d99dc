"""Questions, answer extraction and verdicts: what a technique is asked and how its answers are checked."""

from lrm_lab.tasks.extract import EXTRACTOR_VERSION, extract_answer
from lrm_lab.tasks.families import (
    FAMILIES,
    MAX_QUESTION_CHARS,
    MAX_REFERENCE_CHARS,
    MAX_SEED,
    Family,
    family_names,
    make_question,
    parse_settings,
    typed_question,
)
from lrm_lab.tasks.question import AnswerKind, Question
from lrm_lab.tasks.verdict import Check, Verdict
from lrm_lab.tasks.verify import check

__all__ = [
    "EXTRACTOR_VERSION",
    "FAMILIES",
    "MAX_QUESTION_CHARS",
    "MAX_REFERENCE_CHARS",
    "MAX_SEED",
    "AnswerKind",
    "Check",
    "Family",
    "Question",
    "Verdict",
    "check",
    "extract_answer",
    "family_names",
    "make_question",
    "parse_settings",
    "typed_question",
]
