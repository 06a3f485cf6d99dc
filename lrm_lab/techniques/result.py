"""The result type every technique returns, and the context it runs in."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lrm_lab.models.base import ModelBackend, ModelInfo
from lrm_lab.tasks.verdict import Verdict
from lrm_lab.techniques.prompts import WorkedExample


@dataclass
class TechniqueResult:
    """One technique's answer to one question: the same fields for every technique."""

    technique: str
    trace: str  # the reasoning shown to the user (for search: the chosen candidate's text)
    answer: str | None
    verdict: Verdict
    score: float | None
    completion_tokens: int  # every generated token the technique spent, all candidates included
    seconds: float
    extractor_version: str
    details: dict[str, Any] = field(default_factory=dict)  # technique-specific, JSON-serialisable
    error: str | None = None


@dataclass(frozen=True)
class Progress:
    """A live update from a running technique."""

    trace: str  # text so far of the stream being shown
    fraction: float  # 0..1 of this technique's work
    message: str = ""
    candidates: tuple[str, ...] = ()  # partial text of each sample while a batch is generated


@dataclass
class RunContext:
    """The inputs of a technique besides the question: the model, a seed, a cancel flag, a progress sink.

    ``examples`` are worked examples that a context stage (memory) adds to the prompt; decoding
    techniques put them before the question. ``memory`` is where the memory stage searches,
    or None when the caller provides no memory.
    """

    model: ModelBackend
    seed: int | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    report: Callable[[Progress], None] = lambda progress: None
    examples: tuple[WorkedExample, ...] = ()
    memory: MemorySource | None = None
    adapters: AdapterSource | None = None


@dataclass(frozen=True)
class MemoryHit:
    """A remembered solution found for a question, with its cosine similarity to it."""

    id: int
    similarity: float
    question: str
    trace: str
    answer: str
    source: str  # "verified" or "marked" (marked right by a user)
    attempt_id: int | None  # the stored attempt the solution came from


class MemorySource(Protocol):
    """A memory namespace that the memory stage can search."""

    namespace: str

    def search(self, text: str, k: int, threshold: float, exclude_same_question: bool) -> list[MemoryHit]:
        """Return up to k memories with similarity >= threshold, most similar first.

        With exclude_same_question, memories written from a question with the same text are skipped.
        """


@dataclass(frozen=True)
class AdapterChoice:
    """A trained adapter a technique may switch on: its name, folder and training settings."""

    name: str
    folder: str
    family: str | None
    settings: dict[str, Any]
    steps_done: int


class AdapterSource(Protocol):
    """The stored adapters (the adapters table) that adaptation techniques look up."""

    def find(self, kind: str, name: str | None, family: str | None, model: ModelInfo) -> AdapterChoice:
        """Return the adapter called ``name``, or else the newest finished one for the family and model.

        Raises InputError, saying what to train or pick, when there is none, or when the named
        one was trained on another base model.
        """
