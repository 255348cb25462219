"""reserved for issue 21 desk registration (helper desk)

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 18:30:00

Reserved on main so parallel work keeps one chain; the owner fills it in (or leaves it a no-op).
"""

from __future__ import annotations

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
