"""Her home page ``/h5/`` (我的孕期, issue 19 item 1): her name, today's gestational age and
EDD; this week's lesson and the baby this week; her next checkups and what is done at each;
what she has to do (问卷); her care team (until issue 20's teams: her hospital and its number);
her sections — 消息 with the count of what she has not read, 问卷, 我的数据.

What the page shows of the library and pathways is read by ``delivery/her_home.py``; her name
and dates by ``store/her_pages.py``. The URLs of the sections other modules serve are fixed by
issue 19's split (``/h5/forms``, ``/h5/my-data``): written here as paths, not ``url_for``, so
the page stands before their modules land.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, render_template

from carepath.delivery import her_home, her_item
from carepath.engine.clock import DAYS_PER_WEEK
from carepath.store import care_teams, her_forms, her_pages
from carepath.webapi.auth import patients
from carepath.webapi.h5 import blp

FORMS_URL = "/h5/forms"
MY_DATA_URL = "/h5/my-data"


@blp.get("/h5/")
@patients.require_patient
def home() -> Any:
    her = patients.current_patient()
    assert her is not None
    db, now = current_app.extensions["carepath.db"], current_app.config["CLOCK"]()
    today = her_pages.hospital_today(db, her.hospital_id, now)
    cipher = current_app.extensions["carepath.cipher"]
    with db.reading() as session:  # one session: her pregnancy is read once
        facts = her_pages.her_home_in(
            session,
            cipher,
            hospital_id=her.hospital_id,
            patient_id=her.patient_id,
            pregnancy_id=her.pregnancy_id,
            today=today,
        )
        content = her_home.home_content(
            session,
            hospital_id=her.hospital_id,
            patient_id=her.patient_id,
            pregnancy_id=her.pregnancy_id,
            home=facts,
            facts=her_item.her_facts(facts, today),
        )
        care_team = _care_team(care_teams.care_of(session, her.pregnancy_id))
        forms = her_forms.forms_for(session, her.pregnancy_id, now) if her.pregnancy_id else None
    return render_template(
        "h5/home.html",
        **facts,
        content=content,
        forms=forms,  # her forms due (store/her_forms.py); None shows only the link
        care_team=care_team,
        forms_url=FORMS_URL,
        my_data_url=MY_DATA_URL,
    )


def _care_team(care: care_teams.Care | None) -> dict[str, Any] | None:
    """Her team and the people named for her, as she reads them (issue 20's care row); None
    when nobody is named and no team is set, and the page shows her hospital alone."""
    if care is None:
        return None
    named = (
        ("主管医生", care.responsible_doctor),
        ("责任护士", care.responsible_nurse),
        ("个案管理", care.case_manager),
    )
    members = [{"role": role, "name": person.name} for role, person in named if person is not None]
    if care.team is None and not members:
        return None
    return {"name": care.team.name if care.team else None, "members": members}


@blp.app_template_filter("h5_day")
def h5_day(value: date) -> str:
    """A day as she reads it: 2027年1月3日."""
    return f"{value.year}年{value.month}月{value.day}日"


@blp.app_template_filter("h5_ga")
def h5_ga(days: int) -> str:
    """Her gestational age as she reads it: 孕24周3天 (孕24周 on the first day of the week)."""
    weeks, rest = divmod(days, DAYS_PER_WEEK)
    return f"孕{weeks}周{rest}天" if rest else f"孕{weeks}周"
