"""Add the memory store: worked solutions with their embeddings, per namespace.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "memories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("namespace", sa.String(length=100), nullable=False),
        sa.Column("question_key", sa.String(length=64), nullable=False),
        sa.Column("question_text", sa.Text(), nullable=False),
        sa.Column("trace", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("model_id", sa.String(length=255), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("question_id", sa.Integer(), nullable=True),
        sa.Column("embedding_model", sa.String(length=255), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("retrievals", sa.Integer(), nullable=False),
        sa.Column("last_retrieved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("source IN ('verified', 'marked')", name=op.f("ck_memories_source")),
        sa.CheckConstraint("retrievals >= 0", name=op.f("ck_memories_retrievals_non_negative")),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.id"], name=op.f("fk_memories_attempt_id_attempts")),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"], name=op.f("fk_memories_question_id_questions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memories")),
        sa.UniqueConstraint("namespace", "question_key", "answer", name="uq_memories_namespace_question_key"),
        # Attempts record the ids of the memories they used, so a deleted id must never be given again.
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_memories_namespace"), "memories", ["namespace"])
    op.create_index(op.f("ix_memories_question_key"), "memories", ["question_key"])
    op.create_index(op.f("ix_memories_attempt_id"), "memories", ["attempt_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_memories_attempt_id"), table_name="memories")
    op.drop_index(op.f("ix_memories_question_key"), table_name="memories")
    op.drop_index(op.f("ix_memories_namespace"), table_name="memories")
    op.drop_table("memories")
