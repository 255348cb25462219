"""held unapproved content and the content version each outbox row sent

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 06:40:00

A due row whose content item or form no reviewer approved is held (status ``held``, reason
``unapproved-content``; a status, so no schema change) until it is approved.
``outbox.content_version``: the SHA-256 of the text of the content item (else the form) that
was filed in her inbox and announced externally. Rows sent before this stay NULL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_version", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("content_version")
