"""the provider access-token store in the database (shared by every dispatcher process)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 23:45:00

A placeholder in the chain, filled in by the change that needs it (the numbers are reserved so
that work in parallel branches does not fork the chain).
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
