"""staff accounts: passwords, roles, sessions, login throttling

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 23:45:00

Staff gain a login (username, argon2id hash, permission roles, a session generation, disabled
flag); browser sessions live in ``staff_sessions``; failed logins are counted per username and
per address in ``login_throttle`` so that every process sees the same lock.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC = carepath.store.models.UtcDateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.add_column(sa.Column("username", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("roles", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("disabled_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("password_changed_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("last_login_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("created_at", UTC, nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_staff_username"), ["username"])
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("staff_id", BIG_ID, nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_seen_at", UTC, nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_staff_sessions_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
    )
    op.create_index(op.f("ix_staff_sessions_staff_id"), "staff_sessions", ["staff_id"], unique=False)
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", UTC, nullable=False),
        sa.Column("locked_until", UTC, nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
    op.drop_index(op.f("ix_staff_sessions_staff_id"), table_name="staff_sessions")
    op.drop_table("staff_sessions")
    with op.batch_alter_table("staff", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_staff_username"), type_="unique")
        for column in (
            "created_at",
            "last_login_at",
            "password_changed_at",
            "disabled_at",
            "session_generation",
            "roles",
            "password_hash",
            "username",
        ):
            batch_op.drop_column(column)
