"""Issue 21's "Done when", item 2, tried on the demo as a new user would: `carepath demo setup`
says which name to type; the demo doctor types it on 患者 (查找孕妇) and finds that woman, masked,
linked to her record. A demo set up before migration 0026 gets its names' hashes at setup."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.cli.test_demo_setup import instance, set_up  # noqa: F401  (instance: a fixture)
from tests.cli.test_demo_walkthrough import BASE, _csrf

NOW = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)


def test_the_demo_doctor_finds_a_demo_woman_by_name(instance: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    from carepath import webapi
    from carepath.cli.common import load_app
    from carepath.store.models import Patient, Pregnancy

    monkeypatch.setattr(webapi, "_now", lambda: NOW)
    set_up(instance, "--url", BASE)
    app = load_app()
    with app.extensions["carepath.db"].transaction() as session:  # as a demo made before 0026
        session.execute(update(Patient).values(name_hash=None))
    output = set_up(instance, "--url", BASE)  # setup again: idempotent, and fills the hashes
    told = re.search(r"^find a woman by name: +\S+/staff/patients, 姓名 (\S+) \((demo-\d+)\)$", output, re.M)
    assert told, output
    name, his_id = told.groups()
    with app.extensions["carepath.db"].reading() as session:
        wanted = session.scalar(
            select(Pregnancy.id)
            .join(Patient, Patient.id == Pregnancy.patient_id)
            .where(Patient.his_patient_id == his_id)
        )
        assert None not in session.scalars(select(Patient.name_hash)).all()
    doctor_login = re.search(r"^  demo-doctor +(\S+)", output, re.M)
    assert doctor_login
    doctor = app.test_client()
    login_page = doctor.get("/login").get_data(as_text=True)
    doctor.post(
        "/login",
        data={"csrf_token": _csrf(login_page), "username": "demo-doctor", "password": doctor_login.group(1)},
    )
    form = doctor.get("/staff/patients").get_data(as_text=True)
    assert "查找孕妇" in form
    found = doctor.post("/staff/patients", data={"csrf_token": _csrf(form), "name": name})
    page = found.get_data(as_text=True)
    assert found.status_code == 200, page
    assert re.findall(r'<tr class="woman found" data-pregnancy="([^"]+)"', page) == [wanted]
    assert name not in page.split('id="found"')[1] and f'href="/staff/patients/{wanted}"' in page
