"""her registrations from her pages, and one woman per ID number in a hospital

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 12:35:00

Issue 18 items 4, 5 and 7: ``registrations`` keeps each registration form she submits (its
one-time token makes a double submit harmless; a form whose ID number matched a woman on file
waits there, sealed, until she proves it is hers). ``ix_patients_id_number`` becomes unique:
two concurrent registrations with one ID number must not make two women of her (the second
finds the first and is asked to prove it). Both the HIS intake and registration already find a
woman by this hash before creating one, so an existing database holds no duplicates; if one
does, this migration fails and names the index, and the two records are merged by hand first.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

UTC = carepath.store.models.UtcDateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "registrations",
        sa.Column("id", BigId, nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("id_number_hash", sa.String(length=64), nullable=False),
        sa.Column("form_sealed", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("patient_id", BigId, nullable=True),
        sa.Column("pregnancy_id", sa.String(length=80), nullable=True),
        sa.Column("proven_by", sa.String(length=64), nullable=True),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("completed_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_registrations_hospital_id_hospitals")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_registrations_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["pregnancy_id"], ["pregnancies.id"], name=op.f("fk_registrations_pregnancy_id_pregnancies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registrations")),
        sa.UniqueConstraint("token", name=op.f("uq_registrations_token")),
        sa.UniqueConstraint("hospital_id", "reference", name=op.f("uq_registrations_hospital_id")),
    )
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.create_index("ix_registrations_patient", ["patient_id"], unique=False)
        batch_op.create_index("ix_registrations_address", ["remote_addr", "created_at"], unique=False)
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index("ix_patients_id_number")
        batch_op.create_index("ix_patients_id_number", ["hospital_id", "id_number_hash"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index("ix_patients_id_number")
        batch_op.create_index("ix_patients_id_number", ["hospital_id", "id_number_hash"], unique=False)
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_index("ix_registrations_address")
        batch_op.drop_index("ix_registrations_patient")
    op.drop_table("registrations")
