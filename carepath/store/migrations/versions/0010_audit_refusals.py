"""refused attempts in the audit log, counted per actor, target and minute

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 06:40:00

``audit_log.count``: how many attempts a row stands for (1 for every ordinary row).
``audit_log.fold_key``: set only on rows that fold repeated refusals (action, actor, target
kind, minute), unique so that two processes counting the same minute add to one row through
``INSERT ... ON CONFLICT DO UPDATE`` on both databases. A unique *index*, not a constraint, so
SQLite adds it without copying the audit log.

The signed staff API now checks the acting staff member's permission roles. Staff added with
``carepath staff add`` before it carry a job (``doctor``, ``nurse``, ``midwife``) and no roles;
they get the permission role of their job, so a staff tool that worked keeps working. Other
jobs (``lead`` ...) get nothing here: an admin grants their roles. The downgrade leaves roles.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

#: Jobs that are also permission roles of the care team (``store/roles.py`` at this revision).
CARE_JOBS = ("doctor", "nurse", "midwife")


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("count", sa.Integer(), server_default="1", nullable=False))
    op.add_column("audit_log", sa.Column("fold_key", sa.String(length=200), nullable=True))
    op.create_index(op.f("ix_audit_log_fold_key"), "audit_log", ["fold_key"], unique=True)
    staff = sa.table("staff", sa.column("role", sa.String()), sa.column("roles", sa.JSON()))
    no_roles = sa.or_(staff.c.roles.is_(None), sa.cast(staff.c.roles, sa.Text()) == "null")
    for job in CARE_JOBS:
        op.execute(staff.update().where(no_roles, staff.c.role == job).values(roles=[job]))


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_log_fold_key"), table_name="audit_log")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("fold_key")
        batch_op.drop_column("count")
