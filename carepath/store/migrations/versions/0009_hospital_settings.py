"""one home for hospital settings

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 06:40:00

``hospital_settings``: one row per hospital (none: the defaults of
``carepath/store/hospital_settings.py``). The send window and the daily cap move here from the
channels file's ``delivery:`` section (imported once); drafts allowed, the emergency phone,
the on-call roster (staff contacts), working hours and the public base URL of her pages are
new. ``version`` counts the changes; every change is in the audit log.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hospital_settings",
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("window_opens", sa.Time(), nullable=False),
        sa.Column("window_closes", sa.Time(), nullable=False),
        sa.Column("daily_cap", sa.Integer(), nullable=False),
        sa.Column("drafts_allowed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("emergency_phone", sa.String(length=32), nullable=True),
        sa.Column("on_call", sa.JSON(), nullable=False),
        sa.Column("working_hours", sa.JSON(), nullable=False),
        sa.Column("public_base_url", sa.String(length=300), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", carepath.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_hospital_settings_hospital_id_hospitals")
        ),
        sa.PrimaryKeyConstraint("hospital_id", name=op.f("pk_hospital_settings")),
    )


def downgrade() -> None:
    op.drop_table("hospital_settings")
