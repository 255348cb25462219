"""signed request nonces kept for their window

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 06:40:00

One row per (API key, ``X-Carepath-Nonce``) of a verified request, until the request's
timestamp has left the replay window: inserting a row that exists is the replay check
(``store/nonces.py``). Rows past ``expires_at`` are purged a page at a time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_nonces",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", carepath.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "nonce", name=op.f("pk_request_nonces")),
    )
    op.create_index(op.f("ix_request_nonces_expires_at"), "request_nonces", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_request_nonces_expires_at"), table_name="request_nonces")
    op.drop_table("request_nonces")
