"""desk registration: how she gave consent, and the desk's ID card reader

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 18:30:00

Issue 21 item 3 (helper desk). ``consents`` gains ``method``: how she gave a consent that staff
recorded at the desk (``paper``, signed; ``tablet``, on the desk's tablet); NULL for what she
gave herself on her pages or the HIS sent. ``hospital_settings`` gains ``id_reader_url``: the
local service of the desk PC's ID card reader (NULL: no reader button on the desk page).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("method", sa.String(length=20), nullable=True))
    with op.batch_alter_table("hospital_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("id_reader_url", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hospital_settings", schema=None) as batch_op:
        batch_op.drop_column("id_reader_url")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_column("method")
