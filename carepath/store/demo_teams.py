"""The demo's care team (issue 20 item 5): demo-doctor and demo-nurse in 产科一组 (the doctor
leads it), the demo pregnancies in it with demo-doctor as their responsible doctor and
demo-nurse as their nurse, and work waiting for them: synthetic HIS events, evaluated by the
engine like any other, give demo-002 a severe pre-eclampsia diagnosis (a suggested orange a
doctor has to confirm) and a clinic blood pressure of 165/112 (the hypertension pathway's
urgent task, due in an hour). Everything is synthetic; running setup again changes nothing.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from sqlalchemy import select

from carepath.store import care_teams, events
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.models import Patient, Pregnancy, Staff
from carepath.store.models_sources import Source
from carepath.store.scope import Actor

DEMO_HOSPITAL = "demo"
DEMO_TEAM = "产科一组"
SETUP = Actor(DEMO_HOSPITAL, "cli", "demo-setup")
#: (username, team role); the first is the lead and every demo woman's responsible doctor.
MEMBERS = (("demo-doctor", "doctor"), ("demo-nurse", "nurse"))
#: The woman whose events open the urgent task and the suggested orange.
URGENT_FOR = "demo-002"


def _staff_ids(db: Database) -> dict[str, int]:
    with db.reading() as session:
        rows = session.execute(
            select(Staff.username, Staff.id).where(
                Staff.hospital_id == DEMO_HOSPITAL, Staff.username.in_([u for u, _ in MEMBERS])
            )
        )
        return {str(username): staff_id for username, staff_id in rows}


def demo_team(db: Database, now: datetime) -> int:
    """产科一组 with its members and demo-doctor as lead (made once, completed on later runs)."""
    with db.reading() as session:
        found = {t.name: t for t in care_teams.list_teams(session, DEMO_HOSPITAL)}.get(DEMO_TEAM)
    team_id = found.id if found else care_teams.create_team(db, SETUP, DEMO_TEAM, "obstetric", now)
    staff = _staff_ids(db)
    members = {m.staff_id for m in found.members} if found else set()
    for username, role in MEMBERS:
        if staff[username] not in members:
            care_teams.add_member(db, SETUP, team_id, staff[username], team_role=role, now=now)
    lead = staff[MEMBERS[0][0]]
    if found is None or found.lead is None or found.lead.id != lead:
        care_teams.set_lead(db, SETUP, team_id, lead, now)
    return team_id


def demo_care(db: Database, team_id: int, his_ids: list[str], now: datetime) -> None:
    """Each demo woman in the team, with demo-doctor and demo-nurse named for her."""
    staff = _staff_ids(db)
    with db.reading() as session:
        pregnancies = session.scalars(
            select(Pregnancy.id)
            .join(Patient, Patient.id == Pregnancy.patient_id)
            .where(Patient.hospital_id == DEMO_HOSPITAL, Patient.his_patient_id.in_(his_ids))
        ).all()
    for pregnancy_id in pregnancies:
        care_teams.set_care(
            db, SETUP, pregnancy_id, team_id=team_id, responsible_doctor_id=staff["demo-doctor"],
            responsible_nurse_id=staff["demo-nurse"], reason="演示：产科一组", now=now,
        )  # fmt: skip


def demo_events(his_id: str, now: datetime) -> list[dict[str, Any]]:
    """The synthetic HIS events behind the demo's waiting work (fixed ids: posted once)."""
    at = now.isoformat()
    return [
        {
            "id": f"demo-dx-{his_id}-O14.1",
            "type": "diagnosis.added",
            "occurred_at": at,
            "patient": {"his_id": his_id},
            "data": {"code": "O14.1", "name": "重度子痫前期"},
        },
        {
            "id": f"demo-bp-{his_id}-systolic",
            "type": "lab.result",
            "occurred_at": at,
            "patient": {"his_id": his_id},
            "data": {"code": "bp_systolic", "value": 165, "unit": "mmHg"},
        },
    ]


def demo_work(db: Database, cipher: FieldCipher, integrator_id: int, now: datetime) -> None:
    """Post the demo events through the engine (an earlier run's are answered as replays)."""
    actor = Actor(DEMO_HOSPITAL, "integrator", str(integrator_id))
    for event in demo_events(URGENT_FOR, now):
        with contextlib.suppress(events.EventConflictError):
            events.post_event(db, cipher, actor, event, now)


def join_source(db: Database, team_id: int) -> None:
    """The demo's source (demo-doctor's card) brings a newcomer to 产科一组, with demo-doctor
    as her responsible doctor (docs/care-teams.md, registration's rule)."""
    with db.transaction() as session:
        for source in session.scalars(
            select(Source).where(Source.hospital_id == DEMO_HOSPITAL, Source.team_id.is_(None))
        ):
            source.team_id = team_id


def setup(db: Database, cipher: FieldCipher, integrator_id: int, his_ids: list[str], now: datetime) -> int:
    """The team, her care and the waiting work, in that order (so the tasks find their doctor)."""
    team_id = demo_team(db, now)
    demo_care(db, team_id, his_ids, now)
    if URGENT_FOR in his_ids:
        demo_work(db, cipher, integrator_id, now)
    return team_id
