"""Add the recipe and benchmark item of each attempt.

A benchmark run stores each (question, recipe, repeat) item once. The unique (run_id, item)
pair lets a resumed run skip finished items and makes a second insert of one item fail.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode copies the table on SQLite, which cannot add a constraint to an existing table.
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("recipe", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("item", sa.String(length=64), nullable=True))
        batch.create_index(batch.f("ix_attempts_recipe"), ["recipe"])
        batch.create_unique_constraint(batch.f("uq_attempts_run_id_item"), ["run_id", "item"])


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_constraint(batch.f("uq_attempts_run_id_item"), type_="unique")
        batch.drop_index(batch.f("ix_attempts_recipe"))
        batch.drop_column("item")
        batch.drop_column("recipe")
