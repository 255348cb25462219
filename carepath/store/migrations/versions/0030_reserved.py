"""high-risk register: pregnancies by colour and EDD, the suggested colours, the purple flag

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 18:30:00

Issue 21 item 1 (高危专案, ``store/risk_register.py``): the register lists pregnancies by
colour, then EDD, in keyset pages. ``ix_pregnancies_register`` is that order; the two partial
indexes hold only the colours a rule suggested and no clinician confirmed (the queue: whether a
colour is confirmed is in her state's JSON, read here once per write instead of once per woman
per page) and the women flagged purple. Each ends with the hospital and the status, so the
page's counts (by colour, waiting, purple) read an index alone, never the table's wide rows. Their predicates are ``models_register.py``'s, copied
(a migration does not import the models it may outlive). Building them reads each state once:
seconds for 100k pregnancies.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

#: Trailing columns the list never orders by: the counts read the index alone, not the table.
COUNTED = ["hospital_id", "status"]
SUGGESTED = {
    "postgresql": "risk_colour IS NOT NULL AND "
    "coalesce((state -> 'facts') ->> 'risk_colour_status', 'suggested') = 'suggested'",
    "sqlite": "risk_colour IS NOT NULL AND "
    "coalesce(json_extract(state, '$.facts.risk_colour_status'), 'suggested') = 'suggested'",
}
PURPLE = {
    "postgresql": "((state -> 'facts') ->> 'purple') = 'true'",
    "sqlite": "json_extract(state, '$.facts.purple') = 1",
}


def upgrade() -> None:
    op.create_index("ix_pregnancies_register", "pregnancies", ["risk_colour", "edd", "id", *COUNTED])
    op.create_index(
        "ix_pregnancies_suggested",
        "pregnancies",
        ["risk_colour", "edd", "id", *COUNTED],
        postgresql_where=sa.text(SUGGESTED["postgresql"]),
        sqlite_where=sa.text(SUGGESTED["sqlite"]),
    )
    op.create_index(
        "ix_pregnancies_purple",
        "pregnancies",
        ["edd", "id", *COUNTED],
        postgresql_where=sa.text(PURPLE["postgresql"]),
        sqlite_where=sa.text(PURPLE["sqlite"]),
    )


def downgrade() -> None:
    for name in ("ix_pregnancies_purple", "ix_pregnancies_suggested", "ix_pregnancies_register"):
        op.drop_index(name, table_name="pregnancies")
