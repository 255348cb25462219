"""delivery receipts and read marks

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 23:45:00

Per outbox row: the provider's delivery report (status, its own words, when) and her read mark,
with an index for the callback's lookup by provider message id; per channel binding: whether
she blocked the account (the policy then falls back).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _utc(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, carepath.store.models.UtcDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("receipt_status", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("receipt_detail", sa.String(length=200), nullable=True))
        batch_op.add_column(_utc("receipt_at"))
        batch_op.add_column(_utc("delivered_at"))
        batch_op.add_column(_utc("read_at"))
        batch_op.create_index(
            "ix_outbox_provider_message", ["hospital_id", "channel", "provider_message_id"], unique=False
        )
    with op.batch_alter_table("channel_bindings", schema=None) as batch_op:
        batch_op.add_column(_utc("blocked_at"))


def downgrade() -> None:
    with op.batch_alter_table("channel_bindings", schema=None) as batch_op:
        batch_op.drop_column("blocked_at")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_provider_message")
        for column in ("read_at", "delivered_at", "receipt_at", "receipt_detail", "receipt_status"):
            batch_op.drop_column(column)
