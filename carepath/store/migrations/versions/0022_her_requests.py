"""her requests: reserved (a no-op until the issue that owns it fills it)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 15:25:00
"""

from __future__ import annotations

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
