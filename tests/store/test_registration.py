"""Her registration from her pages (issue 18 items 4, 5, 7): the store service on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from carepath.delivery.inbox_now import file_due_now
from carepath.store import registration
from carepath.store.models import (
    ChannelBinding,
    Consent,
    EnrolmentRecord,
    InboxItem,
    OutboxRow,
    Patient,
    Pregnancy,
    QuestionnaireResponse,
    StaffTask,
)
from carepath.store.models_registration import Registration
from carepath.store.registration_form import NOTICE_VERSION, CheckedForm, RegistrationInvalidError, check_form
from carepath.store.scope import Actor
from tests.conftest import NOW, resident_id, set_hospital_settings
from tests.registration_fields import form_fields, getters, screen_fields
from tests.webapi.conftest import Api
from tests.webapi.conftest import registration as his_registration

TABLES = (
    Patient,
    Pregnancy,
    Consent,
    ChannelBinding,
    QuestionnaireResponse,
    InboxItem,
    StaffTask,
    Registration,
)


@pytest.fixture(autouse=True)
def shipped_library(app: Flask) -> None:
    """The shipped library, as `carepath demo setup` publishes it (the school, the colours)."""
    from carepath.engine.catalogue import PATHWAYS_DIR
    from carepath.store import demo, pathways

    demo.publish_examples(app.extensions["carepath.db"], PATHWAYS_DIR, NOW)
    pathways.clear_cache()


def checked(n: int = 1, **override: Any) -> CheckedForm:
    get, get_list = getters(form_fields(n, **override))
    return check_form(get, get_list, NOW)


def tools(app: Flask) -> tuple[Any, Any]:
    return app.extensions["carepath.db"], app.extensions["carepath.cipher"]


def file_inbox(session: Any, row: Registration, pregnancy: Pregnancy) -> None:
    file_due_now(session, row.hospital_id, pregnancy.id, NOW)


def register(app: Flask, token: str, form: CheckedForm, **kw: Any) -> registration.Outcome:
    db, cipher = tools(app)
    return registration.register(db, cipher, "a", token, form, now=NOW, on_done=file_inbox, **kw)


def count(app: Flask) -> dict[str, int]:
    db, _ = tools(app)
    with db.reading() as session:
        return {m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0 for m in TABLES}


def test_a_new_woman_is_registered_screened_enrolled_and_her_lesson_filed_at_once(app: Flask) -> None:
    set_hospital_settings(
        app.extensions["carepath.db"], "a", drafts_allowed=True, public_base_url="https://fy.example.cn"
    )
    from carepath.store import sources

    with app.extensions["carepath.db"].transaction() as session:
        poster = sources.create(session, sources.plan(session, "a", NOW), NOW, "test").code
    form = checked(1, **screen_fields(previous_caesarean="once"))
    done = register(app, "tok-1", form, source=poster)
    assert isinstance(done, registration.Registered)
    assert done.proven_by == "new" and done.risk_colour == "yellow"  # the screen's rule suggested it
    db, cipher = tools(app)
    with db.reading() as session:
        patient = session.get(Patient, done.patient_id)
        assert patient is not None and patient.his_patient_id is None
        assert patient.id_number_hash == cipher.lookup_hash("id", resident_id(1))
        assert cipher.open(patient.phone_sealed or "") == "13912340001"
        pregnancy = session.get(Pregnancy, done.pregnancy_id)
        assert pregnancy is not None and pregnancy.number == 1 and pregnancy.status == "pregnant"
        pathways = set(
            session.scalars(
                select(EnrolmentRecord.pathway_id).where(EnrolmentRecord.pregnancy_id == pregnancy.id)
            )
        )
        assert "school-weekly" in pathways  # 自动化招生: every registered pregnancy joins the school
        response = session.scalar(
            select(QuestionnaireResponse).where(QuestionnaireResponse.pregnancy_id == pregnancy.id)
        )
        assert response is not None and response.form == "registration-risk-screen"
        assert response.answers["previous_caesarean"] == "once" and response.score is not None
        rows = {
            (c.channel, c.topic): c
            for c in session.scalars(select(Consent).where(Consent.patient_id == patient.id))
        }
        assert set(rows) == {
            ("*", "privacy-notice"),
            ("*", "health-information"),
            ("wechat_template", "*"),
            ("sms_tencent", "*"),
            ("sms_aliyun", "*"),
        }
        assert {(c.notice_version, c.source, c.granted) for c in rows.values()} == {
            (NOTICE_VERSION, f"h5:{poster}", True)
        }
        lesson = session.scalar(
            select(OutboxRow).where(
                OutboxRow.pregnancy_id == pregnancy.id, OutboxRow.pathway_id == "school-weekly"
            )
        )
        assert lesson is not None and lesson.params["content"] == "week-18"
        item = session.get(InboxItem, lesson.inbox_item_id)
        assert (
            item is not None and item.link == f"https://fy.example.cn/h5/inbox/{item.id}"
        )  # filed in the registration's transaction
        assert lesson.status == "due"  # the dispatcher still owns its delivery
        guardian_tasks = select(StaffTask.id).where(StaffTask.dedupe_key.startswith("registration:"))
        assert session.scalar(guardian_tasks) is None  # no guardian task for an adult


def test_unapproved_content_is_not_filed_early(app: Flask) -> None:
    done = register(app, "tok-1", checked(1))  # drafts not allowed: the shipped library is all drafts
    assert isinstance(done, registration.Registered)
    assert count(app)["inbox_items"] == 0  # the dispatcher holds it, as it would have


def test_a_double_submit_registers_once(app: Flask) -> None:
    first = register(app, "tok-1", checked(1))
    before = count(app)
    again = register(app, "tok-1", checked(1))
    assert again == first and count(app) == before


def test_her_id_number_on_file_asks_for_proof_and_changes_nothing(app: Flask, api: Api) -> None:
    assert api.post("/api/v1/events", his_registration(id_number=resident_id(1))).status_code == 201
    before = count(app)
    pending = register(app, "tok-2", checked(1, name="冒名者", phone="13700000000"))
    assert isinstance(pending, registration.ProofNeeded) and pending.can_sms
    assert pending.reference.startswith("R") and len(pending.reference) == 7
    after = count(app)
    assert after == {**before, "registrations": before["registrations"] + 1}
    db, cipher = tools(app)
    with db.reading() as session:
        patient = session.scalar(select(Patient))
        assert patient is not None and cipher.open(patient.phone_sealed or "") == "13812345678"
        assert patient.name_sealed is None  # the HIS gave no name; the form's was not taken
    # where her code goes is the phone on file, never the one the form gave
    assert registration.phone_on_file(db, cipher, "tok-2", NOW) == (patient.id, "13812345678")


def test_proof_binds_her_to_her_ongoing_pregnancy_as_it_stands(app: Flask, api: Api) -> None:
    api.post("/api/v1/events", his_registration(id_number=resident_id(1)))
    register(app, "tok-2", checked(1))
    db, cipher = tools(app)
    done = registration.complete_pending(db, cipher, "tok-2", NOW, proven_by="sms", on_done=file_inbox)
    assert done.proven_by == "sms"
    with db.reading() as session:
        pregnancies = session.scalars(select(Pregnancy)).all()
        assert len(pregnancies) == 1 and pregnancies[0].id == done.pregnancy_id
        assert pregnancies[0].his_pregnancy_id is None and pregnancies[0].status == "pregnant"
        binding = session.scalar(select(ChannelBinding).where(ChannelBinding.patient_id == done.patient_id))
        assert binding is not None and binding.kind == "phone"


def test_a_woman_whose_pregnancy_ended_gets_a_new_one(app: Flask, api: Api) -> None:
    api.post("/api/v1/events", his_registration(id_number=resident_id(1)))
    ended = {
        "id": "end-1",
        "type": "pregnancy.ended",
        "occurred_at": "2026-07-10T14:10:00+08:00",
        "patient": {"his_id": "p-001"},
        "data": {"reason": "流产"},
    }
    answer = api.post("/api/v1/events", ended)
    assert answer.status_code == 201, answer.get_json()
    register(app, "tok-3", checked(1))
    db, cipher = tools(app)
    done = registration.complete_pending(db, cipher, "tok-3", NOW, proven_by="sms")
    with db.reading() as session:
        rows = session.scalars(select(Pregnancy).order_by(Pregnancy.number)).all()
        assert [(p.number, p.status) for p in rows] == [(1, "ended"), (2, "pregnant")]
        assert rows[1].id == done.pregnancy_id


def test_the_desk_checks_the_card_before_binding(app: Flask, api: Api) -> None:
    api.post("/api/v1/events", his_registration(id_number=resident_id(1)))
    pending = register(app, "tok-4", checked(1))
    assert isinstance(pending, registration.ProofNeeded)
    db, cipher = tools(app)
    nurse = Actor("a", "staff", "7")
    with pytest.raises(registration.IdentityMismatchError):
        registration.confirm_at_desk(db, cipher, nurse, pending.reference, resident_id(2), now=NOW)
    with pytest.raises(registration.RegistrationNotFoundError):
        registration.confirm_at_desk(
            db, cipher, Actor("b", "staff", "8"), pending.reference, resident_id(1), now=NOW
        )
    done = registration.confirm_at_desk(db, cipher, nurse, pending.reference, resident_id(1), now=NOW)
    assert done.proven_by == "staff:7"
    outcome = registration.outcome(db, cipher, "tok-4", NOW)  # her page, reloaded, signs her in
    assert isinstance(outcome, registration.Registered) and outcome.patient_id == done.patient_id


def test_a_pending_form_expires(app: Flask, api: Api) -> None:
    api.post("/api/v1/events", his_registration(id_number=resident_id(1)))
    register(app, "tok-5", checked(1))
    db, cipher = tools(app)
    later = NOW + registration.PENDING_LIFETIME + timedelta(minutes=1)
    assert registration.outcome(db, cipher, "tok-5", later) is None
    with pytest.raises(registration.RegistrationNotFoundError):
        registration.complete_pending(db, cipher, "tok-5", later, proven_by="sms")


def test_a_second_form_with_her_id_number_is_asked_for_proof(app: Flask) -> None:
    assert isinstance(register(app, "tok-6", checked(1)), registration.Registered)
    assert isinstance(register(app, "tok-7", checked(1)), registration.ProofNeeded)
    assert count(app)["patients"] == 1


def test_under_14_needs_her_guardian_and_tells_the_staff_at_once(app: Flask) -> None:
    young = resident_id(3, born="20130102")  # 13 on 2026-07-10
    with pytest.raises(RegistrationInvalidError) as refused:
        checked(3, id_number=young)
    assert set(refused.value.errors) == {"guardian_name", "guardian_relation", "guardian_consent"}
    form = checked(
        3, id_number=young, guardian_name="张父", guardian_relation="father", guardian_consent="yes"
    )
    assert form.age == 13 and form.under_guardian_age
    done = register(app, "tok-8", form)
    assert isinstance(done, registration.Registered) and done.guardian_task
    db, _ = tools(app)
    with db.reading() as session:
        task = session.scalar(select(StaffTask).where(StaffTask.dedupe_key.startswith("registration:")))
        assert task is not None and task.priority == "urgent" and task.due_at == NOW
        assert task.pregnancy_id == done.pregnancy_id and "14" in task.title
        guardian = session.scalar(select(Consent).where(Consent.topic == "guardian"))
        assert guardian is not None and guardian.source == "guardian:father"


def test_his_events_find_her_by_the_id_numbers_keyed_hash(app: Flask, api: Api) -> None:
    done = register(app, "tok-9", checked(1))
    assert isinstance(done, registration.Registered)
    later = his_registration(his_id="his-77", event_id="his-reg-77", id_number=resident_id(1))
    later["patient"]["pregnancy"] = "his-preg-1"
    answer = api.post("/api/v1/events", later)
    assert answer.status_code in (200, 201), answer.get_json()
    lab = {
        "id": "lab-1",
        "type": "lab.result",
        "occurred_at": "2026-07-10T14:20:00+08:00",
        "patient": {"id_number": resident_id(1)},
        "data": {"code": "hb", "value": 118, "unit": "g/L"},
    }
    assert api.post("/api/v1/events", lab).status_code == 201
    db, _ = tools(app)
    with db.reading() as session:
        patients = session.scalars(select(Patient)).all()
        assert [(p.id, p.his_patient_id) for p in patients] == [(done.patient_id, "his-77")]
        pregnancies = session.scalars(select(Pregnancy)).all()
        # the HIS's id for the pregnancy she registered herself: adopted, not a second pregnancy
        assert [(p.id, p.his_pregnancy_id) for p in pregnancies] == [(done.pregnancy_id, "his-preg-1")]


def test_one_address_may_ask_to_prove_only_a_few_times_an_hour(app: Flask, api: Api) -> None:
    """An ID number on file tells who typed it that its owner is registered at a maternity
    hospital: past the limit every form from the address is refused, matched or not."""
    for n in range(1, registration.PROOFS_PER_ADDRESS + 1):
        api.post(
            "/api/v1/events", his_registration(his_id=f"p-{n}", event_id=f"r-{n}", id_number=resident_id(n))
        )
        pending = register(app, f"probe-{n}", checked(n), remote_addr="10.0.0.9")
        assert isinstance(pending, registration.ProofNeeded)
    before = count(app)
    with pytest.raises(registration.TooManyProofsError):  # a new woman's number too: nothing told
        register(app, "probe-new", checked(99), remote_addr="10.0.0.9")
    assert count(app) == before
    assert isinstance(
        register(app, "elsewhere", checked(99), remote_addr="10.0.0.10"), registration.Registered
    )
    later = NOW + registration.PROOF_WINDOW + timedelta(seconds=1)
    db, cipher = tools(app)
    assert isinstance(
        registration.register(db, cipher, "a", "later", checked(98), now=later, remote_addr="10.0.0.9"),
        registration.Registered,
    )


def test_she_follows_her_sources_department_and_doctor_and_her_openid_is_bound(app: Flask) -> None:
    from carepath.store import sources

    db, _ = tools(app)
    with db.transaction() as session:
        card = sources.create(session, sources.plan(session, "a", NOW), NOW, "test")
        other = sources.create(session, sources.plan(session, "b", NOW), NOW, "test")
        card_id, card_code, other_code = card.id, card.code, other.code
    form = checked(1)
    form.extra["openid"] = {"appid": "wx-hospital", "openid": "o-her"}
    done = register(app, "tok-s1", form, source=card_code)
    assert isinstance(done, registration.Registered)
    again = register(app, "tok-s2", checked(2), source=other_code)  # another hospital's code: not hers
    assert isinstance(again, registration.Registered)
    with db.reading() as session:
        assert sources.counts(session, [card_id])[card_id].registrations == 1
        binding = session.scalar(select(ChannelBinding).where(ChannelBinding.kind == "wechat_oa"))
        assert binding is not None and (binding.patient_id, binding.account, binding.value) == (
            done.patient_id,
            "wx-hospital",
            "o-her",
        )
        sources_of = dict(session.execute(select(Registration.token, Registration.source)).all())
        assert sources_of == {"tok-s1": card_code, "tok-s2": None}
        consent_source = session.scalar(
            select(Consent.source).where(
                Consent.patient_id == again.patient_id, Consent.topic == "privacy-notice"
            )
        )
        assert consent_source == "h5"  # not attributed to another hospital's source


def test_two_forms_at_once_with_one_new_id_number_make_one_woman(app: Flask) -> None:
    """The unique ID-number hash decides a race: one registers her, the other is asked for proof."""
    import threading

    results: list[object] = []
    start = threading.Barrier(2)

    def submit(token: str) -> None:
        start.wait()
        results.append(register(app, token, checked(5)))

    threads = [threading.Thread(target=submit, args=(token,)) for token in ("race-1", "race-2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(type(r).__name__ for r in results) == ["ProofNeeded", "Registered"]
    assert count(app)["patients"] == 1 and count(app)["pregnancies"] == 1
