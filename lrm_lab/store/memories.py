"""Queries on the memory table: write, list, search vectors, count retrievals, delete and reset."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime, timezone

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from lrm_lab.store.records import MemoryRecord, MemoryVector, NamespaceRecord
from lrm_lab.store.tables import MEMORY_SOURCES, AttemptRow, MemoryRow
from lrm_lab.tasks.question import normalise_question

logger = logging.getLogger(__name__)


def question_key(text: str) -> str:
    """Return the hex SHA-256 of a question's text with case and runs of whitespace normalised."""
    return hashlib.sha256(normalise_question(text).encode("utf-8")).hexdigest()


class MemoryQueries:
    """The Store's memory methods; the Store class mixes them in and provides ``_sessions``."""

    _sessions: object

    def add_memory(
        self,
        *,
        namespace: str,
        question_text: str,
        trace: str,
        answer: str,
        source: str,
        model_id: str,
        attempt_id: int | None,
        question_id: int | None,
        embedding_model: str,
        embedding: bytes,
    ) -> tuple[int, bool]:
        """Insert a memory and return (id, True), or (id of the existing entry, False) for a duplicate.

        A duplicate is the same question text (normalised) with the same answer in the namespace.
        """
        if source not in MEMORY_SOURCES:
            raise ValueError(f"memory source must be one of {', '.join(MEMORY_SOURCES)}, got {source!r}")
        key = question_key(question_text)
        row = MemoryRow(
            namespace=namespace, question_key=key, question_text=question_text, trace=trace, answer=answer,
            source=source, model_id=model_id, attempt_id=attempt_id, question_id=question_id,
            embedding_model=embedding_model, embedding=embedding, retrievals=0,
        )
        with self._sessions() as session:
            session.add(row)
            try:
                session.commit()
                return row.id, True
            except IntegrityError:
                session.rollback()
                existing = session.scalar(select(MemoryRow.id).where(
                    MemoryRow.namespace == namespace, MemoryRow.question_key == key, MemoryRow.answer == answer))
                if existing is None:
                    raise
                return existing, False

    def get_memory(self, memory_id: int) -> MemoryRecord | None:
        with self._sessions() as session:
            row = session.get(MemoryRow, memory_id)
            return None if row is None else _memory_record(row)

    def list_memories(
        self, namespace: str, *, text: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[MemoryRecord]:
        """Return a namespace's memories, newest first; ``text`` keeps those whose question, answer or trace contains it."""
        statement = select(MemoryRow).where(MemoryRow.namespace == namespace)
        if text:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            statement = statement.where(or_(
                MemoryRow.question_text.ilike(pattern, escape="\\"),
                MemoryRow.answer.ilike(pattern, escape="\\"),
                MemoryRow.trace.ilike(pattern, escape="\\"),
            ))
        statement = statement.order_by(MemoryRow.id.desc()).limit(limit).offset(offset)
        with self._sessions() as session:
            return [_memory_record(row) for row in session.scalars(statement)]

    def get_memories(self, memory_ids: Iterable[int]) -> list[MemoryRecord]:
        """Return the memories with these ids, in the order given; missing ids are skipped."""
        ids = list(memory_ids)
        with self._sessions() as session:
            rows = {row.id: row for row in session.scalars(select(MemoryRow).where(MemoryRow.id.in_(ids)))}
        return [_memory_record(rows[memory_id]) for memory_id in ids if memory_id in rows]

    def memory_vectors(self, namespace: str, embedding_model: str) -> list[MemoryVector]:
        """Return the id, question key and embedding of each memory in the namespace made by ``embedding_model``."""
        statement = select(MemoryRow.id, MemoryRow.question_key, MemoryRow.embedding).where(
            MemoryRow.namespace == namespace, MemoryRow.embedding_model == embedding_model
        ).order_by(MemoryRow.id)
        with self._sessions() as session:
            return [MemoryVector(id, key, embedding) for id, key, embedding in session.execute(statement)]

    def count_retrievals(self, memory_ids: Iterable[int]) -> None:
        """Add one to the retrieval count of each memory and set its last retrieval time."""
        ids = list(memory_ids)
        if not ids:
            return
        statement = (update(MemoryRow).where(MemoryRow.id.in_(ids))
                     .values(retrievals=MemoryRow.retrievals + 1, last_retrieved_at=datetime.now(timezone.utc)))
        with self._sessions() as session:
            session.execute(statement)
            session.commit()

    def delete_memory(self, memory_id: int) -> bool:
        """Delete one memory; return False when there was none with this id."""
        with self._sessions() as session:
            deleted = session.execute(delete(MemoryRow).where(MemoryRow.id == memory_id)).rowcount
            session.commit()
        if deleted:
            logger.info("deleted memory %s", memory_id)
        return bool(deleted)

    def reset_namespace(self, namespace: str) -> int:
        """Delete every memory of a namespace and return how many there were."""
        with self._sessions() as session:
            deleted = session.execute(delete(MemoryRow).where(MemoryRow.namespace == namespace)).rowcount
            session.commit()
        logger.info("reset memory namespace %r: %d entries deleted", namespace, deleted)
        return deleted

    def count_memories(self, namespace: str) -> int:
        with self._sessions() as session:
            return session.scalar(select(func.count(MemoryRow.id)).where(MemoryRow.namespace == namespace)) or 0

    def list_namespaces(self) -> list[NamespaceRecord]:
        """Return every namespace that has memories, with its entry and retrieval counts, by name."""
        statement = (select(MemoryRow.namespace, func.count(MemoryRow.id), func.coalesce(func.sum(MemoryRow.retrievals), 0))
                     .group_by(MemoryRow.namespace).order_by(MemoryRow.namespace))
        with self._sessions() as session:
            return [NamespaceRecord(name, count, int(total)) for name, count, total in session.execute(statement)]

    def memories_of_attempt(self, attempt_id: int) -> list[MemoryRecord]:
        """Return the memories written from one attempt, in any namespace."""
        with self._sessions() as session:
            statement = select(MemoryRow).where(MemoryRow.attempt_id == attempt_id).order_by(MemoryRow.id)
            return [_memory_record(row) for row in session.scalars(statement)]

    def attempt_exists(self, attempt_id: int) -> bool:
        with self._sessions() as session:
            return session.get(AttemptRow, attempt_id) is not None


def _memory_record(row: MemoryRow) -> MemoryRecord:
    return MemoryRecord(
        id=row.id, created_at=row.created_at, namespace=row.namespace, question_text=row.question_text,
        trace=row.trace, answer=row.answer, source=row.source, model_id=row.model_id, attempt_id=row.attempt_id,
        question_id=row.question_id, embedding_model=row.embedding_model, retrievals=row.retrievals,
        last_retrieved_at=row.last_retrieved_at,
    )
