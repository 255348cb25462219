"""`carepath demo setup` gives demo-doctor and demo-nurse a team (产科一组, the doctor leads
it), the demo pregnancies in it with demo-doctor as their doctor, and work waiting: an urgent
task the engine opened from synthetic HIS events, and a suggested orange to confirm. Set up
twice, it is the same demo."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from carepath.store.models import Pregnancy, StaffTask
from carepath.store.models_sources import Source
from carepath.store.models_teams import CareTeam, PregnancyCare, PregnancyCareChange
from carepath.store.state_codec import stored_colour
from tests.cli.test_demo_setup import instance, set_up  # noqa: F401  (instance: a fixture)


def test_the_demo_team_has_its_women_and_an_urgent_task_waiting(instance: Path) -> None:  # noqa: F811
    from carepath.cli.common import load_app
    from carepath.store import care_teams

    set_up(instance)
    database = load_app().extensions["carepath.db"]

    def snapshot() -> tuple[int, int, int]:
        with database.reading() as session:
            return (
                session.scalar(select(func.count()).select_from(StaffTask)) or 0,
                session.scalar(select(func.count()).select_from(PregnancyCareChange)) or 0,
                session.scalar(select(func.count()).select_from(CareTeam)) or 0,
            )

    first = snapshot()
    with database.reading() as session:
        teams = {t.name: t for t in care_teams.list_teams(session, "demo")}
        team = teams["产科一组"]
        by_name = {m.name: m for m in team.members}
        doctor, nurse = by_name["演示医生"], by_name["演示护士"]
        cares = session.scalars(select(PregnancyCare).where(PregnancyCare.hospital_id == "demo")).all()
        urgent = session.scalars(
            select(StaffTask).where(StaffTask.priority == "urgent", StaffTask.status == "open")
        ).all()
        colours = [stored_colour(p.state.get("facts", {})) for p in session.scalars(select(Pregnancy))]
    assert (doctor.team_role, nurse.team_role) == ("doctor", "nurse")
    assert team.lead is not None and team.lead.id == doctor.staff_id
    assert len(cares) == 3
    assert {(c.team_id, c.responsible_doctor_id, c.responsible_nurse_id) for c in cares} == {
        (team.id, doctor.staff_id, nurse.staff_id)
    }
    assert urgent and all((t.team_id, t.assignee_id) == (team.id, doctor.staff_id) for t in urgent)
    assert any("160/110" in t.title for t in urgent)
    assert {"risk_colour": "orange", "risk_colour_status": "suggested"} in colours
    with database.reading() as session:
        sources = session.scalars(select(Source)).all()
    assert sources and {(s.team_id, s.staff_id) for s in sources} == {(team.id, doctor.staff_id)}

    set_up(instance)  # again: the same demo
    assert snapshot() == first
