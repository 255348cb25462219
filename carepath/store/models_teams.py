"""Care teams and who is responsible for her (issue 20). The one model of it: later issues
extend it, never duplicate it (``store/care_teams.py`` says how).

A *care team* is one hospital's group of staff who share work: an obstetric team (产科团队),
the midwives, nutrition, the school (孕妇学校) … Its members hold a *team role* (what they do in
the team: doctor, nurse, midwife, case manager, nutritionist, teacher), which is not a login role
(``store/roles.py``: what they may do in the product). Its ``lead`` receives escalations of the
team's overdue tasks — no longer whoever's free-text job title happens to say ``lead``.

Each pregnancy has one row in ``pregnancy_care``: her team and the named people responsible for
her (主管责任医生, her nurse, her case manager), set at registration or by staff; every change is
a row of ``pregnancy_care_changes`` (who, when, why), so the record shows the history.

A staff task is resolved when it is created: ``team_id`` (whose queue it is in) and
``assignee_id`` (the person it is for, or empty for the team's queue) — ``store/care_teams.py``
maps each ``assign`` value of the language to them (docs/care-teams.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carepath.store.models import Base, BigId

#: What a team is for; ``assign`` values that name a service (nutritionist, school, midwife)
#: go to the hospital's team of that kind.
TEAM_KINDS = ("obstetric", "midwives", "nutrition", "school", "mental_health", "other")
#: What a member does in a team.
TEAM_ROLES = ("doctor", "nurse", "midwife", "case_manager", "nutritionist", "teacher")
#: The people named on her care row (each a column of ``PregnancyCare``).
RESPONSIBLE = ("responsible_doctor", "responsible_nurse", "case_manager")


class CareTeam(Base):
    """One team of one hospital. ``is_default``: the team a pregnancy joins when no rule of the
    hospital and no source names one (one per hospital; the migration makes it for existing
    pregnancies). ``archived_at``: a team no longer used keeps its history."""

    __tablename__ = "care_teams"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    lead_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime]
    archived_at: Mapped[datetime | None]
    __table_args__ = (UniqueConstraint("hospital_id", "name"),)


class CareTeamMember(Base):
    """A staff member's place in a team; ``removed_at`` ends it (kept for the history of who was
    responsible when)."""

    __tablename__ = "care_team_members"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("care_teams.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    team_role: Mapped[str] = mapped_column(String(20))
    added_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]
    __table_args__ = (Index("ix_care_team_members_team", "team_id", "removed_at"),)


class PregnancyCare(Base):
    """Who cares for one pregnancy now: her team and the people responsible for her."""

    __tablename__ = "pregnancy_care"
    pregnancy_id: Mapped[str] = mapped_column(ForeignKey("pregnancies.id"), primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("care_teams.id"), index=True)
    responsible_doctor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    responsible_nurse_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    case_manager_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(120))  # "staff:12", "registration", "migration"


class PregnancyCareChange(Base):
    """One change of her care row: ``what`` is ``team`` or one of ``RESPONSIBLE``; the values
    are ids as text (empty when unset); ``reason`` is the staff member's, or the rule's."""

    __tablename__ = "pregnancy_care_changes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pregnancy_id: Mapped[str] = mapped_column(ForeignKey("pregnancies.id"))
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    what: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(String(40))
    new_value: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime]
    __table_args__ = (Index("ix_pregnancy_care_changes_pregnancy", "pregnancy_id", "at"),)
