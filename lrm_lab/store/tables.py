"""SQLAlchemy ORM models of the lab's database: runs, questions, attempts, memories and adapters.

The schema itself is created and changed by the Alembic migrations in ``migrations/versions``.
Any change here needs a new migration, and ``tests/store/test_migrations.py`` fails until the
two agree. To draft one from the difference against an up-to-date database, run
``alembic.command.revision(alembic_config(url), message=..., autogenerate=True)`` with
``alembic_config`` from ``lrm_lab.store.database``, then review the generated file.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

RUN_KINDS = ("compare", "benchmark")
RUN_STATUSES = ("running", "finished", "cancelled", "failed")
QUESTION_SOURCES = ("reasoning_gym", "typed")
ADAPTER_KINDS = ("gflownet",)
ADAPTER_STATUSES = ("training", "finished", "stopped", "failed")

# Fixed constraint names, so that later migrations can refer to constraints by name.
# SQLite needs the names to alter a table in Alembic's batch mode.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored in UTC and always read back with tzinfo=UTC.

    SQLite has no timezone type, so SQLAlchemy stores its datetimes without an offset and
    reads them back naive. This type converts to UTC before storing and attaches UTC when
    reading, so both SQLite and PostgreSQL return the same aware values.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} is invalid: pass a timezone-aware datetime")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class RunRow(Base):
    """One comparison or benchmark: the model, the hardware and the options it ran with."""

    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{status}'" for status in RUN_STATUSES) + ")",
            name="status",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    model_id: Mapped[str] = mapped_column(String(255))
    model_revision: Mapped[str | None] = mapped_column(String(255))
    device: Mapped[str] = mapped_column(String(64))
    dtype: Mapped[str] = mapped_column(String(32))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed: Mapped[int | None] = mapped_column(Integer)
    package_versions: Mapped[dict[str, Any]] = mapped_column(JSON)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    attempts: Mapped[list[AttemptRow]] = relationship(back_populates="run")


class QuestionRow(Base):
    """A question as asked, stored once per content hash however many attempts use it."""

    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    source: Mapped[str] = mapped_column(String(32))
    family: Mapped[str | None] = mapped_column(String(128))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(Text)
    # none_as_null stores Python None as SQL NULL rather than the JSON literal null.
    entry: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    answer_kind: Mapped[str] = mapped_column(String(32))
    # Hex SHA-256 of the canonical JSON of source, family, settings, seed, text and reference.
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)

    attempts: Mapped[list[AttemptRow]] = relationship(back_populates="question")


class AttemptRow(Base):
    """One technique run on one question: the full trace, the extracted answer and its verdict."""

    __tablename__ = "attempts"
    __table_args__ = (
        CheckConstraint("completion_tokens >= 0", name="completion_tokens_non_negative"),
        CheckConstraint("seconds >= 0", name="seconds_non_negative"),
        # A benchmark stores each of its items once; comparisons leave item NULL.
        UniqueConstraint("run_id", "item", name="uq_attempts_run_id_item"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"), index=True)
    technique: Mapped[str] = mapped_column(String(64), index=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed: Mapped[int | None] = mapped_column(Integer)
    model_id: Mapped[str] = mapped_column(String(255), index=True)
    trace: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    verdict: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float)
    extractor_version: Mapped[str] = mapped_column(String(64))
    completion_tokens: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    # The recipe label, such as "search(n=8)"; None for attempts stored before recipes existed.
    recipe: Mapped[str | None] = mapped_column(String(255), index=True)
    # A benchmark's work item "q<question>/r<recipe>/k<repeat>" (indexes into the run's settings).
    item: Mapped[str | None] = mapped_column(String(64))

    run: Mapped[RunRow] = relationship(back_populates="attempts")
    question: Mapped[QuestionRow] = relationship(back_populates="attempts")


MEMORY_SOURCES = ("verified", "marked")  # checked against the reference, or marked right by a user


class MemoryRow(Base):
    """A worked solution the lab remembers: a question, the trace that solved it and its embedding.

    A memory is written only from a stored attempt whose answer was verified correct, or that a
    user marked right, so a reference answer never reaches memory on its own.
    """

    __tablename__ = "memories"
    __table_args__ = (
        CheckConstraint("source IN (" + ", ".join(f"'{source}'" for source in MEMORY_SOURCES) + ")", name="source"),
        CheckConstraint("retrievals >= 0", name="retrievals_non_negative"),
        # One entry per solved question and answer in a namespace; a second solve adds nothing.
        UniqueConstraint("namespace", "question_key", "answer", name="uq_memories_namespace_question_key"),
        # Attempts record the ids of the memories they used, so a deleted id must never be given again.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    namespace: Mapped[str] = mapped_column(String(100), index=True)
    # Hex SHA-256 of the question text with case and whitespace normalised, so clean mode can
    # skip the memories of the question being answered.
    question_key: Mapped[str] = mapped_column(String(64), index=True)
    question_text: Mapped[str] = mapped_column(Text)
    trace: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    model_id: Mapped[str] = mapped_column(String(255))
    # The attempt the solution came from; deleting memories never deletes attempts.
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id"), index=True)
    question_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id"))
    embedding_model: Mapped[str] = mapped_column(String(255))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # float32 vector, unit length
    retrievals: Mapped[int] = mapped_column(Integer, default=0)
    last_retrieved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AdapterRow(Base):
    """A trained adapter saved in a folder: the base model it fits, its training settings and curves.

    The row describes the files at ``path``, and deleting the row leaves the folder alone.
    """

    __tablename__ = "adapters"
    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{kind}'" for kind in ADAPTER_KINDS) + ")", name="kind"),
        CheckConstraint("status IN (" + ", ".join(f"'{status}'" for status in ADAPTER_STATUSES) + ")", name="status"),
        # The lookup of the newest adapter for a task family and base model.
        Index("ix_adapters_kind_family_base_model_id", "kind", "family", "base_model_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Unique and safe as a folder name, such as "gflownet-basic_arithmetic-20261205-0712".
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    family: Mapped[str | None] = mapped_column(String(64))  # the reasoning-gym family it was trained on
    base_model_id: Mapped[str] = mapped_column(String(500))  # ModelInfo.model_id: "embedded" or a hub id
    base_model_revision: Mapped[str | None] = mapped_column(String(200))
    base_model_name: Mapped[str] = mapped_column(String(200))  # display name
    path: Mapped[str] = mapped_column(String(1000))  # the folder that contains the adapter's files
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    steps_done: Mapped[int] = mapped_column(Integer, default=0)
    # One list of floats per metric, one value per training step, such as {"loss": [...], "log_z": [...]}.
    curves: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    train_seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
