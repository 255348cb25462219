"""``/staff/teams``: the hospital's care teams (团队), their members and leads (issue 20 item 1).

Admins only (``staff.manage``, checked in ``webapi/auth/permissions.py`` like every page), and
only their own hospital's teams and staff: another hospital's team is not found. The service is
``store/care_teams.py``; each change is audited there. Who a woman's team and responsible doctor
are is changed on her record, not here.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext

from carepath.store import accounts, care_teams
from carepath.store.models_teams import TEAM_KINDS, TEAM_ROLES
from carepath.webapi.auth.permissions import current_staff, record_not_found, require

blp = Blueprint("staff_teams", __name__, url_prefix="/staff/teams")

KIND_LABELS = {
    "obstetric": lazy_gettext("Obstetric team"),
    "midwives": lazy_gettext("Midwives"),
    "nutrition": lazy_gettext("Nutrition"),
    "school": lazy_gettext("Pregnancy school"),
    "mental_health": lazy_gettext("Mental health"),
    "other": lazy_gettext("Other"),
}
ROLE_LABELS = {
    "doctor": lazy_gettext("Doctor"),
    "nurse": lazy_gettext("Nurse"),
    "midwife": lazy_gettext("Midwife"),
    "case_manager": lazy_gettext("Case manager"),
    "nutritionist": lazy_gettext("Nutritionist"),
    "teacher": lazy_gettext("Teacher"),
}


def _messages() -> dict[str, str]:
    """The sentence for each refused change, by its stable code."""
    return {
        "team-not-found": gettext("No such team in your hospital."),
        "not-team-member": gettext("That person is not an active member of the team."),
        "team-name-taken": gettext("Your hospital already has a team of that name."),
        "team-name-invalid": gettext("A team's name is 1 to 100 characters."),
        "team-kind-invalid": gettext("Choose what the team is for."),
        "team-role-invalid": gettext("Choose the member's role in the team."),
        "team-is-default": gettext("The default team cannot be archived."),
        "team-in-use": gettext("The team still has women in it: move them to another team first."),
    }


def _context() -> tuple[Any, Any, Any]:
    staff = current_staff()
    assert staff is not None
    return current_app.extensions["carepath.db"], current_app.config["CLOCK"](), staff


def _page(error: str | None = None, status: int = 200, form: dict[str, str] | None = None) -> Any:
    db, _now, me = _context()
    with db.reading() as session:
        teams = care_teams.list_teams(session, me.hospital_id)
    staff = [s for s in accounts.list_staff(db, me.hospital_id) if not s.disabled]
    page = render_template(
        "teams/teams.html",
        teams=teams,
        staff=staff,
        kinds=TEAM_KINDS,
        team_roles=TEAM_ROLES,
        kind_labels=KIND_LABELS,
        role_labels=ROLE_LABELS,
        error=error,
        form=form or {},
    )
    return page, status


@blp.get("")
@require("staff.manage")
def teams_page() -> Any:
    return _page()


def _int(name: str) -> int | None:
    value = request.form.get(name, "")
    return int(value) if value.isdigit() else None


def _act(work: Any, done: str, form: dict[str, str] | None = None) -> Any:
    """Run one change; a refused one re-renders the page with its message (422), an unknown
    team is a 404 (counted like every id the caller may not see)."""
    try:
        work()
    except care_teams.TeamNotFoundError:
        record_not_found("team")
        message = gettext("No such team in your hospital.")
        return render_template("error.html", title=gettext("Not found"), message=message), 404
    except care_teams.CareTeamError as exc:
        return _page(_messages().get(exc.code, gettext("This change cannot be made.")), 422, form)
    flash(done, "info")
    return redirect(url_for("staff_teams.teams_page"))


@blp.post("")
@require("staff.manage")
def team_create() -> Any:
    db, now, me = _context()
    form = {"name": request.form.get("name", "")[:200], "kind": request.form.get("kind", "obstetric")}
    return _act(
        lambda: care_teams.create_team(db, me.actor(request.remote_addr), form["name"], form["kind"], now),
        gettext("Created the team %(name)s.", name=form["name"].strip()),
        form,
    )


@blp.post("/<int:team_id>/members")
@require("staff.manage")
def member_add(team_id: int) -> Any:
    db, now, me = _context()
    staff_id = _int("staff_id")
    role = request.form.get("team_role", "")

    def work() -> None:
        if staff_id is None:
            raise care_teams.NotTeamMemberError("no staff member chosen")
        care_teams.add_member(db, me.actor(request.remote_addr), team_id, staff_id, team_role=role, now=now)

    return _act(work, gettext("Saved the team's members."))


@blp.post("/<int:team_id>/members/<int:staff_id>/remove")
@require("staff.manage")
def member_remove(team_id: int, staff_id: int) -> Any:
    db, now, me = _context()
    return _act(
        lambda: care_teams.remove_member(db, me.actor(request.remote_addr), team_id, staff_id, now),
        gettext("Removed from the team."),
    )


@blp.post("/<int:team_id>/lead")
@require("staff.manage")
def lead_set(team_id: int) -> Any:
    db, now, me = _context()
    return _act(
        lambda: care_teams.set_lead(db, me.actor(request.remote_addr), team_id, _int("staff_id"), now),
        gettext("Saved the team's lead."),
    )
