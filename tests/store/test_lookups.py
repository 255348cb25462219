"""The search lookups of migration 0026: her name's keyed hash and her stored EDD, written with
every change and filled for old rows by ``carepath db backfill-lookups``."""

from __future__ import annotations

from datetime import date

from flask import Flask
from sqlalchemy import select, update

from carepath.store.lookups import backfill
from carepath.store.models import Patient, Pregnancy
from tests.store.test_care_teams import db_of
from tests.webapi.conftest import Api, registration


def _cipher(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["carepath.cipher"]


def _rows(app: Flask) -> tuple[Patient, Pregnancy]:
    with db_of(app).reading() as session:
        patient = session.scalars(select(Patient)).one()
        pregnancy = session.scalars(select(Pregnancy)).one()
        session.expunge_all()
    return patient, pregnancy


def test_registration_writes_the_name_hash_and_the_edd(app: Flask, api: Api) -> None:
    assert api.post("/api/v1/events", registration(name="王小红")).status_code in (200, 201)
    patient, pregnancy = _rows(app)
    cipher = _cipher(app)
    assert patient.name_hash == cipher.name_hash("王小红")
    assert pregnancy.edd == date(2026, 10, 12)  # LMP 2026-01-05 + 280 days
    assert pregnancy.edd.isoformat() == pregnancy.state["edd"]


def test_a_name_is_matched_normalised_but_not_loosely(app: Flask) -> None:
    cipher = _cipher(app)
    assert cipher.name_hash(" 王 小红 ") == cipher.name_hash("王小红")
    assert cipher.name_hash("王小红") == cipher.name_hash("王小红\u3000")  # ideographic space
    assert cipher.name_hash("ＬＩ　Ｎａ") == cipher.name_hash("Li Na")  # full-width forms (NFKC)
    assert cipher.name_hash("王小红") != cipher.name_hash("王小")
    assert cipher.name_hash("王小红") != cipher.lookup_hash("phone", "王小红")  # kinds stay apart


def test_redating_moves_the_stored_edd(app: Flask, api: Api) -> None:
    assert api.post("/api/v1/events", registration(name="王小红")).status_code in (200, 201)
    redated = {
        "id": "scan-001",
        "type": "dating.ultrasound",
        "occurred_at": "2026-07-10T14:30:00+08:00",
        "patient": {"his_id": "p-001"},
        "data": {"scan_date": "2026-03-06", "ga": "10+3"},  # 13 days ahead of her LMP: redated
    }
    answer = api.post("/api/v1/events", redated)
    assert answer.status_code in (200, 201), answer.get_data(as_text=True)
    _, pregnancy = _rows(app)
    assert pregnancy.edd is not None and pregnancy.edd != date(2026, 10, 12)
    assert pregnancy.edd.isoformat() == pregnancy.state["edd"]


def test_backfill_fills_old_rows_once_and_page_by_page(app: Flask, api: Api) -> None:
    for n in range(3):
        body = registration(
            his_id=f"p-{n}", event_id=f"reg-{n}", name=f"李{n}", id_number=_id(n), phone=f"1381234000{n}"
        )
        assert api.post("/api/v1/events", body).status_code in (200, 201)
    with db_of(app).transaction() as session:  # as a row written before 0026 looks
        session.execute(update(Patient).values(name_hash=None))
        session.execute(update(Pregnancy).values(edd=None))
    done = backfill(db_of(app), _cipher(app), page=2)
    assert (done.names, done.edds) == (3, 3)
    with db_of(app).reading() as session:
        hashes = dict(session.execute(select(Patient.his_patient_id, Patient.name_hash)).all())
        edds = session.scalars(select(Pregnancy.edd)).all()
    assert hashes == {f"p-{n}": _cipher(app).name_hash(f"李{n}") for n in range(3)}
    assert all(edd == date(2026, 10, 12) for edd in edds)
    again = backfill(db_of(app), _cipher(app), page=2)
    assert (again.names, again.edds) == (0, 0)


def _id(n: int) -> str:
    from tests.conftest import resident_id

    return resident_id(n)
