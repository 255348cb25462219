"""one home for hospital settings (reserved: the settings work fills it)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 06:40:00

Reserved on main before parallel work so branches never fork the Alembic chain; a no-op until
the branch that owns it fills it in.
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
