"""The lab's memory: write verified solutions, search them by similarity, and manage namespaces.

A memory is written after an attempt's verdict: when it is verified correct (automatically, in a
run with memory writes on) or when a user marks an unverified answer right. Wrong answers are never
written, and neither is a reference answer: the stored answer is the one the model gave.

Namespaces keep memories apart. By default each model has its own, "model:<model id>"; a workshop
can name a shared one.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrm_lab.errors import InputError
from lrm_lab.models.embedder import Embedder, from_bytes, to_bytes
from lrm_lab.store import AttemptRecord, MemoryRecord, Store, question_key
from lrm_lab.tasks.verdict import Verdict
from lrm_lab.techniques import MemoryHit

log = logging.getLogger(__name__)

MAX_NAMESPACE_CHARS = 100
_NAMESPACE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:/@-]*")
MAX_LISTED = 1000

_shared_embedder: Embedder | None = None


def shared_embedder() -> Embedder:
    """Return the process's embedder, created on first use; like the model, one per process."""
    global _shared_embedder
    if _shared_embedder is None:
        _shared_embedder = Embedder()
    return _shared_embedder


@dataclass(frozen=True)
class MemorySettings:
    """A run's memory settings: the namespace it reads and writes, and whether it writes."""

    namespace: str | None = None  # None: the model's own namespace
    writes: bool = True

    def resolve(self, model_id: str) -> str:
        """Return the namespace to use with ``model_id``, checked."""
        return check_namespace(self.namespace) if self.namespace else default_namespace(model_id)


def default_namespace(model_id: str) -> str:
    """Return the model's own namespace, "model:<model id>", cut to the maximum length."""
    return f"model:{model_id}"[:MAX_NAMESPACE_CHARS]


def check_namespace(name: str | None) -> str:
    """Return the stripped namespace name, or raise InputError saying which characters are allowed."""
    name = (name or "").strip()
    if not name:
        raise InputError("The memory namespace is empty. Leave it unset to use the model's own namespace.")
    if len(name) > MAX_NAMESPACE_CHARS:
        raise InputError(f"The memory namespace is {len(name)} characters long; the maximum is {MAX_NAMESPACE_CHARS}.")
    if not _NAMESPACE_PATTERN.fullmatch(name):
        raise InputError(
            f"The memory namespace {name!r} is invalid: start with a letter or digit and use only letters, "
            "digits, spaces and . _ : / @ -"
        )
    return name


class MemoryBank:
    """One namespace of the memory store, searched by embedding similarity. The memory stage's MemorySource."""

    def __init__(self, store: Store, namespace: str, embedder: Embedder | None = None) -> None:
        self.store = store
        self.namespace = check_namespace(namespace)
        self.embedder = embedder or shared_embedder()

    def search(self, text: str, k: int, threshold: float, exclude_same_question: bool) -> list[MemoryHit]:
        """Return up to k memories with cosine similarity >= threshold, most similar first, and count their retrieval."""
        hits = self.nearest(text, k, threshold, exclude_same_question)
        self.store.count_retrievals(hit.id for hit in hits)
        log.info("memory %r: %d of k=%d retrieved for %r", self.namespace, len(hits), k, text[:60])
        return hits

    def nearest(self, text: str, k: int, threshold: float = -1.0, exclude_same_question: bool = False) -> list[MemoryHit]:
        """Return the k most similar memories above the threshold, without counting a retrieval."""
        vectors = self.store.memory_vectors(self.namespace, self.embedder.name)
        if exclude_same_question:
            own = question_key(text)
            vectors = [vector for vector in vectors if vector.question_key != own]
        if not vectors:
            return []

        # Cosine similarity of unit vectors: one dot product per memory.
        query = self.embedder.encode([text])[0]  # (384,)
        matrix = np.stack([from_bytes(vector.embedding) for vector in vectors])  # (M, 384)
        similarities = matrix @ query  # (M,)

        # The k highest at or above the threshold; ties go to the older memory.
        order = np.argsort(-similarities, kind="stable")[:k]
        chosen = [(vectors[i].id, float(similarities[i])) for i in order if similarities[i] >= threshold]
        records = {record.id: record for record in self.store.get_memories(memory_id for memory_id, _ in chosen)}
        return [_hit(records[memory_id], similarity) for memory_id, similarity in chosen if memory_id in records]

    def remember(self, attempt: AttemptRecord, source: str = "verified") -> tuple[int, bool]:
        """Write an attempt's question, trace and answer as a memory; return (memory id, whether it is new).

        NOTE: only the extracted final answer was verified; the trace is stored as written, and can
        contain wrong steps that later prompts show as a worked example.
        """
        if attempt.answer is None:
            raise InputError(f"Attempt {attempt.id} has no extracted answer, so there is no solution to remember.")
        text = attempt.question.text
        memory_id, created = self.store.add_memory(
            namespace=self.namespace,
            question_text=text,
            trace=attempt.trace,
            answer=attempt.answer,
            source=source,
            model_id=attempt.model_id,
            attempt_id=attempt.id,
            question_id=attempt.question_id,
            embedding_model=self.embedder.name,
            embedding=to_bytes(self.embedder.encode([text])[0]),
        )
        log.info("memory %r: attempt %s %s as memory %s", self.namespace, attempt.id,
                 "written" if created else "already stored", memory_id)
        return memory_id, created


