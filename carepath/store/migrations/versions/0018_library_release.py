"""reserved: the built-in library's corrections (issue 17)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 12:35:00

Numbers are reserved on main before parallel work starts, so that branches never fork the chain.
A reserved revision that its work did not need stays a no-op.
"""

from __future__ import annotations

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
