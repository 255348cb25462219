"""Sources (``store/sources.py``): making them, finding them by code and WeChat scene, and
counting scans, follows and registrations from the event log — exactly, under concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from carepath.store import sources
from carepath.store.models import Department, Patient, Staff
from carepath.store.models_sources import Source
from tests.conftest import NOW


def _setup(app: Flask) -> dict[str, int]:
    with app.extensions["carepath.db"].transaction() as session:
        department = Department(hospital_id="a", name="产科门诊")
        other_department = Department(hospital_id="b", name="产科门诊")
        doctor = Staff(hospital_id="a", name="李医生", role="doctor", username="dr-li")
        foreign = Staff(hospital_id="b", name="王医生", role="doctor", username="dr-wang")
        patient = Patient(hospital_id="a", created_at=NOW)
        session.add_all([department, other_department, doctor, foreign, patient])
        session.flush()
        return {"department": department.id, "doctor": doctor.id, "patient": patient.id}


def _make(app: Flask, hospital: str = "a", **given: Any) -> Source:
    with app.extensions["carepath.db"].transaction() as session:
        planned = sources.plan(session, hospital, NOW, **given)
        return sources.create(session, planned, NOW, "test")


def test_a_doctors_card_is_permanent_and_found_by_code_and_scene(app: Flask) -> None:
    ids = _setup(app)
    made = _make(app, department="产科门诊", doctor="dr-li")
    assert made.qr_kind == sources.PERMANENT and made.expires_at is None
    assert (made.department_id, made.staff_id) == (ids["department"], ids["doctor"])
    assert len(made.code) == sources.CODE_LENGTH and set(made.code) <= set(sources.CODE_ALPHABET)
    with app.extensions["carepath.db"].reading() as session:
        assert sources.find_by_code(session, made.code).id == made.id  # type: ignore[union-attr]
        assert sources.find_by_scene(session, "a", f"src_{made.code}").id == made.id  # type: ignore[union-attr]
        # another hospital's callback never reaches this hospital's source
        assert sources.find_by_scene(session, "b", f"src_{made.code}") is None
        assert sources.find_by_scene(session, "a", made.code) is None  # not a source's scene
        assert sources.find_by_code(session, "../etc") is None
        [view] = sources.list_sources(session, "a")
    assert (view.department, view.doctor, view.campaign) == ("产科门诊", "李医生", None)
    assert view.as_json()["wechat_scene"] == f"src_{made.code}"


def test_a_campaign_is_temporary_with_its_expiry(app: Flask) -> None:
    _setup(app)
    made = _make(app, campaign="孕妇学校开放日", days=14)
    assert made.qr_kind == sources.TEMPORARY
    assert made.expires_at == NOW + timedelta(days=14)
    with app.extensions["carepath.db"].reading() as session:
        planned = sources.plan(session, "a", NOW, campaign="x", days=30)
    assert planned.expire_seconds == 2_592_000  # WeChat's longest temporary code


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"department": "儿科"}, "no department '儿科'"),
        ({"doctor": "dr-wang"}, "no staff member 'dr-wang' in hospital 'a'"),  # another hospital's
        ({"doctor": "nobody"}, "no staff member"),
        ({"campaign": "开放日"}, "a campaign needs --days"),
        ({"days": 3}, "a campaign needs --days"),
        ({"campaign": "开放日", "days": 31}, "1 to 30 days"),
        ({"campaign": "开放日", "days": 0}, "1 to 30 days"),
    ],
)
def test_a_source_that_cannot_be_made_is_refused(app: Flask, given: dict[str, Any], message: str) -> None:
    _setup(app)
    with app.extensions["carepath.db"].reading() as session, pytest.raises(sources.SourceError) as raised:
        sources.plan(session, "a", NOW, **given)
    assert message in str(raised.value)


def test_an_unknown_hospital_is_refused(app: Flask) -> None:
    with app.extensions["carepath.db"].reading() as session, pytest.raises(sources.UnknownHospitalError):
        sources.plan(session, "nowhere", NOW)


def test_permanent_codes_stop_at_the_accounts_limit(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "PERMANENT_LIMIT", 2)
    database = app.extensions["carepath.db"]
    for _ in range(2):
        with database.transaction() as session:
            planned = sources.plan(session, "a", NOW, wechat_appid="wx-hospital")
            sources.create(session, planned, NOW, "test", sources.WechatQr("wx-hospital", "t", "u"))
    with database.reading() as session:
        with pytest.raises(sources.PermanentLimitError):
            sources.plan(session, "a", NOW, wechat_appid="wx-hospital")
        # campaigns' temporary codes are not limited; another account has its own limit
        sources.plan(session, "a", NOW, wechat_appid="wx-hospital", campaign="c", days=1)
        sources.plan(session, "a", NOW, wechat_appid="wx-other")


def test_counts_come_from_the_log_and_repeats_count_once(app: Flask) -> None:
    ids = _setup(app)
    poster, card = _make(app), _make(app, doctor="dr-li")
    database = app.extensions["carepath.db"]
    with database.transaction() as session:
        patient = session.get(Patient, ids["patient"])
        assert sources.record_scan(session, poster, sources.HOW_LINK, NOW)
        assert sources.record_scan(session, poster, sources.HOW_LINK_WECHAT, NOW)
        assert sources.record_scan(
            session, poster, sources.HOW_WECHAT_QR, NOW, openid_hash="h1", dedupe_key="k1"
        )
        assert not sources.record_scan(
            session, poster, sources.HOW_WECHAT_QR, NOW, openid_hash="h1", dedupe_key="k1"
        )
        assert sources.record_follow(session, poster, NOW, openid_hash="h1", dedupe_key="k2")
        assert sources.record_registration(session, poster, patient, NOW, pregnancy_id="preg-1")
        assert not sources.record_registration(session, poster, patient, NOW, pregnancy_id="preg-1")
        with pytest.raises(ValueError, match="unknown way"):
            sources.record_scan(session, card, "carrier-pigeon", NOW)
    with database.reading() as session:
        found = sources.counts(session, [poster.id, card.id])
    assert found[poster.id] == sources.Counts(scans=3, follows=1, registrations=1)
    assert found[card.id] == sources.Counts()


def test_where_a_follower_came_from_is_her_latest_scan_or_follow(app: Flask) -> None:
    _setup(app)
    poster, card = _make(app), _make(app, doctor="dr-li")
    database = app.extensions["carepath.db"]
    cipher = app.extensions["carepath.cipher"]
    hashed = sources.openid_hash(cipher, "wx-hospital", "o-her-openid")
    assert "o-her-openid" not in hashed and len(hashed) == 64
    with database.transaction() as session:
        sources.record_follow(session, poster, NOW, openid_hash=hashed)
        sources.record_scan(session, card, sources.HOW_WECHAT_QR, NOW + timedelta(days=3), openid_hash=hashed)
    with database.reading() as session:
        assert sources.source_for_openid(session, "a", hashed).id == card.id  # type: ignore[union-attr]
        assert sources.source_for_openid(session, "b", hashed) is None
        other = sources.openid_hash(cipher, "wx-hospital", "o-someone-else")
        assert sources.source_for_openid(session, "a", other) is None


def test_concurrent_scans_are_all_counted_and_a_repeated_callback_once(app: Flask) -> None:
    """Eight writers at once: every scan counted, and eight deliveries of one WeChat callback
    (the same dedupe key) counted once — on SQLite and on PostgreSQL."""
    poster = _make(app)
    database = app.extensions["carepath.db"]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def scan(n: int) -> None:
        try:
            start.wait()
            for i in range(10):
                with database.transaction() as session:
                    sources.record_scan(session, poster, sources.HOW_LINK, NOW)
                    sources.record_scan(
                        session, poster, sources.HOW_WECHAT_QR, NOW, dedupe_key=f"same-callback-{i}"
                    )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=scan, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with database.reading() as session:
        assert sources.counts(session, [poster.id])[poster.id].scans == 8 * 10 + 10
