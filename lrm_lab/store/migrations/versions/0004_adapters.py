"""Add the adapters table: trained adapters, such as GFlowNet samplers, saved in folders.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "adapters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("family", sa.String(length=64), nullable=True),
        sa.Column("base_model_id", sa.String(length=500), nullable=False),
        sa.Column("base_model_revision", sa.String(length=200), nullable=True),
        sa.Column("base_model_name", sa.String(length=200), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("steps_done", sa.Integer(), nullable=False),
        sa.Column("curves", sa.JSON(), nullable=False),
        sa.Column("train_seconds", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('gflownet')", name=op.f("ck_adapters_kind")),
        sa.CheckConstraint(
            "status IN ('training', 'finished', 'stopped', 'failed')",
            name=op.f("ck_adapters_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adapters")),
        sa.UniqueConstraint("name", name=op.f("uq_adapters_name")),
    )
    op.create_index(
        op.f("ix_adapters_kind_family_base_model_id"), "adapters", ["kind", "family", "base_model_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_adapters_kind_family_base_model_id"), table_name="adapters")
    op.drop_table("adapters")
