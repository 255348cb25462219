"""Women for the 患者 list and her record's page tests: registered and diagnosed through the
signed API (as the HIS would; registration gives her the hospital's default team), moved to a
care team through ``care_teams.set_care``, as staff would."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from tests.conftest import NOW
from tests.webapi.conftest import Api, StaffBrowser, diagnosis, make_staff, registration


def register(api: Api, his_id: str = "p-001", *, code: str | None = "O44.1", n: int = 1) -> str:
    """A woman of ``api``'s hospital (orange suggested when ``code`` is a placenta praevia);
    her pregnancy id."""
    answer = api.post(
        "/api/v1/events",
        registration(
            his_id, f"reg-{his_id}", name="王小红", id_number=_id_number(n), phone=f"1381234{n:04d}"
        ),
    )
    assert answer.status_code == 201, answer.get_json()
    if code is not None:
        posted = api.post("/api/v1/events", diagnosis(his_id, f"dx-{his_id}", code))
        assert posted.status_code == 201, posted.get_json()
    return str(answer.get_json()["pregnancy"])


def _id_number(n: int) -> str:
    from tests.conftest import resident_id

    return resident_id(n)


def team(
    app: Flask, hospital: str = "a", name: str = "产科一组", *, members: tuple[tuple[int, str], ...] = ()
) -> int:
    from carepath.store.models_teams import CareTeam, CareTeamMember

    with app.extensions["carepath.db"].transaction() as session:
        row = CareTeam(hospital_id=hospital, name=name, kind="obstetric", created_at=NOW, archived_at=None)
        session.add(row)
        session.flush()
        for staff_id, role in members:
            session.add(
                CareTeamMember(
                    team_id=row.id, staff_id=staff_id, team_role=role, added_at=NOW, removed_at=None
                )
            )
        return int(row.id)


def in_care(
    app: Flask,
    pregnancy_id: str,
    team_id: int,
    *,
    doctor: int | None = None,
    nurse: int | None = None,
    hospital: str = "a",
) -> None:
    """Her team (and doctor, nurse) set by an admin of ``hospital``, for the reason 建档分组."""
    from carepath.store import care_teams
    from carepath.store.scope import Actor

    care_teams.set_care(
        app.extensions["carepath.db"],
        Actor(hospital, "staff", "0"),
        pregnancy_id,
        team_id=team_id,
        responsible_doctor_id=doctor,
        responsible_nurse_id=nurse,
        reason="建档分组",
        now=NOW,
    )


def logged_in(app: Flask, username: str, *roles: str, hospital: str = "a") -> tuple[StaffBrowser, int]:
    staff_id = make_staff(app, username, *roles, hospital=hospital)
    browser = StaffBrowser(app.test_client())
    assert browser.login(username).status_code == 302
    return browser, staff_id


def form_request(page: str, form_id: str) -> str:
    """The one-time ``request`` token of a form of the record page."""
    start = page.index(f'id="{form_id}"')
    found = re.search(r'name="request" value="([^"]+)"', page[start:])
    assert found, f"no request token in {form_id}"
    return found.group(1)


def act(browser: StaffBrowser, pregnancy_id: str, path: str, form_id: str, data: dict[str, Any]) -> Any:
    """Post one of the record's forms as the page would (its CSRF and request tokens)."""
    record = f"/staff/patients/{pregnancy_id}"
    page = browser.client.get(record).get_data(as_text=True)
    return browser.post(
        f"{record}/{path}", {"request": form_request(page, form_id), **data}, token_from=record
    )