def remember_if_verified(bank: MemoryBank, attempt_id: int) -> tuple[int, bool] | None:
    """Write the attempt to memory when its verdict is correct.

    Returns (memory id, whether the memory is new), or None for an attempt that is not correct.
    A memory is not new when the namespace already held this question with this answer.
    """
    attempt = bank.store.get_attempt(attempt_id)
    if attempt is None or attempt.verdict != Verdict.CORRECT or attempt.answer is None:
        return None
    return bank.remember(attempt, "verified")


def mark_right(store: Store, attempt_id: int, namespace: str | None = None) -> dict[str, Any]:
    """Write an unverified attempt to memory because a user marked its answer right.

    Only unverified answers can be marked: a correct one is written when verified, and a wrong
    or unparsed one was checked against the reference. The attempt's own verdict stays
    "unverified"; the memory records that a user marked it. Returns the memory as JSON.
    """
    attempt = store.get_attempt(attempt_id)
    if attempt is None:
        raise InputError(f"No attempt with id {attempt_id}.")
    if attempt.verdict != Verdict.UNVERIFIED:
        raise InputError(
            f"Attempt {attempt_id} has verdict {attempt.verdict}; only unverified answers can be marked right. "
            "Correct answers are remembered when they are verified."
        )
    if attempt.answer is None:
        raise InputError(f"Attempt {attempt_id} has no extracted answer to mark right.")
    bank = MemoryBank(store, namespace or default_namespace(attempt.model_id))
    memory_id, created = bank.remember(attempt, "marked")
    return memory_json(store.get_memory(memory_id)) | {"created": created}


def memory_json(record: MemoryRecord) -> dict[str, Any]:
    """Return a memory as plain JSON: every column except the embedding."""
    return {
        "id": record.id,
        "created_at": record.created_at.isoformat(),
        "namespace": record.namespace,
        "question": record.question_text,
        "trace": record.trace,
        "answer": record.answer,
        "source": record.source,
        "model_id": record.model_id,
        "attempt_id": record.attempt_id,
        "question_id": record.question_id,
        "embedding_model": record.embedding_model,
        "retrievals": record.retrievals,
        "last_retrieved_at": record.last_retrieved_at.isoformat() if record.last_retrieved_at else None,
    }


def export_memories(store: Store, namespace: str) -> str:
    """Return every memory of the namespace as JSONL, oldest first, one memory per line."""
    records = []
    offset = 0
    while batch := store.list_memories(check_namespace(namespace), limit=MAX_LISTED, offset=offset):
        records.extend(batch)
        offset += len(batch)
    return "".join(json.dumps(memory_json(record), ensure_ascii=False) + "\n" for record in reversed(records))


def _hit(record: MemoryRecord, similarity: float) -> MemoryHit:
    return MemoryHit(record.id, similarity, record.question_text, record.trace, record.answer, record.source,
                     record.attempt_id)
