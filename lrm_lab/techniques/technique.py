"""The shape every technique shares, so the UI, the CLI and the database treat them alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from lrm_lab.tasks.question import Question
from lrm_lab.techniques.result import RunContext, TechniqueResult

EXPLANATIONS = Path(__file__).resolve().parents[2] / "assets" / "techniques"

RunFn = Callable[[Question, Any, RunContext], TechniqueResult]


@dataclass(frozen=True)
class Technique:
    """A named technique: its options type, its run function and a text for workshops."""

    name: str
    title: str
    summary: str  # one line for the technique picker
    options_type: type
    run: RunFn

    @cached_property
    def explanation(self) -> str:
        """The Markdown explanation in assets/techniques/<name>.md: what it does, costs, comes from."""
        path = EXPLANATIONS / f"{self.name}.md"
        return path.read_text(encoding="utf-8") if path.is_file() else self.summary
