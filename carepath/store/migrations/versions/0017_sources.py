"""sources: where she came from (issue 18: sources, their QR codes and counts)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 12:35:00

``sources``: a hospital's entry points (posters, doctors' cards, campaigns), each with a short
code and, when the hospital has an official account, its parametric QR code's ticket.
``source_events``: the append-only log of scans, follows and registrations through them, from
which the counts are derived (``store/sources.py`` says why a log, not a counter row).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", BigId, nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("qr_kind", sa.String(length=12), nullable=False),
        sa.Column("department_id", BigId, nullable=True),
        sa.Column("staff_id", BigId, nullable=True),
        sa.Column("campaign", sa.String(length=100), nullable=True),
        sa.Column("expires_at", carepath.store.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("wechat_appid", sa.String(length=64), nullable=True),
        sa.Column("wechat_ticket", sa.Text(), nullable=True),
        sa.Column("wechat_url", sa.Text(), nullable=True),
        sa.Column("created_at", carepath.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_sources_department_id_departments")
        ),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_sources_hospital_id_hospitals")
        ),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_sources_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
        sa.UniqueConstraint("code", name=op.f("uq_sources_code")),
    )
    op.create_index(op.f("ix_sources_hospital_id"), "sources", ["hospital_id"], unique=False)
    op.create_index("ix_sources_wechat", "sources", ["wechat_appid", "qr_kind"], unique=False)
    op.create_table(
        "source_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("source_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("how", sa.String(length=20), nullable=False),
        sa.Column("at", carepath.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("openid_hash", sa.String(length=64), nullable=True),
        sa.Column("patient_id", BigId, nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_source_events_hospital_id_hospitals")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_source_events_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_source_events_source_id_sources")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_events")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_source_events_dedupe_key")),
    )
    op.create_index("ix_source_events_counts", "source_events", ["source_id", "kind"], unique=False)
    op.create_index("ix_source_events_openid", "source_events", ["hospital_id", "openid_hash"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_source_events_openid", table_name="source_events")
    op.drop_index("ix_source_events_counts", table_name="source_events")
    op.drop_table("source_events")
    op.drop_index("ix_sources_wechat", table_name="sources")
    op.drop_index(op.f("ix_sources_hospital_id"), table_name="sources")
    op.drop_table("sources")
