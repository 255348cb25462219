"""outbox.claimed_by: the worker task whose batch put a row in flight

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-08 02:00:00

In the cluster mode (docs/cluster.md) a dispatch batch is a Celery task, acknowledged late: a
worker killed mid-batch has its task put back and delivered again under the same task id. The
rows the dead attempt left in flight waited ``stale_after`` (2 minutes, longer than any batch's
calls can take) before anyone recovered them — the fault runs' worker fault took 121 s to drain
(docs/scale.md). With the task id on the rows, the redelivered task recovers its own rows at
once. Nullable, no default: adding it rewrites nothing; the embedded dispatcher leaves it NULL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("claimed_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_column("claimed_by")
