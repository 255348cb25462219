"""reserved for issue 22 (lead: in-flight rows of a dead worker)

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-07 21:50:00

Reserved on main so parallel work keeps one chain; the owner fills it in (or leaves it a no-op).
"""

from __future__ import annotations

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
