"""her sign-in: patient sessions and one-time SMS codes (issue 18)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 12:35:00

``patient_sessions``: one row per signed-in browser of hers (the SHA-256 of the cookie's
token, never the token), separate from ``staff_sessions``. ``sign_in_codes``: the 6-digit codes
sent by SMS, stored as a keyed hash with a per-row salt, with their tries and expiry; the rows
also count the codes sent per phone and per address. WeChat web authorisation codes need no
table: each is claimed once in the nonce store (``request_nonces`` or Redis).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

UTC = carepath.store.models.UtcDateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "patient_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", BIG_ID, nullable=False),
        sa.Column("how", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_seen_at", UTC, nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_patient_sessions_hospital_id_hospitals")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_patient_sessions_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_sessions")),
    )
    op.create_index(op.f("ix_patient_sessions_patient_id"), "patient_sessions", ["patient_id"], unique=False)
    op.create_table(
        "sign_in_codes",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("spent_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_sign_in_codes_hospital_id_hospitals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_codes")),
    )
    op.create_index(op.f("ix_sign_in_codes_created_at"), "sign_in_codes", ["created_at"], unique=False)
    op.create_index(op.f("ix_sign_in_codes_phone_hash"), "sign_in_codes", ["phone_hash"], unique=False)
    op.create_index(op.f("ix_sign_in_codes_remote_addr"), "sign_in_codes", ["remote_addr"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sign_in_codes_remote_addr"), table_name="sign_in_codes")
    op.drop_index(op.f("ix_sign_in_codes_phone_hash"), table_name="sign_in_codes")
    op.drop_index(op.f("ix_sign_in_codes_created_at"), table_name="sign_in_codes")
    op.drop_table("sign_in_codes")
    op.drop_index(op.f("ix_patient_sessions_patient_id"), table_name="patient_sessions")
    op.drop_table("patient_sessions")
