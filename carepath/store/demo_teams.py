"""The demo's care team (issue 20 item 5): demo-doctor and demo-nurse in 产科一组 (the doctor
leads it), the demo pregnancies in it with demo-doctor as their responsible doctor and
demo-nurse as their nurse, and work waiting for them: synthetic HIS events, evaluated by the
engine like any other, give demo-002 a severe pre-eclampsia diagnosis (a suggested orange a
doctor has to confirm) and a clinic blood pressure of 165/112 (the hypertension pathway's
urgent task, due in an hour). Everything is synthetic; running setup again changes nothing.

Her diagnosis came the day the HIS booked her, two days before setup (``demo.booked_at``); the
engine then runs her wake-ups of the days between, each at its own time as the scheduler would
have, so the hypertension pathway's BP log has been sent to her by the day of setup (issue 19's
"Done when": she fills it in). Her clinic reading is today's, so its task is due in an hour.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from sqlalchemy import select

from carepath.store import care_teams, evaluation, events
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.demo import booked_at
from carepath.store.models import Patient, Pregnancy, Staff
from carepath.store.models_sources import Source
from carepath.store.pathways import library_for
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
    """The synthetic HIS events behind the demo's waiting work (fixed ids: posted once): her
    diagnosis on the day she was booked, her clinic reading on the day of setup (``now``)."""
    return [
        {
            "id": f"demo-dx-{his_id}-O14.1",
            "type": "diagnosis.added",
            "occurred_at": booked_at(his_id, now).isoformat(),
            "patient": {"his_id": his_id},
            "data": {"code": "O14.1", "name": "重度子痫前期"},
        },
        {
            "id": f"demo-bp-{his_id}-systolic",
            "type": "lab.result",
            "occurred_at": now.isoformat(),
            "patient": {"his_id": his_id},
            "data": {"code": "bp_systolic", "value": 165, "unit": "mmHg"},
        },
    ]


def demo_work(db: Database, cipher: FieldCipher, integrator_id: int, now: datetime) -> None:
    """Post the demo events through the engine, each evaluated at its own time, her wake-ups
    between them run as the scheduler would have (an earlier run's events are replays)."""
    actor = Actor(DEMO_HOSPITAL, "integrator", str(integrator_id))
    for event in demo_events(URGENT_FOR, now):
        at = datetime.fromisoformat(event["occurred_at"])
        catch_up(db, URGENT_FOR, at)
        with contextlib.suppress(events.EventConflictError):
            events.post_event(db, cipher, actor, event, at)


def catch_up(db: Database, his_id: str, until: datetime) -> None:
    """Evaluate the demo woman ``his_id`` at each of her wake-ups up to ``until``, at its own
    time (what ``wakeups.wake_due`` does for every due pregnancy, one tick at a time)."""
    last: datetime | None = None
    while True:
        with db.transaction() as session:
            pregnancy = session.scalars(
                select(Pregnancy)
                .join(Patient, Patient.id == Pregnancy.patient_id)
                .where(Patient.hospital_id == DEMO_HOSPITAL, Patient.his_patient_id == his_id)
            ).first()
            at = pregnancy.next_wakeup if pregnancy is not None else None
            if pregnancy is None or at is None or at > until or at == last:  # == last: no progress
                return
            last = at
            library = library_for(session, pregnancy.hospital_id)
            evaluation.evaluate_pregnancy(
                session, library, pregnancy, evaluation.load(pregnancy), None, now=at
            )


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
