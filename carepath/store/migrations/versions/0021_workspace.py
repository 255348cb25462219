"""workspace: partial indexes of open staff tasks by team, assignee and claimer (issue 20 item 2)

The workspace (工作台) lists a staff member's open tasks: her teams', those assigned to her and
those she claimed. Each branch of that filter is served by an index over open tasks only
(``carepath/store/models_workspace.py``); done and cancelled tasks are never in them.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 15:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'open'")
INDEXES = {
    "ix_staff_tasks_open_team": "team_id",
    "ix_staff_tasks_open_assignee": "assignee_id",
    "ix_staff_tasks_open_claimer": "claimed_by",
}


def upgrade() -> None:
    for name, column in INDEXES.items():
        op.create_index(name, "staff_tasks", [column], postgresql_where=OPEN, sqlite_where=OPEN)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="staff_tasks")
