"""reserved for issue 22 (helper sweep)

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 18:30:00

Reserved on main so parallel work keeps one chain; the owner fills it in (or leaves it a no-op).
"""

from __future__ import annotations

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
