"""search lookups: her name's keyed hash and her stored EDD

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 18:20:00

Issue 21 item 2 (find a woman):

- ``patients.name_hash``: the keyed hash of her normalised name (``FieldCipher.name_hash``),
  indexed with the hospital, so an exact name is one index probe instead of opening up to
  5,000 sealed names. A migration holds no keys, so old rows are filled by
  ``carepath db backfill-lookups``, page by page; until then an old row is found by name only
  through the bounded scan (``store/search.py``).
- ``pregnancies.edd``: her EDD as her current dating gives it (the state's derived ``edd``),
  written with every evaluation because redating moves it; a week range becomes an indexed
  date range. Backfilled here in one statement from each state (no key needed), like 0025.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite has it): a batch copy would drop tables others refer to.
    op.add_column("patients", sa.Column("name_hash", sa.String(length=64), nullable=True))
    op.create_index("ix_patients_name", "patients", ["hospital_id", "name_hash"])
    op.add_column("pregnancies", sa.Column("edd", sa.Date(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE pregnancies SET edd = CAST(state::json ->> 'edd' AS date) WHERE state::json ->> 'edd' IS NOT NULL"
        )
    else:
        op.execute(
            "UPDATE pregnancies SET edd = json_extract(state, '$.edd') WHERE json_extract(state, '$.edd') IS NOT NULL"
        )
    op.create_index("ix_pregnancies_edd", "pregnancies", ["hospital_id", "edd"])


def downgrade() -> None:
    op.drop_index("ix_pregnancies_edd", table_name="pregnancies")
    op.drop_column("pregnancies", "edd")
    op.drop_index("ix_patients_name", table_name="patients")
    op.drop_column("patients", "name_hash")
