"""her requests: what she asks about her data, her contact changes, the retention notice

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 15:25:00

Issue 19 item 4 (her data and rights, 我的数据):

- ``her_requests``: her requests about her data (``deletion``, ``correction``), their status
  (``received``, ``in_review``, ``done``, ``refused``), her sealed text, the hospital's
  retention notice as she was shown it, and the recorded decision (``decision``,
  ``decided_by``, ``decided_at``); ``open_key`` (unique, set only while open) keeps a second
  identical open request from becoming a second row. Issue 21's staff queue reads
  ``ix_her_requests_open``.
- ``contact_changes``: each change of her contact details (her phone), old and new sealed.
- ``hospital_settings.retention_notice``: the hospital's own text about what it keeps (medical
  records) when she asks for deletion; NULL: the draft default of ``store/her_requests.py``.

New tables and one nullable column: existing rows are untouched.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

UTC = carepath.store.models.UtcDateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "her_requests",
        sa.Column("id", BigId, nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("text_sealed", sa.Text(), nullable=True),
        sa.Column("retention_notice", sa.Text(), nullable=False),
        sa.Column("open_key", sa.String(length=200), nullable=True),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("review_started_at", UTC, nullable=True),
        sa.Column("review_started_by", sa.String(length=120), nullable=True),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=120), nullable=True),
        sa.Column("decided_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_her_requests_hospital_id_hospitals")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_her_requests_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_her_requests")),
        sa.UniqueConstraint("open_key", name=op.f("uq_her_requests_open_key")),
    )
    with op.batch_alter_table("her_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_her_requests_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index("ix_her_requests_open", ["hospital_id", "status", "received_at"], unique=False)
    op.create_table(
        "contact_changes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", BigId, nullable=False),
        sa.Column("field", sa.String(length=20), nullable=False),
        sa.Column("old_sealed", sa.Text(), nullable=True),
        sa.Column("new_sealed", sa.Text(), nullable=False),
        sa.Column("how", sa.String(length=40), nullable=False),
        sa.Column("changed_by", sa.String(length=120), nullable=False),
        sa.Column("changed_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_contact_changes_hospital_id_hospitals")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_contact_changes_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_changes")),
    )
    with op.batch_alter_table("contact_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_changes_patient_id"), ["patient_id"], unique=False)
    with op.batch_alter_table("hospital_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retention_notice", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hospital_settings", schema=None) as batch_op:
        batch_op.drop_column("retention_notice")
    with op.batch_alter_table("contact_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_changes_patient_id"))
    op.drop_table("contact_changes")
    with op.batch_alter_table("her_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_her_requests_open")
        batch_op.drop_index(batch_op.f("ix_her_requests_patient_id"))
    op.drop_table("her_requests")
