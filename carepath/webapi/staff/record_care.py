"""Her team and the people responsible for her, changed from her record (issue 20 items 1 and
3): ``POST /staff/patients/<pregnancy_id>/care`` (``patient.write``, checked in
``auth/permissions.py``) calls ``care_teams.set_care``, which checks each person is an active
member of her (new) team, writes the history, audits the change and re-routes her open unclaimed
tasks. A refusal shows her record again with the field's error in Chinese (422), nothing
written; another hospital's woman answers 404, another hospital's team is "no such team".
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_babel import gettext

from carepath.store import care_teams
from carepath.store.care_routing import is_member
from carepath.store.models_teams import RESPONSIBLE
from carepath.store.roles import label
from carepath.store.scope import PregnancyNotFoundError
from carepath.webapi.auth.permissions import current_staff, require
from carepath.webapi.staff.record import not_found, record_page_with

blp = Blueprint("staff_record_care", __name__, url_prefix="/staff/patients")

#: The reason's limit (as the record's other actions).
REASON_LIMIT = 200
MESSAGES = {
    "reason-required": label("Give a reason."),
    "reason-too-long": label("The reason is too long (at most 200 characters)."),
    "bad-team": label("Choose her team."),
    "bad-person": label("Choose a member of her team, or nobody."),
    "team-not-found": label("No such team in your hospital."),
    "not-team-member": label("That person is not an active member of the team."),
}


def _refused(pregnancy_id: str, errors: dict[str, str]) -> Any:
    shown = {field: gettext(MESSAGES[code]) for field, code in errors.items()}
    form = {k: v[:500] for k, v in request.form.items() if k != "csrf_token"}
    return record_page_with(pregnancy_id, errors={**shown, "action": request.path}, form=form, status=422)


@blp.post("/<pregnancy_id>/care")
@require("patient.write")
def change_care(pregnancy_id: str) -> Any:
    me = current_staff()
    assert me is not None
    db, now = current_app.extensions["carepath.db"], current_app.config["CLOCK"]()
    pregnancy_id = pregnancy_id[:80]
    team = request.form.get("team", "").strip()
    people = {what: request.form.get(what, "").strip()[:20] for what in RESPONSIBLE}
    reason = request.form.get("reason", "").strip()
    errors: dict[str, str] = {}
    if not team.isdigit():
        errors["team"] = "bad-team"
    errors |= {what: "bad-person" for what, value in people.items() if value and not value.isdigit()}
    if not reason:
        errors["reason"] = "reason-required"
    elif len(reason) > REASON_LIMIT:
        errors["reason"] = "reason-too-long"
    if errors:
        return _refused(pregnancy_id, errors)
    chosen = {what: int(value) if value else None for what, value in people.items()}
    try:
        with db.reading() as session:  # how many changes she had (set_care checks whose she is)
            care = care_teams.care_of(session, pregnancy_id)
            before = len(care.history) if care is not None else 0
        after = care_teams.set_care(
            db,
            me.actor(request.remote_addr),
            pregnancy_id,
            team_id=int(team),
            responsible_doctor_id=chosen["responsible_doctor"],
            responsible_nurse_id=chosen["responsible_nurse"],
            case_manager_id=chosen["case_manager"],
            reason=reason,
            now=now,
        )
    except PregnancyNotFoundError:
        return not_found()
    except care_teams.TeamNotFoundError:
        return _refused(pregnancy_id, {"team": "team-not-found"})
    except care_teams.NotTeamMemberError:
        # set_care names no field: the people chosen who are not active members of the team
        with db.reading() as session:
            outside = [w for w, s in chosen.items() if s is not None and not is_member(session, int(team), s)]
        return _refused(pregnancy_id, {w: "not-team-member" for w in outside or ["team"]})
    if len(after.history) == before:
        flash(gettext("Nothing changed: her team and the people named for her are as they were."), "info")
    else:
        flash(gettext("Her care team and the people responsible for her are updated."), "ok")
    return redirect(url_for("staff_record.record_page", pregnancy_id=pregnancy_id))
