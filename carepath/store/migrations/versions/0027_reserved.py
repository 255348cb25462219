"""reserved for issue 21 batch actions (helper batch)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 18:30:00

Reserved on main so parallel work keeps one chain; the owner fills it in (or leaves it a no-op).
"""

from __future__ import annotations

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
