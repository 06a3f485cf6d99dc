"""Plain read-only records that the store's queries return, so no ORM object leaves the package.

Datetimes are timezone-aware UTC. JSON fields contain what the store wrote after converting to
plain JSON: tuples come back as lists, sets as sorted lists and other objects as strings.
This module also checks adapter names, so that callers can validate a name without SQLAlchemy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lrm_lab.errors import InputError

ADAPTER_NAME_MAX_LENGTH = 120  # the maximum length of adapters.name
ADAPTER_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class RunRecord:
    """One run: the model, the hardware and the options it ran with."""

    id: int
    kind: str
    status: str
    created_at: datetime
    model_id: str
    model_revision: str | None
    device: str
    dtype: str
    settings: dict[str, Any]
    seed: int | None
    package_versions: dict[str, Any]
    finished_at: datetime | None  # None while the run is still running


@dataclass(frozen=True)
class QuestionRecord:
    """One stored question."""

    id: int
    source: str
    family: str | None
    settings: dict[str, Any]
    seed: int | None
    text: str
    reference: str | None
    answer_kind: str
    entry: dict[str, Any] | None


@dataclass(frozen=True)
class AttemptSummary:
    """One row of the attempts list, without the trace or the technique's details."""

    id: int
    created_at: datetime
    run_id: int
    model_id: str
    technique: str
    recipe: str | None
    family: str | None
    question_text: str  # the first 120 characters of the question
    answer: str | None
    verdict: str
    completion_tokens: int
    seconds: float
    item: str | None = None  # benchmark work item; None in a comparison
    # Whether any sample was correct (search's details["any_correct"], graded with the reference after
    # the fact); None for techniques that store no such flag.
    any_correct: bool | None = None


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt with every stored column, its question and its run."""

    id: int
    created_at: datetime
    run_id: int
    question_id: int
    technique: str
    options: dict[str, Any]
    seed: int | None
    model_id: str
    trace: str
    answer: str | None
    verdict: str
    score: float | None
    extractor_version: str
    completion_tokens: int
    seconds: float
    details: dict[str, Any]
    error: str | None
    recipe: str | None  # recipe label, such as "search(n=8)"
    item: str | None  # benchmark work item "q<question>/r<recipe>/k<repeat>"; None in a comparison
    question: QuestionRecord
    run: RunRecord


@dataclass(frozen=True)
class CostRecord:
    """Mean cost of the stored attempts of one recipe on one model and device."""

    attempts: int
    mean_seconds: float | None
    mean_tokens: float | None


@dataclass(frozen=True)
class MemoryRecord:
    """One remembered solution, without its embedding."""

    id: int
    created_at: datetime
    namespace: str
    question_text: str
    trace: str
    answer: str
    source: str  # "verified" (checked against the reference) or "marked" (marked right by a user)
    model_id: str
    attempt_id: int | None
    question_id: int | None
    embedding_model: str
    retrievals: int
    last_retrieved_at: datetime | None


@dataclass(frozen=True)
class MemoryVector:
    """A memory's id, question key and embedding, the columns a similarity search reads."""

    id: int
    question_key: str
    embedding: bytes  # float32, unit length


@dataclass(frozen=True)
class NamespaceRecord:
    """A memory namespace and how many entries it holds."""

    namespace: str
    entries: int
    retrievals: int


@dataclass(frozen=True)
class AdapterRecord:
    """One trained adapter: its base model, training settings, progress and the folder of its files."""

    id: int
    name: str
    kind: str
    family: str | None  # the reasoning-gym family it was trained on
    base_model_id: str  # ModelInfo.model_id: "embedded" or a hub id
    base_model_revision: str | None
    base_model_name: str
    path: str  # the folder that contains the adapter's files
    settings: dict[str, Any]
    status: str  # "training", "finished", "stopped" or "failed"
    steps_done: int
    curves: dict[str, Any]  # one list of values per metric, one value per step
    train_seconds: float | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None  # None while the adapter is still training


def check_adapter_name(name: str) -> str:
    """Return ``name`` without surrounding whitespace, or raise InputError if it cannot be an adapter name.

    Adapter names become folder names, so a valid name has 1 to 120 characters, uses only ASCII
    letters, digits, "-", "_" and ".", and does not start with ".", which also rules out "." and "..".
    """
    if not isinstance(name, str):
        raise InputError(f"The adapter name must be text, got {name!r}.")
    stripped = name.strip()
    if not stripped:
        raise InputError("The adapter name is empty: type a name such as gflownet-basic_arithmetic-1.")
    if len(stripped) > ADAPTER_NAME_MAX_LENGTH:
        raise InputError(
            f"The adapter name {stripped[:40]!r}... has {len(stripped)} characters, more than the "
            f"maximum of {ADAPTER_NAME_MAX_LENGTH}: choose a shorter name."
        )
    if not ADAPTER_NAME_PATTERN.fullmatch(stripped):
        invalid = sorted({character for character in stripped if not ADAPTER_NAME_PATTERN.fullmatch(character)})
        raise InputError(
            f"The adapter name {stripped!r} contains invalid characters {''.join(invalid)!r}: "
            'use only ASCII letters, digits, "-", "_" and ".".'
        )
    if stripped.startswith("."):
        raise InputError(
            f"The adapter name {stripped!r} starts with \".\", which would make a hidden or special folder: "
            "start it with a letter or digit."
        )
    return stripped
