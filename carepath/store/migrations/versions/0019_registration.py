"""reserved: her registration (issue 18: registration and proof of identity)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 12:35:00

Numbers are reserved on main before parallel work starts, so that branches never fork the chain.
A reserved revision that its work did not need stays a no-op.
"""

from __future__ import annotations

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
