"""the ICD-10 catalogue: WHO codes and hospital extended codes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 23:45:00

A hospital's own ICD-10 catalogue (``icd10_codes``), the WHO code of each diagnosis, and the
integrator's response id and score of a questionnaire response posted to /api/v1/responses.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "icd10_codes",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("who_code", sa.String(length=16), nullable=True),
        sa.Column("imported_at", carepath.store.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_icd10_codes_hospital_id_hospitals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_icd10_codes")),
        sa.UniqueConstraint("hospital_id", "code", name=op.f("uq_icd10_codes_hospital_id")),
    )
    with op.batch_alter_table("diagnoses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("who_code", sa.String(length=16), nullable=True))
    with op.batch_alter_table("questionnaire_responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("integrator_id", BIG_ID, nullable=True))
        batch_op.add_column(sa.Column("response_id", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("score", sa.JSON(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_questionnaire_responses_integrator_id_integrators"),
            "integrators",
            ["integrator_id"],
            ["id"],
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_questionnaire_responses_integrator_id"), ["integrator_id", "response_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("questionnaire_responses", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_questionnaire_responses_integrator_id"), type_="unique")
        batch_op.drop_constraint(
            batch_op.f("fk_questionnaire_responses_integrator_id_integrators"), type_="foreignkey"
        )
        batch_op.drop_column("score")
        batch_op.drop_column("response_id")
        batch_op.drop_column("integrator_id")
    with op.batch_alter_table("diagnoses", schema=None) as batch_op:
        batch_op.drop_column("who_code")
    op.drop_table("icd10_codes")
