"""Registration at the desk (issue 21 item 3): the store service on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from carepath.store import desk_registration, hospital_settings, registration
from carepath.store.models import AuditEntry, Consent, Integrator, Patient, Pregnancy
from carepath.store.models_registration import Registration
from carepath.store.registration_form import NOTICE_VERSION, CheckedForm, RegistrationInvalidError, check_form
from carepath.store.scope import Actor
from tests.conftest import NOW, resident_id, set_hospital_settings
from tests.registration_fields import form_fields, getters

NURSE = Actor("a", "staff", "41", "10.0.0.9")


def desk_form(n: int = 1, **override: Any) -> CheckedForm:
    fields = form_fields(n, consent_method="paper", **override)
    get, get_list = getters(fields)
    return check_form(get, get_list, NOW, at_desk=True)


def register(app: Flask, token: str, form: CheckedForm, actor: Actor = NURSE) -> desk_registration.Outcome:
    db, cipher = app.extensions["carepath.db"], app.extensions["carepath.cipher"]
    return desk_registration.register_at_desk(db, cipher, actor, token, form, now=NOW)


def count(app: Flask, model: Any) -> int:
    with app.extensions["carepath.db"].reading() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_no_consent_recorded_no_registration_in_chinese() -> None:
    get, get_list = getters(form_fields(1, consent_method=None, notice=None, consent_health=None))
    with pytest.raises(RegistrationInvalidError) as refused:
        check_form(get, get_list, NOW, at_desk=True)
    assert set(refused.value.errors) == {"consent_method", "notice", "consent_health"}
    assert "没有她本人的同意不能建档" in refused.value.errors["consent_method"]
    assert refused.value.errors["consent_health"] == "没有她本人对处理健康信息的单独同意，不能建档"


def test_her_own_pages_record_no_consent_method() -> None:
    get, get_list = getters(form_fields(1, consent_method="paper"))
    assert check_form(get, get_list, NOW).consent_method is None  # the box is the desk's only


def test_a_check_digit_that_fails_is_refused_as_on_her_own_form() -> None:
    wrong = resident_id(1)[:-1] + ("0" if resident_id(1)[-1] != "0" else "1")
    get, get_list = getters(form_fields(1, consent_method="tablet", id_number=wrong))
    with pytest.raises(RegistrationInvalidError) as refused:
        check_form(get, get_list, NOW, at_desk=True)
    assert "校验" in refused.value.errors["id_number"]


def test_a_new_woman_is_registered_with_her_consent_as_the_nurse_recorded_it(app: Flask) -> None:
    done = register(app, "desk-1", desk_form(1))
    assert isinstance(done, registration.Registered) and done.proven_by == "staff:41"
    with app.extensions["carepath.db"].reading() as session:
        pregnancy = session.get(Pregnancy, done.pregnancy_id)
        assert pregnancy is not None and pregnancy.status == "pregnant"
        consents = session.scalars(select(Consent).where(Consent.patient_id == done.patient_id)).all()
        assert {(c.channel, c.topic) for c in consents} >= {
            ("*", "privacy-notice"),
            ("*", "health-information"),
        }
        assert {(c.source, c.method, c.notice_version) for c in consents} == {
            ("staff:41", "paper", NOTICE_VERSION)
        }
        row = session.scalar(select(Registration).where(Registration.token == "desk-1"))
        assert row is not None and row.status == "done" and row.remote_addr is None
        poster = session.scalar(
            select(Integrator.name).where(Integrator.hospital_id == "a", Integrator.name == "desk")
        )
        assert poster == "desk"  # her registration event was posted as the desk, not as her pages
        audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "register")).all()
    assert [(a.actor, a.patient_id, a.pregnancy_id, a.remote_addr) for a in audited] == [
        ("staff:41", done.patient_id, done.pregnancy_id, "10.0.0.9")
    ]
    assert audited[0].detail.startswith(
        f"registered at the desk: registration {row.reference}; consent paper"
    )


def test_the_same_form_sent_twice_registers_once(app: Flask) -> None:
    first = register(app, "desk-1", desk_form(1))
    again = register(app, "desk-1", desk_form(1))
    assert again == first
    assert count(app, Patient) == 1 and count(app, Pregnancy) == 1


def test_an_id_number_on_file_registers_nothing_and_names_her_record(app: Flask) -> None:
    first = register(app, "desk-1", desk_form(1))
    assert isinstance(first, registration.Registered)
    before = {m.__tablename__: count(app, m) for m in (Patient, Pregnancy, Consent, Registration)}
    second = register(app, "desk-2", desk_form(1, name="张丽丽", phone="13800000000"))
    assert second == desk_registration.OnFile(first.patient_id, first.pregnancy_id)
    assert {m.__tablename__: count(app, m) for m in (Patient, Pregnancy, Consent, Registration)} == before
    with app.extensions["carepath.db"].reading() as session:
        patient = session.get(Patient, first.patient_id)
        assert patient is not None
        assert app.extensions["carepath.cipher"].open(patient.name_sealed) == "张丽"  # not overwritten
        on_file = session.scalars(select(AuditEntry).where(AuditEntry.action == "register-on-file")).all()
    assert [(a.actor, a.patient_id) for a in on_file] == [("staff:41", first.patient_id)]


def test_another_hospitals_woman_is_not_on_file_here(app: Flask) -> None:
    register(app, "desk-b", desk_form(1), actor=Actor("b", "staff", "77"))
    done = register(app, "desk-a", desk_form(1))
    assert isinstance(done, registration.Registered)  # hospital a has no one of that number
    assert count(app, Patient) == 2


def test_only_a_staff_member_with_her_consent_registers_at_the_desk(app: Flask) -> None:
    get, get_list = getters(form_fields(1))
    own_form = check_form(get, get_list, NOW)  # her own page's form: no consent method
    with pytest.raises(ValueError):
        register(app, "desk-1", own_form)
    with pytest.raises(ValueError):
        register(app, "desk-1", desk_form(1), actor=Actor("a", "integrator", "3"))
    assert count(app, Patient) == 0


def test_the_card_reader_setting_takes_the_desk_pcs_service(app: Flask) -> None:
    db = app.extensions["carepath.db"]
    assert hospital_settings.current(db, "a").id_reader_url is None  # the default: no button
    saved = set_hospital_settings(db, "a", id_reader_url="http://127.0.0.1:18080/api/readcard")
    assert saved.id_reader_url == "http://127.0.0.1:18080/api/readcard"
    for bad in ("ftp://127.0.0.1/card", "http://user:pw@127.0.0.1/card", "127.0.0.1:18080", "http://x/#a"):
        with pytest.raises(hospital_settings.InvalidSettingsError):
            set_hospital_settings(db, "a", id_reader_url=bad)
