"""Issue 19's "Done when", tried on the demo as a new user would: `carepath demo setup` prints her
pages signed in as the demo woman whose BP log is due (demo-002, in the hypertension pathway
by her O14.1); she fills it with 166/104 and a headache, reads the urgent advice and the
hospital's emergency number, finds her answer in her data download; the demo nurse sees the
urgent task it opened. Her BP log is due on the day of setup whatever its hour: the demo books
her before that day and lets the engine run her days since (synthetic events and time, no row
written by hand)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_demo_setup import instance, set_up  # noqa: F401  (instance: a fixture)

BASE = "http://127.0.0.1:8000"

#: Hours of setup across the demo hospital's day (Asia/Shanghai is UTC+8): just after its
#: midnight, inside its send window, just before its midnight.
SETUP_HOURS = [
    datetime(2026, 12, 7, 16, 40, tzinfo=UTC),  # 00:40 in Shanghai
    datetime(2026, 12, 8, 3, 0, tzinfo=UTC),  # 11:00
    datetime(2026, 12, 8, 15, 30, tzinfo=UTC),  # 23:30
]


def _her_sign_in(output: str, his_id: str) -> str:
    match = re.search(
        rf"her pages, signed in as {his_id}\b.*: {re.escape(BASE)}(/h5/demo/sign-in/\S+)$", output, re.M
    )
    assert match, output
    return match.group(1)


def _serve_starts(now: datetime) -> Any:
    """The app `carepath serve` runs after setup, with its first dispatch round (at ``now``):
    what the demo's past made due is filed in her inbox, the rest waits for the send window."""
    from carepath.cli.common import load_app
    from carepath.cli.delivery import delivery_setup
    from carepath.delivery.dispatcher import dispatch_once

    app = load_app()
    with app.app_context():
        dispatch_once(
            app.extensions["carepath.db"],
            now,
            delivery_setup(None, app),
            cipher=app.extensions["carepath.cipher"],
        )
    return app


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page) or re.search(
        r'<meta name="csrf-token" content="([^"]+)"', page
    )
    assert match, page
    return match.group(1)


@pytest.mark.parametrize("now", SETUP_HOURS, ids=lambda d: d.strftime("%H%MZ"))
def test_the_demo_prints_her_pages_for_the_woman_whose_bp_log_is_due(
    instance: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    now: datetime,
) -> None:
    from carepath import webapi

    monkeypatch.setattr(webapi, "_now", lambda: now)  # create_app's CLOCK
    output = set_up(instance, "--url", BASE)
    client = _serve_starts(now).test_client()
    assert client.get(_her_sign_in(output, "demo-002")).status_code == 302
    forms = client.get("/h5/forms").get_data(as_text=True)
    due = forms.split('id="done-heading"')[0]
    assert "家庭血压记录" in due, forms
    assert "家庭血压记录" in client.get("/h5/").get_data(as_text=True)  # her home's 待办


def test_the_demo_woman_reports_166_over_104_and_a_headache_and_the_nurse_sees_the_task(
    instance: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from carepath import webapi

    now = SETUP_HOURS[1]
    monkeypatch.setattr(webapi, "_now", lambda: now)
    output = set_up(instance, "--url", BASE)
    app = _serve_starts(now)
    her = app.test_client()
    her.get(_her_sign_in(output, "demo-002"))
    home = her.get("/h5/").get_data(as_text=True)
    assert "这一周" in home  # this week's lesson

    forms = her.get("/h5/forms").get_data(as_text=True)
    [form_path] = re.findall(
        r'href="(/h5/forms/\d+)"><strong>家庭血压记录<', forms.split('id="done-heading"')[0]
    )
    page = her.get(form_path).get_data(as_text=True)
    submission = re.search(r'name="submission" value="([^"]+)"', page)
    assert submission
    answer = {
        "csrf_token": _csrf(page),
        "submission": submission.group(1),
        "measured_on": now.date().isoformat(),
        "time_of_day": "morning",
        "systolic": "166",
        "diastolic": "104",
        "symptoms": "headache",
    }
    posted = her.post(form_path, data=answer)
    assert posted.status_code == 303, posted.get_data(as_text=True)
    done = her.get(form_path).get_data(as_text=True)
    assert 'id="urgent"' in done and "请马上按下面的提示做" in done
    phone = re.search(r'id="emergency-phone">([^<]+)<', done)
    assert phone and phone.group(1) != "120"  # the hospital's own number, not only 120
    download = her.get("/h5/my-data/download.json")
    assert download.status_code == 200 and "166" in download.get_data(as_text=True)

    nurse_login = re.search(r"^  demo-nurse +(\S+)", output, re.M)
    assert nurse_login
    nurse = app.test_client()
    login_page = nurse.get("/login").get_data(as_text=True)
    nurse.post(
        "/login",
        data={"csrf_token": _csrf(login_page), "username": "demo-nurse", "password": nurse_login.group(1)},
    )
    work = nurse.get("/staff/work/rows", headers={"X-Requested-With": "fetch"})
    assert work.status_code == 200
    listed = work.get_data(as_text=True)
    assert "头痛、视物模糊或上腹痛，请立即联系评估" in listed
    # why her clinic reading's task exists, in words: the event by its name, the lab by its title
    assert "化验结果（收缩压）" in listed and "lab.result" not in listed
    patients = nurse.get("/staff/patients").get_data(as_text=True)
    row = next(r for r in patients.split("<tr") if "138****0002" in r)
    record_path = re.search(r'href="(/staff/patients/[0-9a-f]+)"', row)
    assert record_path
    record = nurse.get(record_path.group(1)).get_data(as_text=True)  # her answer, why each thing
    assert "家庭血压记录" in record and "None" not in record
    assert "ivf:" not in record and "{&#39;" not in record and "胚胎移植日" in record  # her dating in words
