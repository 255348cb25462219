"""staff task work (claim, outcome, escalation) and the scheduler lease

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 23:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", carepath.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", carepath.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_leases")),
    )
    with op.batch_alter_table("staff_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("form", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("script", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=120), nullable=True))
        batch_op.add_column(
            sa.Column("claimed_at", carepath.store.models.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("outcome", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("outcome_answers", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("done_at", carepath.store.models.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("escalated_at", carepath.store.models.UtcDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_tasks", schema=None) as batch_op:
        for column in (
            "escalated_at",
            "done_at",
            "outcome_answers",
            "outcome",
            "claimed_at",
            "claimed_by",
            "script",
            "form",
        ):
            batch_op.drop_column(column)
    op.drop_table("scheduler_leases")
