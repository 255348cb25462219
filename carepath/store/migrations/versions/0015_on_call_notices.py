"""reserved: the on-call notice of an urgent staff task (issue 17, on-call routing)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 12:35:00

Numbers are reserved on main before parallel work starts, so that branches never fork the chain.
A reserved revision that its work did not need stays a no-op.
"""

from __future__ import annotations

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
