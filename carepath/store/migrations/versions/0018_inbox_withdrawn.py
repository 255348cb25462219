"""inbox withdrawn: a congratulation taken back from her inbox once a baby of hers is lost

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 12:35:00

``inbox_items.withdrawn_at`` and ``withdrawn_reason``: an item of celebrating content
(``celebrates: true``) filed before a baby of hers was lost leaves her inbox (her list and her
item page no longer show it); staff views show it withdrawn, with the reason
(``store/congratulations.py``). Both nullable: existing items stay as they were.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_items") as batch:
        batch.add_column(
            sa.Column("withdrawn_at", carepath.store.models.UtcDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("withdrawn_reason", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbox_items") as batch:
        batch.drop_column("withdrawn_reason")
        batch.drop_column("withdrawn_at")
