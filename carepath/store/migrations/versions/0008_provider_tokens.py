"""the provider access-token store in the database (shared by every dispatcher process)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 23:45:00

One row per provider account (``wechat:token:<appid>``): the cached token, its expiry, and the
row lock that serialises refreshes across processes (``DatabaseTokenStore``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_tokens",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("expires_at", carepath.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", carepath.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_provider_tokens")),
    )


def downgrade() -> None:
    op.drop_table("provider_tokens")
