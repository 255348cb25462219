"""the on-call notice of an urgent staff task (issue 17, on-call routing)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 12:35:00

An urgent staff task created outside the hospital's working hours goes to the on-call contact
on the roster (SMS or webhook) with a one-time link; unacknowledged by the task's due time, to
the next on the roster, then the team lead. One row per person notified (``models_on_call.py``):
unique per (task, step) and (task, phone), the link's token stored only as its SHA-256.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = carepath.store.models.UtcDateTime(timezone=True)
    op.create_table(
        "on_call_notices",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("expires_at", when, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("provider_message_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.Column("in_flight_at", when, nullable=True),
        sa.Column("sent_at", when, nullable=True),
        sa.Column("opened_at", when, nullable=True),
        sa.Column("opened_by", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_on_call_notices_hospital_id_hospitals")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["staff_tasks.id"], name=op.f("fk_on_call_notices_task_id_staff_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_on_call_notices")),
        sa.UniqueConstraint("task_id", "phone", name=op.f("uq_on_call_notices_task_phone")),
        sa.UniqueConstraint("task_id", "step", name=op.f("uq_on_call_notices_task_step")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_on_call_notices_token_hash")),
    )
    with op.batch_alter_table("on_call_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_on_call_notices_hospital_id"), ["hospital_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_on_call_notices_task_id"), ["task_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("on_call_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_on_call_notices_task_id"))
        batch_op.drop_index(batch_op.f("ix_on_call_notices_hospital_id"))
    op.drop_table("on_call_notices")
