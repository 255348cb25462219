"""Find a woman (issue 21 item 2), store side: each filter reaches the data as docs/search.md
says — a name through its keyed hash (no sealed name opened), the phone's last four digits
among the name's few candidates, a source, a diagnosis, a week range through the EDD column —
and ``cohort`` selects exactly what ``search`` lists, whatever the filters."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from carepath.store import search, sources
from carepath.store.models import Diagnosis, Patient, Pregnancy
from carepath.store.models_sources import Source
from carepath.store.scope import Actor
from carepath.store.search import PregnancyQuery, SearchInputError, SearchTooBroadError
from tests.conftest import NOW, resident_id
from tests.store.test_care_teams import db_of
from tests.store.test_tasks import add_staff
from tests.webapi.conftest import Api, diagnosis, registration

# name, phone; LMP 2026-01-05 (26+4 on NOW) unless said
WOMEN = {
    "p-1": ("王小红", "13812345678"),
    "p-2": ("王小红", "13900001111"),  # the same name, another phone
    "p-3": ("李华", "13700002222"),
    "p-4": ("Li Na", "13600003333"),
}


@pytest.fixture
def women(api: Api) -> dict[str, str]:
    found = {}
    for n, (his_id, (name, phone)) in enumerate(WOMEN.items()):
        event = registration(
            his_id, event_id=f"reg-{his_id}", name=name, id_number=resident_id(n + 1), phone=phone
        )
        if his_id == "p-3":
            event["data"]["lmp"] = "2026-04-11"  # 12+6 on NOW
        answer = api.post("/api/v1/events", event)
        assert answer.status_code == 201, answer.get_json()
        found[his_id] = str(answer.get_json()["pregnancy"])
    assert api.post("/api/v1/events", diagnosis("p-1")).status_code == 201  # O24.401
    assert api.post("/api/v1/events", diagnosis("p-3", "dx-3", "O13")).status_code == 201
    return found


def _his(app: Flask, actor: Actor, **given: Any) -> list[str]:
    items, _ = search.search(
        db_of(app), app.extensions["carepath.cipher"], actor, PregnancyQuery(**given), NOW
    )
    return sorted(i["patient"]["his_id"] for i in items)


def _cohort(app: Flask, actor: Actor, **given: Any) -> list[str]:
    cipher = app.extensions["carepath.cipher"]
    with db_of(app).reading() as session:
        ids = session.scalars(search.cohort(session, cipher, actor, PregnancyQuery(**given), NOW)).all()
        his = dict(
            session.execute(
                select(Pregnancy.id, Patient.his_patient_id).join(Patient, Patient.id == Pregnancy.patient_id)
            ).all()
        )
    return sorted(his[i] for i in ids)


def test_an_exact_name_is_one_hash_probe_and_opens_no_sealed_name(
    app: Flask, women: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    nurse = add_staff(app, "a")

    def refuse(*_args: Any, **_kwargs: Any) -> list[str]:
        raise AssertionError("a sealed name was opened to match")

    monkeypatch.setattr(search, "_opened_names", refuse)
    monkeypatch.setattr(search, "NAME_SCAN_LIMIT", 0)  # no candidate may be opened
    assert _his(app, nurse, name="王小红") == ["p-1", "p-2"]
    assert _his(app, nurse, name=" 王 小红\u3000") == ["p-1", "p-2"]  # trimmed, no inner spaces
    assert _his(app, nurse, name="ＬＩ　ＮＡ") == ["p-4"]  # full-width (NFKC), any case
    assert _his(app, nurse, name="王小") == []  # exact: never a part
    assert _his(app, nurse, name="王小红", week_from=20) == ["p-1", "p-2"]  # with the other filters


def test_names_not_yet_backfilled_are_still_found_boundedly(
    app: Flask, women: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    nurse = add_staff(app, "a")
    with db_of(app).transaction() as session:  # as rows written before 0026 look
        session.execute(update(Patient).where(Patient.his_patient_id == "p-2").values(name_hash=None))
    assert _his(app, nurse, name="王小红") == ["p-1", "p-2"]
    assert _cohort(app, nurse, name="王小红") == ["p-1", "p-2"]
    monkeypatch.setattr(search, "NAME_SCAN_LIMIT", 0)
    with pytest.raises(SearchTooBroadError):
        _his(app, nurse, name="王小红")


def test_the_phone_s_last_four_digits_tell_women_of_one_name_apart(app: Flask, women: dict[str, str]) -> None:
    nurse = add_staff(app, "a")
    assert _his(app, nurse, name="王小红", phone_last4="1111") == ["p-2"]
    assert _his(app, nurse, name="王小红", phone_last4="5678") == ["p-1"]
    assert _his(app, nurse, name="王小红", phone_last4="2222") == []  # 李华's phone, not hers
    assert _cohort(app, nurse, name="王小红", phone_last4="1111") == ["p-2"]
    with pytest.raises(SearchInputError) as refused:
        _his(app, nurse, phone_last4="1111")
    assert refused.value.code == "phone-needs-name"


def test_too_many_candidates_for_the_phone_are_refused(
    app: Flask, women: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    nurse = add_staff(app, "a")
    monkeypatch.setattr(search, "PHONE_SCAN_LIMIT", 1)
    with pytest.raises(SearchTooBroadError):
        _his(app, nurse, name="王小红", phone_last4="1111")
    assert _his(app, nurse, name="李华", phone_last4="2222") == ["p-3"]


def _source(app: Flask, hospital: str, code: str) -> Source:
    with db_of(app).transaction() as session:
        source = Source(
            hospital_id=hospital, code=code, qr_kind="permanent", created_at=NOW, created_by="test"
        )
        session.add(source)
        session.flush()
        session.expunge(source)
        return source


def test_a_source_finds_the_pregnancies_registered_through_it(app: Flask, women: dict[str, str]) -> None:
    nurse = add_staff(app, "a")
    poster, card = _source(app, "a", "poster1"), _source(app, "a", "card1")
    _source(app, "b", "theirs")
    with db_of(app).transaction() as session:
        for his_id, source in (("p-1", poster), ("p-3", card)):
            patient = session.scalars(select(Patient).where(Patient.his_patient_id == his_id)).one()
            sources.record_registration(
                session, session.get(Source, source.id), patient, NOW, pregnancy_id=women[his_id]
            )
        other = session.scalars(select(Patient).where(Patient.his_patient_id == "p-2")).one()
        sources.record_registration(
            session, session.get(Source, poster.id), other, NOW, pregnancy_id="another"
        )
    assert _his(app, nurse, source="poster1") == ["p-1"]  # p-2's registration names another pregnancy
    assert _his(app, nurse, source="card1") == ["p-3"]
    assert _cohort(app, nurse, source="card1", week_to=20) == ["p-3"]
    for code in ("nosuch", "theirs"):  # another hospital's source is unknown here
        with pytest.raises(SearchInputError) as refused:
            _his(app, nurse, source=code)
        assert refused.value.code == "unknown-source"


def test_a_diagnosis_is_found_by_its_code_or_its_beginning_while_active(
    app: Flask, women: dict[str, str]
) -> None:
    nurse = add_staff(app, "a")
    assert _his(app, nurse, diagnosis="O24.401") == ["p-1"]
    assert _his(app, nurse, diagnosis="o24") == ["p-1"]
    assert _his(app, nurse, diagnosis="O2") == ["p-1"]
    assert _his(app, nurse, diagnosis="O") == ["p-1", "p-3"]
    assert _his(app, nurse, diagnosis="O24.5") == []
    with db_of(app).transaction() as session:
        session.execute(update(Diagnosis).where(Diagnosis.code == "O13").values(removed_at=NOW))
    assert _his(app, nurse, diagnosis="O13") == []
    with pytest.raises(SearchInputError) as refused:
        _his(app, nurse, diagnosis="O%")
    assert refused.value.code == "bad-diagnosis"


def test_a_week_range_reads_the_stored_edd_column(app: Flask, women: dict[str, str]) -> None:
    nurse = add_staff(app, "a")
    assert _his(app, nurse, week_from=12, week_to=12) == ["p-3"]
    assert _his(app, nurse, week_from=26) == ["p-1", "p-2", "p-4"]
    with db_of(app).transaction() as session:  # the column, not the state, is what is compared
        session.execute(update(Pregnancy).where(Pregnancy.id == women["p-4"]).values(edd=date(2026, 12, 25)))
    assert _his(app, nurse, week_from=26) == ["p-1", "p-2"]
    assert _his(app, nurse, week_from=16, week_to=16) == ["p-4"]  # 16+0 by the column
    with pytest.raises(SearchInputError) as refused:
        _his(app, nurse, week_from=30, week_to=20)
    assert refused.value.code == "week-range-upside-down"
    assert _cohort(app, nurse, week_from=30, week_to=20) == []  # a batch's cohort: simply empty


QUERIES: list[dict[str, Any]] = [
    {},
    {"name": "王小红"},
    {"name": "王", "name_mode": "prefix"},
    {"name": "王小红", "phone_last4": "5678"},
    {"id_number": resident_id(3)},
    {"his_id": "p-4"},
    {"diagnosis": "O"},
    {"week_from": 20, "week_to": 30},
    {"status": "pregnant", "week_to": 13},
    {"pathway": "gdm-example"},
    {"risk_colour": "green"},
]


@pytest.mark.parametrize("given", QUERIES, ids=[str(n) for n in range(len(QUERIES))])
def test_the_cohort_is_what_the_search_lists(
    app: Flask, women: dict[str, str], given: dict[str, Any]
) -> None:
    nurse = add_staff(app, "a")
    assert _cohort(app, nurse, **given) == _his(app, nurse, **given)


def test_another_hospital_finds_by_name_only_the_women_granted_to_it(
    app: Flask, women: dict[str, str]
) -> None:
    from carepath.store import patients

    theirs = add_staff(app, "b")
    assert _his(app, theirs, name="王小红") == [] and _cohort(app, theirs, name="王小红") == []
    with db_of(app).reading() as session:
        granted = session.scalar(select(Patient.id).where(Patient.his_patient_id == "p-2"))
    patients.grant(db_of(app), add_staff(app, "a"), granted, grantee_hospital_id="b", reason="转诊", now=NOW)
    assert _his(app, theirs, name="王小红") == ["p-2"] and _cohort(app, theirs, name="王小红") == ["p-2"]
