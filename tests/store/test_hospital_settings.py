"""Hospital settings: defaults, validated and audited changes, the one-time YAML import and the
cache running processes read through, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy import update as sql_update

from carepath.store import hospital_settings
from carepath.store.hospital_settings import DEFAULTS, InvalidSettingsError
from carepath.store.models import AuditEntry, HospitalSettingsRow
from carepath.store.scope import Actor
from tests.conftest import NOW

ACTOR = Actor("a", "cli", "alice")
ROSTER = [{"role": "产科值班医生", "name": "王医生", "phone": "0571-87654321"}]


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticks(monkeypatch: pytest.MonkeyPatch) -> Ticks:
    clock = Ticks()
    monkeypatch.setattr(hospital_settings.CACHE, "clock", clock)
    return clock


def _db(app: Any) -> Any:
    return app.extensions["carepath.db"]


def _update(app: Any, hospital: str = "a", **changes: Any) -> Any:
    with _db(app).transaction() as session:
        return hospital_settings.update(session, hospital, changes, actor=ACTOR, now=NOW)


def _audits(app: Any) -> list[str]:
    with _db(app).reading() as session:
        return list(
            session.scalars(
                select(AuditEntry.detail).where(AuditEntry.detail.like("settings %")).order_by(AuditEntry.id)
            )
        )


def test_a_hospital_without_a_row_has_the_defaults(app: Any) -> None:
    with _db(app).reading() as session:
        found = hospital_settings.get(session, "a")
    assert found == DEFAULTS and found.version == 0
    assert (found.window.opens, found.window.closes, found.daily_cap) == (time(9), time(20), 3)
    assert found.drafts_allowed is False and found.on_call == () and found.public_base_url is None


def test_update_writes_every_value_and_audits_old_to_new(app: Any) -> None:
    updated = _update(
        app,
        window_opens="08:30",
        daily_cap="2",
        on_call=ROSTER,
        working_hours='{"mon": "08:00-17:30", "sat": {"opens": "08:00", "closes": "12:00"}}',
        public_base_url="https://mch.example/h5/",
        emergency_phone="120",
    )
    assert updated.version == 1 and updated.updated_by == "cli:alice"
    assert updated.window.opens == time(8, 30) and updated.daily_cap == 2
    assert updated.on_call[0].phone == "0571-87654321"
    assert str(updated.working_hours["sat"]) == "08:00-12:00" and "sun" not in updated.working_hours
    assert updated.public_base_url == "https://mch.example/h5"
    with _db(app).reading() as session:
        assert hospital_settings.get(session, "a") == updated
    audits = _audits(app)
    assert "settings daily_cap: 3 → 2" in audits
    assert 'settings window_opens: "09:00" → "08:30"' in audits
    assert 'settings public_base_url: (not set) → "https://mch.example/h5"' in audits
    assert len(audits) == 6  # one per setting changed, nothing for what stayed

    again = _update(app, daily_cap=2)  # no change: no new version, no audit
    assert again.version == 1 and len(_audits(app)) == 6
    assert _update(app, daily_cap=4).version == 2
    assert _audits(app)[-1] == "settings daily_cap: 2 → 4"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"daily_cap": "-1"}, [("daily_cap", "bad-cap")]),
        ({"daily_cap": 21}, [("daily_cap", "bad-cap")]),
        ({"window_opens": "25:00"}, [("window_opens", "bad-time")]),
        ({"window_opens": 540}, [("window_opens", "bad-time")]),  # YAML's unquoted 9:00
        ({"window_opens": "21:00"}, [("window_closes", "window-order")]),
        ({"timezone": "Asia/Beijing"}, [("timezone", "bad-timezone")]),
        ({"timezone": "../../etc/passwd"}, [("timezone", "bad-timezone")]),
        ({"drafts_allowed": "maybe"}, [("drafts_allowed", "bad-boolean")]),
        ({"emergency_phone": "call us"}, [("emergency_phone", "bad-phone")]),
        ({"public_base_url": "http://mch.example"}, [("public_base_url", "not-https")]),
        ({"public_base_url": "http://192.168.1.5:8000"}, [("public_base_url", "not-https")]),
        ({"public_base_url": "http://localhost.example"}, [("public_base_url", "not-https")]),
        ({"public_base_url": "https://u:p@mch.example"}, [("public_base_url", "bad-url")]),
        ({"public_base_url": "https://mch.example/?a=1"}, [("public_base_url", "bad-url")]),
        ({"on_call": [{"role": "值班", "name": "王", "phone": "x"}]}, [("on_call[0].phone", "bad-phone")]),
        ({"on_call": [{"role": "值班", "name": "王"}]}, [("on_call[0].phone", "bad-roster")]),
        ({"on_call": "[{"}, [("on_call", "bad-json")]),
        (
            {"on_call": [{"role": "值班", "name": "王\x00", "phone": "120"}]},
            [("on_call[0].name", "bad-text")],
        ),
        ({"working_hours": {"mon": "17:00-08:00"}}, [("working_hours.mon", "bad-hours")]),
        ({"working_hours": {"someday": "08:00-17:00"}}, [("working_hours.someday", "bad-hours")]),
        ({"colour": "pink"}, [("colour", "unknown-setting")]),
        (
            {"daily_cap": "lots", "public_base_url": "ftp://x", "window_closes": "8pm"},
            [("daily_cap", "bad-cap"), ("public_base_url", "not-https"), ("window_closes", "bad-time")],
        ),
    ],
)
def test_invalid_values_are_refused_with_codes_and_nothing_is_written(
    app: Any, changes: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    _update(app, daily_cap=5)  # a row to leave alone
    before = _audits(app)
    with pytest.raises(InvalidSettingsError) as raised:
        _update(app, **{"emergency_phone": "120", **changes})  # a good value beside the bad ones
    assert [(p.where, p.code) for p in raised.value.problems] == expected
    with _db(app).reading() as session:
        stored = hospital_settings.get(session, "a")
    assert stored.daily_cap == 5 and stored.emergency_phone is None and stored.version == 1
    assert _audits(app) == before


def test_an_unknown_hospital_gets_no_row(app: Any) -> None:
    with pytest.raises(hospital_settings.UnknownHospitalError):
        _update(app, "nowhere", daily_cap=1)
    with _db(app).reading() as session:
        assert session.scalar(select(func.count()).select_from(HospitalSettingsRow)) == 0


DELIVERY = {"window": {"timezone": "Asia/Shanghai", "opens": "08:00", "closes": "21:00"}, "daily_cap": 2}


def _import(app: Any, delivery: dict[str, Any]) -> Any:
    with _db(app).transaction() as session:
        return hospital_settings.import_delivery(
            session, "a", delivery, source="channels.yaml", actor=ACTOR, now=NOW
        )


def test_the_yaml_is_imported_once_then_the_database_wins(app: Any, caplog: pytest.LogCaptureFixture) -> None:
    first = _import(app, {**DELIVERY, "fallback_order": ["inbox"], "sms": "sms_tencent"})
    assert first.created and first.settings.version == 1
    assert (first.settings.window_opens, first.settings.window_closes) == (time(8), time(21))
    assert first.settings.daily_cap == 2
    assert "settings daily_cap: 3 → 2 (imported from channels.yaml)" in _audits(app)

    _update(app, daily_cap=4)  # staff change it; the file still says 2
    changed = {**DELIVERY, "window": {**DELIVERY["window"], "opens": "07:00"}}
    with caplog.at_level(logging.WARNING, logger="carepath.store.hospital_settings"):
        second = _import(app, changed)
        third = _import(app, changed)  # a second start logs nothing new
    assert not second.created and not third.created
    assert dict((name, (f, d)) for name, f, d in second.ignored) == {
        "window_opens": ("07:00", "08:00"),
        "daily_cap": (2, 4),
    }
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2 and all("is ignored for hospital a" in w for w in warnings)
    with _db(app).reading() as session:
        stored = hospital_settings.get(session, "a")
    assert (stored.window_opens, stored.daily_cap, stored.version) == (time(8), 4, 2)


def test_a_bad_yaml_value_is_located_in_the_file(app: Any) -> None:
    with pytest.raises(InvalidSettingsError) as raised:
        _import(app, {"window": {"opens": 540}, "daily_cap": "many"})
    assert [str(p).split(": ")[:3] for p in raised.value.problems] == [
        ["channels.yaml", "delivery.window.opens", "bad-time"],
        ["channels.yaml", "delivery.daily_cap", "bad-cap"],
    ]
    with _db(app).reading() as session:
        assert session.get(HospitalSettingsRow, "a") is None


def test_the_cache_picks_up_another_process_change_within_its_ttl(app: Any, ticks: Ticks) -> None:
    db = _db(app)
    _update(app, daily_cap=2)
    assert hospital_settings.current(db, "a").daily_cap == 2
    with db.transaction() as session:  # another process changes it: this one's cache is not told
        session.execute(text("UPDATE hospital_settings SET daily_cap = 5, version = version + 1"))
    ticks.now += hospital_settings.CACHE_SECONDS - 1
    assert hospital_settings.current(db, "a").daily_cap == 2  # still the cached value
    ticks.now += 2
    assert hospital_settings.current(db, "a").daily_cap == 5
    assert hospital_settings.CACHE_SECONDS <= 60


def test_a_change_in_this_process_is_used_at_once(app: Any, ticks: Ticks) -> None:
    db = _db(app)
    assert hospital_settings.current(db, "a").daily_cap == 3
    _update(app, daily_cap=1)
    assert hospital_settings.current(db, "a").daily_cap == 1
    assert hospital_settings.current(db, "b").daily_cap == 3  # another hospital: its own


def test_every_setting_has_a_description_and_a_chinese_label() -> None:
    for setting in hospital_settings.FIELDS:
        assert setting.description and setting.label_zh
        assert any("\u4e00" <= c <= "\u9fff" for c in setting.label_zh), setting.name
    assert timedelta(seconds=hospital_settings.CACHE_SECONDS) <= timedelta(minutes=1)


def _due_local(app: Any, content: str, pregnancy_of: str | None = None) -> list[str]:
    from zoneinfo import ZoneInfo

    from carepath.store.models import UTC, OutboxRow, Patient, Pregnancy

    # The notice's time: a message fired outside the window is due (her inbox copy) at once,
    # and its notice waits for the time the engine placed it at (issue 16 item 11).
    notice_at = func.coalesce(OutboxRow.next_attempt_at, OutboxRow.due_at, type_=UTC)
    with _db(app).reading() as session:
        query = (
            select(notice_at)
            .join(Pregnancy, Pregnancy.id == OutboxRow.pregnancy_id)
            .join(Patient, Patient.id == Pregnancy.patient_id)
            .where(OutboxRow.params["content"].as_string() == content)
        )
        if pregnancy_of is not None:
            query = query.where(Patient.his_patient_id == pregnancy_of)
        found = session.scalars(query).all()
    return [at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M") for at in found]


def test_the_engine_places_her_messages_in_her_hospitals_window(
    api: Any, app: Any, ticks: Ticks, monkeypatch: pytest.MonkeyPatch
) -> None:
    from carepath.store.models import HospitalSettingsRow
    from tests.webapi.conftest import diagnosis, registration

    # Registered at 14:00 and evaluated at 15:00 Shanghai time: inside the default window
    # (09:00-20:00) a checkup reminder is due at once; this hospital opens at 16:00.
    _update(app, window_opens="16:00", window_closes="18:00")
    assert api.post("/api/v1/events", registration()).status_code == 201
    assert _due_local(app, "visit-4") == ["16:00"]

    # Another process moves the window; within the TTL this one still uses what it read.
    with _db(app).transaction() as session:
        session.execute(
            sql_update(HospitalSettingsRow).values(window_opens=time(17), window_closes=time(19), version=2)
        )
    ticks.now += hospital_settings.CACHE_SECONDS - 1
    assert api.post("/api/v1/events", diagnosis()).status_code == 201
    assert _due_local(app, "gdm-welcome") == ["16:00"]
    ticks.now += 2  # the TTL has passed: the next evaluation uses the new window
    second = registration("p-002", "reg-002", id_number="330102199001011082", phone="13812345679")
    assert api.post("/api/v1/events", second).status_code == 201
    assert _due_local(app, "visit-4", "p-002") == ["17:00"]


def test_a_window_closing_at_a_second_to_midnight_is_kept(app: Any) -> None:
    """Channels files wrote ISO times; ``23:59:59`` leaves no minute of the day closed."""
    imported = _import(app, {"window": {"opens": "00:00", "closes": "23:59:59"}})
    assert imported.settings.window_closes == time(23, 59, 59)
    assert imported.settings.shown("window_closes") == "23:59:59"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:8000/", "http://[::1]:8000"])
def test_plain_http_is_accepted_on_the_loopback_only(url: str) -> None:
    """A local demo (`make run`) serves her pages on this machine over plain http."""
    from carepath.store import setting_values

    assert setting_values.https_url(url) == url.rstrip("/")
