"""login lockout per username and address, the per-username ceiling

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 06:40:00

Failed logins lock a username from one address for a while, and lock the account itself once
they reach a ceiling from any address: ``staff.locked_at`` and ``locked_reason`` hold that lock
until an admin unlocks it, and ``login_throttle.held_at`` holds it for the username (so an
unknown username is answered the same way). Nothing needs converting: an existing ``user:`` row
becomes the username's count towards the ceiling, and a lock already in it passes as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UTC = carepath.store.models.UtcDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("locked_reason", sa.String(length=200), nullable=True))
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_at", UTC, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.drop_column("held_at")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_column("locked_reason")
        batch_op.drop_column("locked_at")
