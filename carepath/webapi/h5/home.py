"""Her home page ``/h5/``: her name and week, and her sections by their Chinese names. Part 1
lists 消息 (her inbox) and 问卷 (a placeholder, 即将开放, until part 2 brings her forms)."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template

from carepath.store import her_pages
from carepath.webapi.auth import patients
from carepath.webapi.h5 import blp


@blp.get("/h5/")
@patients.require_patient
def home() -> Any:
    her = patients.current_patient()
    assert her is not None
    db, now = current_app.extensions["carepath.db"], current_app.config["CLOCK"]()
    today = her_pages.hospital_today(db, her.hospital_id, now)
    cipher = current_app.extensions["carepath.cipher"]
    facts = her_pages.her_home(
        db,
        cipher,
        hospital_id=her.hospital_id,
        patient_id=her.patient_id,
        pregnancy_id=her.pregnancy_id,
        today=today,
    )
    return render_template("h5/home.html", **facts)
