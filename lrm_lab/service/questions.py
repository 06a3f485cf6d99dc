"""Turn what the user picked or typed into a Question."""

from __future__ import annotations

from lrm_lab.errors import InputError
from lrm_lab.store import QuestionRecord
from lrm_lab.tasks.families import make_question, parse_settings, typed_question
from lrm_lab.tasks.question import Question


def build_question(
    source: str,
    family: str | None = None,
    settings: str | dict | None = None,
    question_seed: int | float | None = 0,
    text: str | None = None,
    reference: str | None = None,
) -> Question:
    """Make a reasoning-gym question (source "family") or a typed one (source "typed")."""
    if source == "typed":
        return typed_question(text or "", reference)
    if source != "family":
        raise InputError(f"Question source must be 'family' or 'typed', got {source!r}.")
    if not family:
        raise InputError("Pick a reasoning-gym family, or switch the question source to 'typed'.")
    if isinstance(settings, str):
        settings = parse_settings(settings)
    if isinstance(question_seed, float):
        if not question_seed.is_integer():
            raise InputError(f"The question seed must be a whole number, got {question_seed}.")
        question_seed = int(question_seed)
    if question_seed is None:
        raise InputError("Give a question seed: a whole number such as 0.")
    return make_question(family, settings or {}, question_seed)


def question_from_record(record: QuestionRecord) -> Question:
    """Rebuild the Question that a stored question was made from, entry and answer kind included."""
    return Question(
        text=record.text,
        reference=record.reference,
        source=record.source,
        family=record.family,
        settings=dict(record.settings),
        seed=record.seed,
        entry=record.entry,
        answer_kind=record.answer_kind,
    )
