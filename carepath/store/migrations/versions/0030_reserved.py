"""reserved for issue 21 high-risk register (helper register)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 18:30:00

Reserved on main so parallel work keeps one chain; the owner fills it in (or leaves it a no-op).
"""

from __future__ import annotations

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
