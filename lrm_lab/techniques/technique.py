"""The shape every technique shares, so the UI, the CLI and the database treat them alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from lrm_lab.tasks.question import Question
from lrm_lab.tasks.verdict import Verdict
from lrm_lab.techniques.result import RunContext, TechniqueResult

EXPLANATIONS = Path(__file__).resolve().parents[2] / "assets" / "techniques"

RunFn = Callable[[Question, Any, RunContext], TechniqueResult]
# A context stage returns what it adds to the prompt; see techniques/memory.py.
PrepareFn = Callable[[Question, Any, RunContext], Any]

# An adaptation stage answers by calling the decoding stage it is given, with the model adapted;
# see techniques/ttt.py. Its arguments: the question, its options, the context, the decoding stage.
AdaptFn = Callable[[Question, Any, RunContext, Callable[[RunContext], TechniqueResult]], TechniqueResult]

STAGES = ("context", "adaptation", "decoding")  # the order in which a recipe runs its stages


@dataclass(frozen=True)
class Rescored:
    """A stored attempt's answer and verdict, derived again from its stored text by the current extractor."""

    answer: str | None
    verdict: Verdict
    score: float | None
    extractor_version: str
    details: dict[str, Any] = field(default_factory=dict)  # what the technique derived anew, e.g. search's votes
    note: str = ""  # what changed besides the answer and verdict, e.g. "chosen sample 2 -> 5"


# Arguments: the question, the stored trace, the stored options and the stored details.
RescoreFn = Callable[[Question, str, dict[str, Any], dict[str, Any]], Rescored]


@dataclass(frozen=True)
class Technique:
    """A named technique: its stage, options type, run function and a text for workshops.

    A decoding technique answers the question through ``run``. A context technique changes the
    prompt through ``prepare``, and an adaptation technique changes the model around the decoding
    technique through ``adapt``; both need a decoding technique after them in a recipe.
    """

    name: str
    title: str
    summary: str  # one line for the technique picker
    options_type: type
    run: RunFn | None = None
    prepare: PrepareFn | None = None
    adapt: AdaptFn | None = None
    stage: str = "decoding"
    # Re-extracts and re-checks a stored attempt without the model, or None when the technique cannot.
    rescore: RescoreFn | None = None
    # Whether the technique depends on the seed, so that repeats with other seeds can give other answers.
    # A benchmark runs a technique that does not sample once per question, whatever its repeats.
    sampled: bool = True

    @cached_property
    def explanation(self) -> str:
        """The Markdown explanation in assets/techniques/<name>.md: what it does, costs, comes from."""
        path = EXPLANATIONS / f"{self.name}.md"
        return path.read_text(encoding="utf-8") if path.is_file() else self.summary
