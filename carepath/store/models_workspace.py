"""The workspace's indexes (issue 20 item 2, migration 0021): no table of its own.

The workspace lists a staff member's *open* tasks: those of her teams, those assigned to her
and those she claimed. Done and cancelled tasks pile up for ever, open ones stay few, so each
branch of that filter has a partial index over open tasks only (PostgreSQL and SQLite both
have them); ``store/workspace.py`` sorts the few hundred rows found (docs/workspace.md).
"""

from __future__ import annotations

from sqlalchemy import Index, text

from carepath.store.models import StaffTask

OPEN = text("status = 'open'")

OPEN_BY_TEAM = Index("ix_staff_tasks_open_team", StaffTask.team_id, postgresql_where=OPEN, sqlite_where=OPEN)
OPEN_BY_ASSIGNEE = Index(
    "ix_staff_tasks_open_assignee", StaffTask.assignee_id, postgresql_where=OPEN, sqlite_where=OPEN
)
OPEN_BY_CLAIMER = Index(
    "ix_staff_tasks_open_claimer", StaffTask.claimed_by, postgresql_where=OPEN, sqlite_where=OPEN
)
