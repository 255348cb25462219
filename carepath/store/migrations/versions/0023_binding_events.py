"""binding events: the official account's own events and her SMS opt-out replies

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 15:25:00

Issue 19 items 5 and 6. ``binding_events`` logs what her channels told us about her besides
delivery reports (unfollow, follow again, menu clicks, her messages to the account, her SMS
replies), unique on a dedupe key so that a provider's retry changes nothing.
``channel_bindings`` gains ``unsubscribed_at`` (she unfollowed: the binding is not used until
she follows again) and the customer-service window her last interaction opened
(``service_window_until``, ``service_window_left``). ``hospital_settings`` gains
``sms_opt_out_keywords`` (NULL: the defaults R, T, TD, 退订).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

UTC = carepath.store.models.UtcDateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "binding_events",
        sa.Column("id", BigId, nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("value_hash", sa.String(length=64), nullable=False),
        sa.Column("patient_id", BigId, nullable=True),
        sa.Column("at", UTC, nullable=False),
        sa.Column("recorded_at", UTC, nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["hospital_id"], ["hospitals.id"], name=op.f("fk_binding_events_hospital_id_hospitals")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_binding_events_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_binding_events")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_binding_events_dedupe_key")),
    )
    with op.batch_alter_table("binding_events", schema=None) as batch_op:
        batch_op.create_index("ix_binding_events_patient", ["patient_id", "at"], unique=False)
        batch_op.create_index("ix_binding_events_value", ["hospital_id", "value_hash"], unique=False)
    with op.batch_alter_table("channel_bindings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unsubscribed_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("service_window_until", UTC, nullable=True))
        batch_op.add_column(sa.Column("service_window_left", sa.Integer(), nullable=True))
    with op.batch_alter_table("hospital_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sms_opt_out_keywords", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hospital_settings", schema=None) as batch_op:
        batch_op.drop_column("sms_opt_out_keywords")
    with op.batch_alter_table("channel_bindings", schema=None) as batch_op:
        batch_op.drop_column("service_window_left")
        batch_op.drop_column("service_window_until")
        batch_op.drop_column("unsubscribed_at")
    with op.batch_alter_table("binding_events", schema=None) as batch_op:
        batch_op.drop_index("ix_binding_events_value")
        batch_op.drop_index("ix_binding_events_patient")
    op.drop_table("binding_events")
