"""batch actions on a cohort: ``cohort_batches`` (issue 21 item 4, helper batch)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 18:30:00

One row per batch a staff member confirmed (``store/models_batches.py``): the filter, the
action, its progress counters and where its runner stopped, so a crashed batch goes on from
its cursor. The file keeps its reserved name so the chain's revision ids stay as reserved.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

UTC = carepath.store.models.UtcDateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cohort_batches",
        sa.Column("id", BigId, nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("staff_id", BigId, nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("request", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("content_version", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("cohort_filter", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("already", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.String(length=80), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=120), nullable=True),
        sa.Column("claimed_until", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_cohort_batches_hospital_id_hospitals")
        ),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_cohort_batches_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cohort_batches")),
        sa.UniqueConstraint("request", name=op.f("uq_cohort_batches_request")),
    )
    op.create_index("ix_cohort_batches_hospital", "cohort_batches", ["hospital_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_cohort_batches_hospital", table_name="cohort_batches")
    op.drop_table("cohort_batches")
