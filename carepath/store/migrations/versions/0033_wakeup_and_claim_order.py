"""the sweep's and the dispatcher's order in their indexes: (next_wakeup, id), (status, due_at, id)

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 23:35:00

The sweep takes its page as ``ORDER BY next_wakeup, id LIMIT 200 FOR UPDATE SKIP LOCKED`` and the
dispatcher its batch as ``… ORDER BY due_at, id LIMIT 100``. With an index on ``next_wakeup`` (and
``(status, due_at)``) alone, every woman due at the same moment — and wake-ups and messages are
placed at the same moments: the window's opening, a pathway's send time — was read and sorted by
id for every page: at 1M pregnancies, 200k due at once, PostgreSQL spent 5.5 ms of CPU per woken
pregnancy (0.52 ms at 100k; docs/scale.md, the 1M day). With the id in the index the page is the
index's first 200 entries. Same names, so nothing that names them changes.
"""

from __future__ import annotations

from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("pregnancies") as batch_op:
        batch_op.drop_index("ix_pregnancies_next_wakeup")
        batch_op.create_index("ix_pregnancies_next_wakeup", ["next_wakeup", "id"], unique=False)
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_index("ix_outbox_status_due")
        batch_op.create_index("ix_outbox_status_due", ["status", "due_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_index("ix_outbox_status_due")
        batch_op.create_index("ix_outbox_status_due", ["status", "due_at"], unique=False)
    with op.batch_alter_table("pregnancies") as batch_op:
        batch_op.drop_index("ix_pregnancies_next_wakeup")
        batch_op.create_index("ix_pregnancies_next_wakeup", ["next_wakeup"], unique=False)
