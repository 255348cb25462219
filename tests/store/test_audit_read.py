"""Reading the audit log (store/audit_read.py, audit_words.py, audit_retention.py): entries in
Chinese with the woman masked, filters, keyset pages that neither skip nor repeat a row, an
audited export, unknown actions shown readably, and no purge younger than 183 days."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, insert, select

from carepath.store import audit_read, audit_retention, audit_words
from carepath.store.models import AuditEntry, Staff
from carepath.store.scope import Actor
from tests.conftest import NOW
from tests.webapi.conftest import Api
from tests.webapi.h5.conftest import register

AUDITOR = Actor("a", "staff", "1")


def services(app: Flask) -> tuple[Any, Any]:
    return app.extensions["carepath.db"], app.extensions["carepath.cipher"]


def add_rows(db: Any, rows: list[dict[str, Any]]) -> None:
    with db.transaction() as session:
        session.execute(
            insert(AuditEntry), [{"hospital_id": "a", "detail": "", "count": 1, **r} for r in rows]
        )


def test_a_registration_reads_in_chinese_with_her_name_masked(app: Flask, api: Api) -> None:
    db, cipher = services(app)
    her = register(api, "p-701", 701, name="李小梅")
    page = audit_read.page(db, cipher, AUDITOR, audit_read.AuditFilter(patient_id=her), NOW)
    [entry] = [e for e in page.entries if e.detail.endswith("patient.registered")]
    assert entry.actor_words.startswith("对接系统：") and entry.action_words == "修改"
    assert entry.detail_words == "记录事件：建档登记"
    assert entry.target_words.startswith("孕妇 李**（病案号 p-701）") and "第1次妊娠" in entry.target_words
    assert "小梅" not in entry.target_words


def test_unknown_actions_actors_and_details_are_shown_readably() -> None:
    assert audit_words.action_words("desk-register") == "其他操作（desk-register）"
    assert audit_words.actor_words("desk:3", {}, {}, None) == "系统（desk:3）"
    assert audit_words.actor_words("staff:4", {4: "张护士"}, {}, None) == "张护士"
    assert audit_words.actor_words("staff:5", {}, {}, None) == "员工（编号 5）"
    assert audit_words.actor_words("scheduler:on-call", {}, {}, None) == "系统（定时任务）"
    assert audit_words.detail_words("something new") is None


def test_filters_and_keyset_pages_neither_skip_nor_repeat(app: Flask) -> None:
    db, cipher = services(app)
    with db.transaction() as session:
        doctor = Staff(hospital_id="a", name="赵医生", role="doctor")
        session.add(doctor)
        session.flush()
        me = f"staff:{doctor.id}"
    # 7 rows in one instant (the keyset's tie-break is the id) and 5 over days, 2 actors, 2 actions
    add_rows(db, [{"actor": me, "action": "read", "at": NOW, "detail": "patient record"}] * 7)
    add_rows(db, [
        {"actor": "integrator:9", "action": "change", "at": NOW - timedelta(days=d), "detail": f"event e{d} tag.added"}
        for d in range(1, 6)
    ])  # fmt: skip
    add_rows(
        db, [{"actor": "staff:1", "action": "read", "at": NOW, "hospital_id": "b"}]
    )  # another hospital's
    seen: list[int] = []
    cursor = ""
    while True:
        page = audit_read.page(db, cipher, AUDITOR, audit_read.AuditFilter(), NOW, cursor=cursor, limit=3)
        seen += [e.id for e in page.entries]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    with db.reading() as session:
        expected = session.scalars(
            select(AuditEntry.id)
            .where(
                AuditEntry.hospital_id == "a",
                AuditEntry.detail != "",
                AuditEntry.detail.not_like("audit log%"),
            )
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        ).all()
    # the viewer's own reads, written as it pages, come after the first cursor: not in this walk
    assert [i for i in seen if i in expected] == list(expected) and len(set(seen)) == len(seen)
    mine = audit_read.page(db, cipher, AUDITOR, audit_read.AuditFilter(who=me, action="read"), NOW)
    assert {e.actor_words for e in mine.entries} == {"赵医生"} and len(mine.entries) >= 7
    days = audit_read.AuditFilter(who="integrator:9", since=date(2026, 7, 7), until=date(2026, 7, 8))
    ranged = audit_read.page(db, cipher, AUDITOR, days, NOW)
    assert sorted(e.detail for e in ranged.entries) == ["event e2 tag.added", "event e3 tag.added"]
    with pytest.raises(audit_read.AuditFilterError) as backwards:
        audit_read.page(
            db, cipher, AUDITOR, audit_read.AuditFilter(since=date(2026, 7, 9), until=date(2026, 7, 1)), NOW
        )
    assert backwards.value.code == "bad-range"
    with pytest.raises(audit_read.AuditFilterError):
        audit_read.page(db, cipher, AUDITOR, audit_read.AuditFilter(), NOW, cursor="not-a-cursor")


def test_a_target_is_her_patient_number_or_a_pregnancy_id(app: Flask, api: Api) -> None:
    db, cipher = services(app)
    her = register(api, "p-702", 702)
    by_number = audit_read.page(db, cipher, AUDITOR, audit_read.AuditFilter(target="p-702"), NOW)
    assert by_number.entries and {e.patient_id for e in by_number.entries} == {her}
    with pytest.raises(audit_read.AuditFilterError) as unknown:
        audit_read.page(db, cipher, AUDITOR, audit_read.AuditFilter(target="nobody"), NOW)
    assert unknown.value.code == "unknown-target"


def test_the_export_is_masked_and_itself_audited(app: Flask, api: Api) -> None:
    db, cipher = services(app)
    register(api, "p-703", 703, name="陈美丽", phone="13900000703")
    rows = list(audit_read.export(db, cipher, AUDITOR, audit_read.AuditFilter(target="p-703"), NOW))
    assert rows[0] == audit_read.EXPORT_HEADER and len(rows) > 1
    text = "\n".join(",".join(r) for r in rows)
    assert "陈**" in text and "美丽" not in text and "13900000703" not in text
    with db.reading() as session:
        exported = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "export", AuditEntry.detail.like("audit log export: target=p-703%"))
        )
    assert exported == 1


def test_a_purge_never_reaches_rows_younger_than_183_days(app: Flask) -> None:
    db, _ = services(app)
    add_rows(db, [
        {"actor": "staff:1", "action": "read", "at": NOW - timedelta(days=days), "detail": f"age {days}"}
        for days in (10, 182, 184, 400)
    ])  # fmt: skip
    for too_young in (0, 30, 182):
        with pytest.raises(audit_retention.RetentionFloorError):
            audit_retention.purge(db, too_young, NOW, by="test")
    assert audit_retention.purge(db, 183, NOW, by="test") == {"a": 2}
    with db.reading() as session:
        left = set(session.scalars(select(AuditEntry.detail).where(AuditEntry.detail.like("age %"))))
        purge_row = session.scalar(select(AuditEntry).where(AuditEntry.action == "purge"))
    assert left == {"age 10", "age 182"}
    assert purge_row is not None and purge_row.actor == "cli:test" and "purged 2" in purge_row.detail
