"""reserved: where she came from (issue 18: sources, their QR codes and counts)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 12:35:00

Numbers are reserved on main before parallel work starts, so that branches never fork the chain.
A reserved revision that its work did not need stays a no-op.
"""

from __future__ import annotations

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
