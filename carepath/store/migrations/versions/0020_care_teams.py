"""care teams: teams, their members, her care row and its history; tasks resolved to a team and a person

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 15:25:00

``care_teams``, ``care_team_members``, ``pregnancy_care`` and ``pregnancy_care_changes``
(``store/models_teams.py`` says what each is); ``staff_tasks.team_id`` and ``assignee_id`` (whose
queue a task is in, and for whom); ``sources.team_id`` (the team a woman registering through a
source joins). Existing data is backfilled: each hospital with pregnancies gets a default team
(产科团队), each pregnancy a care row in it (and the history line saying so), each open task
its queue. Nobody is named her responsible doctor by the migration: staff name them (her
record, ``care_teams.set_care``), and until then her team's queue holds her tasks.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import carepath.store.models

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = carepath.store.models.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "care_teams",
        sa.Column("id", BigId, nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("lead_staff_id", BigId, nullable=True),
        sa.Column("is_default", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("archived_at", When, nullable=True),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospitals.id"]),
        sa.ForeignKeyConstraint(["lead_staff_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hospital_id", "name"),
    )
    op.create_index("ix_care_teams_hospital_id", "care_teams", ["hospital_id"])
    op.create_table(
        "care_team_members",
        sa.Column("id", BigId, nullable=False),
        sa.Column("team_id", BigId, nullable=False),
        sa.Column("staff_id", BigId, nullable=False),
        sa.Column("team_role", sa.String(length=20), nullable=False),
        sa.Column("added_at", When, nullable=False),
        sa.Column("removed_at", When, nullable=True),
        sa.ForeignKeyConstraint(["team_id"], ["care_teams.id"]),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_care_team_members_staff_id", "care_team_members", ["staff_id"])
    op.create_index("ix_care_team_members_team", "care_team_members", ["team_id", "removed_at"])
    op.create_table(
        "pregnancy_care",
        sa.Column("pregnancy_id", sa.String(length=80), nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("team_id", BigId, nullable=True),
        sa.Column("responsible_doctor_id", BigId, nullable=True),
        sa.Column("responsible_nurse_id", BigId, nullable=True),
        sa.Column("case_manager_id", BigId, nullable=True),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("updated_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(["pregnancy_id"], ["pregnancies.id"]),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospitals.id"]),
        sa.ForeignKeyConstraint(["team_id"], ["care_teams.id"]),
        sa.ForeignKeyConstraint(["responsible_doctor_id"], ["staff.id"]),
        sa.ForeignKeyConstraint(["responsible_nurse_id"], ["staff.id"]),
        sa.ForeignKeyConstraint(["case_manager_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("pregnancy_id"),
    )
    op.create_index("ix_pregnancy_care_hospital_id", "pregnancy_care", ["hospital_id"])
    op.create_index("ix_pregnancy_care_team_id", "pregnancy_care", ["team_id"])
    op.create_index("ix_pregnancy_care_responsible_doctor_id", "pregnancy_care", ["responsible_doctor_id"])
    op.create_table(
        "pregnancy_care_changes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("pregnancy_id", sa.String(length=80), nullable=False),
        sa.Column("hospital_id", sa.String(length=64), nullable=False),
        sa.Column("what", sa.String(length=40), nullable=False),
        sa.Column("old_value", sa.String(length=40), nullable=True),
        sa.Column("new_value", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.ForeignKeyConstraint(["pregnancy_id"], ["pregnancies.id"]),
        sa.ForeignKeyConstraint(["hospital_id"], ["hospitals.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pregnancy_care_changes_pregnancy", "pregnancy_care_changes", ["pregnancy_id", "at"])
    with op.batch_alter_table("staff_tasks") as batch:
        batch.add_column(sa.Column("team_id", BigId, nullable=True))
        batch.add_column(sa.Column("assignee_id", BigId, nullable=True))
        batch.create_foreign_key("fk_staff_tasks_team_id", "care_teams", ["team_id"], ["id"])
        batch.create_foreign_key("fk_staff_tasks_assignee_id", "staff", ["assignee_id"], ["id"])
        batch.create_index("ix_staff_tasks_team_id", ["team_id"])
        batch.create_index("ix_staff_tasks_assignee_id", ["assignee_id"])
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("team_id", BigId, nullable=True))
        batch.create_foreign_key("fk_sources_team_id", "care_teams", ["team_id"], ["id"])
    _backfill()


def _backfill() -> None:
    """Existing pregnancies join their hospital's default team; open tasks go to its queue.
    Set-based (one statement each), so a hospital with a million pregnancies migrates in seconds."""
    conn = op.get_bind()
    now = datetime.now(UTC)
    hospitals = conn.execute(sa.text("SELECT DISTINCT hospital_id FROM pregnancies")).scalars().all()
    for hospital in hospitals:
        conn.execute(
            sa.text(
                "INSERT INTO care_teams (hospital_id, name, kind, is_default, created_at) "
                "VALUES (:h, '产科团队', 'obstetric', :yes, :now)"
            ),
            {"h": hospital, "yes": True, "now": now},
        )
    conn.execute(
        sa.text(
            "INSERT INTO pregnancy_care (pregnancy_id, hospital_id, team_id, updated_at, updated_by) "
            "SELECT p.id, p.hospital_id, t.id, :now, 'migration' FROM pregnancies p "
            "JOIN care_teams t ON t.hospital_id = p.hospital_id AND t.is_default = :yes"
        ),
        {"now": now, "yes": True},
    )
    conn.execute(
        sa.text(
            "INSERT INTO pregnancy_care_changes (pregnancy_id, hospital_id, what, old_value, new_value, "
            "reason, actor, at) SELECT c.pregnancy_id, c.hospital_id, 'team', NULL, "
            + (
                "CAST(c.team_id AS VARCHAR)"
                if conn.dialect.name == "postgresql"
                else "CAST(c.team_id AS TEXT)"
            )
            + ", :reason, 'migration', :now FROM pregnancy_care c"
        ),
        {"now": now, "reason": "迁移：医院默认团队"},
    )
    conn.execute(
        sa.text(
            "UPDATE staff_tasks SET team_id = (SELECT t.id FROM care_teams t "
            "WHERE t.hospital_id = staff_tasks.hospital_id AND t.is_default = :yes) "
            "WHERE status = 'open'"
        ),
        {"yes": True},
    )


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.drop_constraint("fk_sources_team_id", type_="foreignkey")
        batch.drop_column("team_id")
    with op.batch_alter_table("staff_tasks") as batch:
        batch.drop_index("ix_staff_tasks_assignee_id")
        batch.drop_index("ix_staff_tasks_team_id")
        batch.drop_constraint("fk_staff_tasks_assignee_id", type_="foreignkey")
        batch.drop_constraint("fk_staff_tasks_team_id", type_="foreignkey")
        batch.drop_column("assignee_id")
        batch.drop_column("team_id")
    op.drop_table("pregnancy_care_changes")
    op.drop_table("pregnancy_care")
    op.drop_table("care_team_members")
    op.drop_table("care_teams")
