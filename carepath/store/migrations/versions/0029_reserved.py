"""audit log viewer: keyset indexes on audit_log

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 18:30:00

Issue 21 item 6 (the audit log viewer, ``store/audit_read.py``): the log may hold millions of
rows, and its pages are keyset pages newest first, (``at``, ``id``) descending, for the whole
hospital, one woman or one actor. Each gets an index whose order is the page's order, so a
page is an index range scan of 51 entries, never a sort of the log:

- ``ix_audit_log_hospital_at`` (hospital_id, at, id): the whole log, and a date range;
- ``ix_audit_log_patient_at`` (patient_id, at, id): one woman (or one pregnancy of hers);
- ``ix_audit_log_actor_at`` (hospital_id, actor, at, id): one member of staff, one integrator.

On PostgreSQL a large log (over ``CONCURRENT_FROM`` rows by the planner's estimate) gets them
``CONCURRENTLY``, outside the migration's transaction, so the hospital's log keeps taking rows
while they are built. A small one (a new install, the tests) gets a plain build, which takes a
moment: a concurrent build waits for every older transaction of the whole database, and on a
server shared by several schemas (the parallel test workers) that is a wait on strangers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

CONCURRENT_FROM = 100_000
INDEXES = (
    ("ix_audit_log_hospital_at", ["hospital_id", "at", "id"]),
    ("ix_audit_log_patient_at", ["patient_id", "at", "id"]),
    ("ix_audit_log_actor_at", ["hospital_id", "actor", "at", "id"]),
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and _estimated_rows(bind) > CONCURRENT_FROM:
        with op.get_context().autocommit_block():
            for name, columns in INDEXES:
                op.create_index(name, "audit_log", columns, postgresql_concurrently=True, if_not_exists=True)
        return
    for name, columns in INDEXES:
        op.create_index(name, "audit_log", columns)


def _estimated_rows(bind: sa.engine.Connection) -> float:
    found = bind.execute(sa.text("SELECT reltuples FROM pg_class WHERE oid = to_regclass('audit_log')"))
    return float(found.scalar() or 0)


def downgrade() -> None:
    for name, _columns in INDEXES:
        op.drop_index(name, table_name="audit_log")
