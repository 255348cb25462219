"""the pipeline heartbeat: last sweep and last dispatch, for /healthz/pipeline

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 06:40:00

One row per scheduler job (``sweep``, ``dispatch``, ``escalate``): when it last ran, how much it
did and which scheduler ran it. Written once per job run (not per row), so that any process
(an API without a scheduler in the scale-out mode) can tell whether the pipeline moves.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_heartbeats",
        sa.Column("job", sa.String(length=40), nullable=False),
        sa.Column("ran_at", carepath.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("job", name=op.f("pk_pipeline_heartbeats")),
    )


def downgrade() -> None:
    op.drop_table("pipeline_heartbeats")
