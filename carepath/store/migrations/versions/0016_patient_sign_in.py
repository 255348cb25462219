"""reserved: her sign-in (issue 18: patient sessions, one-time SMS codes, WeChat web authorisation)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 12:35:00

Numbers are reserved on main before parallel work starts, so that branches never fork the chain.
A reserved revision that its work did not need stays a no-op.
"""

from __future__ import annotations

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
