"""risk colour column: her current colour kept beside her state

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 17:05:00

``pregnancies.risk_colour``: the colour her conditions see now (``facts.risk_colour`` of her
state, which the state's dump already writes), written with the state on every evaluation
(``store/evaluation.py``). The workspace counts its open tasks by colour and the staff search
filters by it; reading it from the JSON state parsed a 6 kB document per woman (issue 20's
benchmark: 175 ms of a 350 ms task list, docs/workspace-performance.md). Backfilled here in one
statement from each state.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite has it): a batch copy of this table would have to drop the
    # table every other table refers to.
    op.add_column("pregnancies", sa.Column("risk_colour", sa.String(length=16), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE pregnancies SET risk_colour = (state::json -> 'facts') ->> 'risk_colour'")
    else:
        op.execute("UPDATE pregnancies SET risk_colour = json_extract(state, '$.facts.risk_colour')")


def downgrade() -> None:
    op.drop_column("pregnancies", "risk_colour")  # SQLite 3.35+ drops a column in place
