"""her answers to the forms she was sent, from her pages

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 15:25:00

Issue 19 item 3: ``her_form_answers`` links a sent form (an outbox row of kind
``questionnaire``) to her questionnaire response; unique on the outbox row (a sent form is
answered once) and on the page's submission token (a double submit answers as the first).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

UTC = carepath.store.models.UtcDateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "her_form_answers",
        sa.Column("id", BigId, nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("pregnancy_id", sa.String(length=80), nullable=False),
        sa.Column("outbox_id", BigId, nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("response_id", BigId, nullable=False),
        sa.Column("submitted_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_her_form_answers_hospital_id_hospitals")
        ),
        sa.ForeignKeyConstraint(
            ["pregnancy_id"], ["pregnancies.id"], name=op.f("fk_her_form_answers_pregnancy_id_pregnancies")
        ),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_her_form_answers_outbox_id_outbox")
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["questionnaire_responses.id"],
            name=op.f("fk_her_form_answers_response_id_questionnaire_responses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_her_form_answers")),
        sa.UniqueConstraint("outbox_id", name=op.f("uq_her_form_answers_outbox_id")),
        sa.UniqueConstraint("token", name=op.f("uq_her_form_answers_token")),
    )
    op.create_index(op.f("ix_her_form_answers_pregnancy_id"), "her_form_answers", ["pregnancy_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_her_form_answers_pregnancy_id"), table_name="her_form_answers")
    op.drop_table("her_form_answers")
