"""the pipeline heartbeat: last sweep and last dispatch, for /healthz/pipeline (reserved)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 06:40:00

Reserved on main before parallel work so branches never fork the Alembic chain; a no-op until
the branch that owns it fills it in.
"""

from __future__ import annotations

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
