"""Tenancy and masking: hospital A's integrator and staff never read or change B's patients."""

from __future__ import annotations

from typing import Any

from tests.conftest import NOW
from tests.webapi.conftest import Api, counts, diagnosis, registration


def _register(api: Api, his_id: str = "p-001") -> dict[str, Any]:
    response = api.post("/api/v1/events", registration(his_id, event_id=f"reg-{his_id}"))
    assert response.status_code == 201
    return response.get_json()


def test_listing_masks_id_number_phone_and_name(api: Api) -> None:
    _register(api)
    api.post(
        "/api/v1/events",
        {**registration(), "id": "reg-002", "patient": {"his_id": "p-001", "name": "王小红"}},
    )
    listed = api.get("/api/v1/patients").get_json()
    assert listed == [
        {
            "id": listed[0]["id"],
            "hospital": "a",
            "his_id": "p-001",
            "name": "王**",
            "id_number": "3301**********180X",
            "phone": "138****5678",
        }
    ]


def test_id_and_phone_are_encrypted_at_rest(api: Api, app: Any) -> None:
    from sqlalchemy import text

    _register(api)
    with app.extensions["carepath.db"].engine.connect() as conn:
        row = conn.execute(text("SELECT id_number_sealed, phone_sealed, id_number_hash FROM patients")).one()
    assert "33010219900412180X" not in "".join(row)
    assert "13812345678" not in "".join(row)
    assert row[0].startswith("v1.k1.")


def test_other_hospital_integrator_cannot_post_to_or_read_a_patient(api: Api, api_b: Api, app: Any) -> None:
    patient_id = None
    _register(api)
    listed = api.get("/api/v1/patients").get_json()
    patient_id = listed[0]["id"]
    before = counts(app)

    response = api_b.post("/api/v1/events", diagnosis())
    assert response.status_code == 422 and response.get_json()["code"] == "unknown-patient"
    by_id_number = diagnosis()
    by_id_number["patient"] = {"id_number": "33010219900412180X"}
    assert api_b.post("/api/v1/events", by_id_number).get_json()["code"] == "unknown-patient"
    assert counts(app) == before

    assert api_b.get("/api/v1/patients").get_json() == []
    response = api_b.get(f"/api/v1/patients/{patient_id}")
    assert response.status_code == 404
    assert response.get_json()["code"] == "patient-not-found"
    assert api.get(f"/api/v1/patients/{patient_id}").status_code == 200


def test_same_his_id_in_two_hospitals_are_two_patients(api: Api, api_b: Api) -> None:
    a = _register(api)
    b = _register(api_b)
    assert a["pregnancy"] != b["pregnancy"]
    assert len(api.get("/api/v1/patients").get_json()) == 1
    assert len(api_b.get("/api/v1/patients").get_json()) == 1


def test_staff_of_another_hospital_see_nothing_until_a_logged_grant(api: Api, app: Any) -> None:
    import pytest

    from carepath.store import patients
    from carepath.store.models import AuditEntry, PatientGrant
    from carepath.store.scope import Actor

    _register(api)
    db, cipher = app.extensions["carepath.db"], app.extensions["carepath.cipher"]
    nurse_a = Actor("a", "staff", "1", "10.0.0.1")
    nurse_b = Actor("b", "staff", "2", "10.0.0.2")
    patient_id = patients.list_patients(db, cipher, nurse_a, NOW)[0]["id"]
    assert patients.list_patients(db, cipher, nurse_b, NOW) == []
    with pytest.raises(patients.PatientNotFoundError):
        patients.get_patient(db, cipher, nurse_b, patient_id, NOW)
    with pytest.raises(patients.PatientNotFoundError):  # B cannot grant A's patient to itself
        patients.grant(db, nurse_b, patient_id, grantee_hospital_id="b", reason="x", now=NOW)
    assert patients.find_by_id_number(db, cipher, nurse_b, "33010219900412180X", NOW) is None
    assert patients.find_by_id_number(db, cipher, nurse_a, "33010219900412180x", NOW) is not None
    patients.grant(db, nurse_a, patient_id, grantee_hospital_id="b", reason="referral", now=NOW)
    record = patients.get_patient(db, cipher, nurse_b, patient_id, NOW)
    assert record["id_number"] == "3301**********180X"
    with db.reading() as session:
        assert session.query(PatientGrant).count() == 1
        actors = {row.actor for row in session.query(AuditEntry)}
    assert {"staff:1", "staff:2", "integrator:1"} <= actors


def test_patient_record_lists_actions_and_is_audited(api: Api, app: Any) -> None:
    from carepath.store.models import AuditEntry

    _register(api)
    api.post("/api/v1/events", diagnosis())
    patient_id = api.get("/api/v1/patients").get_json()[0]["id"]
    record = api.get(f"/api/v1/patients/{patient_id}").get_json()
    pregnancy = record["pregnancies"][0]
    assert "GDM管理中" in pregnancy["tags"]
    assert any(a["rule"] == "welcome" for a in pregnancy["actions"])
    with app.extensions["carepath.db"].reading() as session:
        reads = session.query(AuditEntry).filter(AuditEntry.action == "read").count()
    assert reads == 1
