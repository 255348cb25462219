"""The high-risk register's read model (高危专案, issue 21 item 1): order by colour then EDD, keyset
pages, the 2017 规范's filters, the queue of suggested colours with the rule that suggested each,
the per-page facts (diagnoses, plans, overdue tasks, last contact) in a fixed number of
statements, visibility and audit; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select

from carepath.store import record_actions, risk_register
from carepath.store.models import AuditEntry, PatientGrant, Pregnancy, StaffTask
from carepath.store.risk_register import Cursor, RegisterFilter
from carepath.store.scope import Actor
from tests.conftest import NOW, resident_id
from tests.webapi import conftest as webapi
from tests.webapi.conftest import Api, make_staff

ACTOR = Actor("a", "staff", "1")


@pytest.fixture
def api_b(app: Flask, clock: Any) -> Api:
    return Api(app.test_client(), webapi._key(app, "b"), clock)


def _db(app: Flask) -> Any:
    return app.extensions["carepath.db"]


def _cipher(app: Flask) -> Any:
    return app.extensions["carepath.cipher"]


def woman(
    api: Api,
    n: int,
    *,
    lmp: str | None = "2026-01-05",
    colour: str | None = None,
    codes: tuple[tuple[str, str | None], ...] = (),
    status: str | None = None,
) -> str:
    """A woman of ``api``'s hospital registered (and diagnosed) through the event API; her
    pregnancy id. ``colour``: the HIS's grade (a confirmed colour)."""
    data: dict[str, Any] = {"birth_date": "1996-04-12", "gravida": 1, "para": 0}  # no age rule
    if lmp:
        data["lmp"] = lmp
    if colour:
        data["risk_colour"] = colour
    if status:
        data["status"] = status
    his_id = f"w-{n:03d}"
    answer = api.post(
        "/api/v1/events",
        {
            "id": f"reg-{his_id}",
            "type": "patient.registered",
            "occurred_at": "2026-07-10T14:00:00+08:00",
            "patient": {
                "his_id": his_id,
                "id_number": resident_id(n),
                "name": f"王小红{n}",
                "phone": f"1381234{n:04d}",
            },
            "data": data,
        },
    )
    assert answer.status_code == 201, answer.get_json()
    for i, (code, name) in enumerate(codes):
        body = {
            "id": f"dx-{his_id}-{i}",
            "type": "diagnosis.added",
            "occurred_at": "2026-07-10T14:30:00+08:00",
            "patient": {"his_id": his_id},
            "data": {"code": code, **({"name": name} if name else {})},
        }
        posted = api.post("/api/v1/events", body)
        assert posted.status_code == 201, posted.get_json()
    return str(answer.get_json()["pregnancy"])


def flag_purple(app: Flask, pregnancy_id: str) -> None:
    """Her state flagged purple as a rule's ``risk: {purple: true}`` leaves it (the test library
    does not load the infections pathway)."""
    with _db(app).transaction() as session:
        pregnancy = session.get(Pregnancy, pregnancy_id)
        assert pregnancy is not None
        state = dict(pregnancy.state)
        state["facts"] = {**state["facts"], "purple": True}
        pregnancy.state = state


def task(app: Flask, pregnancy_id: str, title: str, *, status: str = "open", **values: Any) -> None:
    with _db(app).transaction() as session:
        session.add(
            StaffTask(
                hospital_id="a",
                pregnancy_id=pregnancy_id,
                dedupe_key=f"{pregnancy_id}/test/{title}",
                title=title,
                assign="responsible_nurse",
                priority="normal",
                status=status,
                created_at=NOW - timedelta(days=30),
                **values,
            )
        )


def listed(
    app: Flask, filters: RegisterFilter | None = None, *, queue: bool = False, limit: int = 50
) -> list[Any]:
    """Every row of the register under ``filters``, walked page by page (``limit`` a page)."""
    rows: list[Any] = []
    after: Cursor | None = None
    while True:
        found = risk_register.page(
            _db(app),
            _cipher(app),
            ACTOR,
            NOW,
            filters or RegisterFilter(),
            after=after,
            limit=limit,
            queue=queue,
        )
        rows += found.rows
        if found.next is None:
            return rows
        after = Cursor.decode(found.next.encode())  # as the next link carries it


def ids(rows: list[Any]) -> list[str]:
    return [row.pregnancy_id for row in rows]


@pytest.fixture
def women(app: Flask, api: Api) -> dict[str, str]:
    """Red (confirmed, due soonest), two oranges (suggested by a placenta praevia; one due later),
    a yellow flagged purple (syphilis), a green, one with no colour and no LMP."""
    found = {
        "red": woman(api, 1, lmp="2025-12-01", colour="red"),
        "orange": woman(api, 2, lmp="2026-01-20", codes=(("O44.1", None),)),
        "orange_early": woman(api, 3, lmp="2026-02-20", codes=(("O44.1", None),)),
        "purple": woman(api, 4, colour="yellow"),
        "green": woman(api, 5, colour="green"),
        "none": woman(api, 6, lmp=None),
    }
    flag_purple(app, found["purple"])
    return found


def test_the_register_lists_by_colour_then_edd_in_keyset_pages(app: Flask, women: dict[str, str]) -> None:
    one_page = listed(app)
    assert ids(one_page) == [
        women["red"],
        women["orange"],
        women["orange_early"],
        women["purple"],
        women["green"],
        women["none"],
    ]
    # pages of two walk the same order, nothing repeated, nothing skipped
    assert ids(listed(app, limit=2)) == ids(one_page)
    assert ids(listed(app, limit=1)) == ids(one_page)
    red = one_page[0]
    assert (red.colour, red.colour_status, red.gestational_age) == ("red", "confirmed", "31+4")
    assert red.name == "王***" and red.phone == "138****0001"
    orange = one_page[1]
    assert (orange.colour, orange.colour_status) == ("orange", "suggested")
    assert one_page[3].purple and one_page[3].colour == "yellow"
    assert one_page[5].colour is None and one_page[5].gestational_age is None


def test_a_malformed_cursor_is_the_first_page() -> None:
    assert Cursor.decode("x~y") is None
    assert Cursor.decode("9~~p") is None
    assert Cursor.decode("1~2026-13-01~p") is None
    assert Cursor.decode("1~2026-10-01~p") == Cursor(1, date(2026, 10, 1), "p")
    assert Cursor.decode(Cursor(4, None, "abc").encode()) == Cursor(4, None, "abc")


def test_the_queue_holds_the_suggested_colours_with_the_rule_that_suggested_each(
    app: Flask, women: dict[str, str]
) -> None:
    queue = listed(app, queue=True)
    assert ids(queue) == [women["orange"], women["orange_early"]]
    suggestion = queue[0].suggestion
    assert suggestion is not None and suggestion.colour == "orange"
    assert suggestion.pathway_title == "妊娠风险五色分级（示例）"  # the rule by its pathway's title
    assert "前置胎盘" in suggestion.note
    # a confirmed colour is never in it, nor a woman without a colour
    assert all(row.suggestion is None for row in listed(app) if row.colour_status != "suggested")
    counts = risk_register.counts(_db(app), ACTOR, NOW)
    assert counts == {"red": 1, "orange": 2, "yellow": 1, "green": 1, "none": 1, "queue": 2, "purple": 1}


def test_the_2017_filters_high_unconfirmed_and_confirmed(app: Flask, women: dict[str, str]) -> None:
    high = RegisterFilter(colour="high")
    assert ids(listed(app, high)) == [women["red"], women["orange"], women["orange_early"], women["purple"]]
    unconfirmed = RegisterFilter(colour="high", confirmation="unconfirmed")
    # the purple woman's yellow is the HIS's grade (confirmed), so only the rules' oranges wait
    assert ids(listed(app, unconfirmed)) == [women["orange"], women["orange_early"]]
    confirmed = RegisterFilter(confirmation="confirmed")
    assert ids(listed(app, confirmed)) == [women["red"], women["purple"], women["green"]]
    assert ids(listed(app, RegisterFilter(colour="purple"))) == [women["purple"]]
    assert ids(listed(app, RegisterFilter(colour="none"))) == [women["none"]]
    assert ids(listed(app, RegisterFilter(colour="orange"), limit=1)) == [
        women["orange"],
        women["orange_early"],
    ]
    assert ids(listed(app, RegisterFilter(confirmation="unconfirmed"))) == [
        women["orange"],
        women["orange_early"],
        women["none"],
    ]


def test_overdue_and_no_contact_filters(app: Flask, women: dict[str, str]) -> None:
    nurse = make_staff(app, "nurse.li", "nurse")
    task(app, women["red"], "随访电话", due_at=NOW - timedelta(days=1))
    task(app, women["red"], "复查血常规", due_at=NOW - timedelta(hours=1))
    task(app, women["orange"], "产检提醒", due_at=NOW + timedelta(days=2))  # not yet due
    task(
        app,
        women["orange"],
        "随访",
        status="done",
        claimed_by=f"staff:{nurse}",
        done_at=NOW - timedelta(days=3),
        outcome="已电话联系，无不适",
    )
    task(
        app,
        women["purple"],
        "随访",
        status="done",
        claimed_by=f"staff:{nurse}",
        done_at=NOW - timedelta(days=40),
        outcome="已联系",
    )
    task(
        app,
        women["green"],
        "随访",
        status="done",
        claimed_by="integrator:1",
        done_at=NOW - timedelta(days=1),
        outcome="HIS",
    )
    overdue = listed(app, RegisterFilter(colour="high", overdue=True))
    assert ids(overdue) == [women["red"]] and overdue[0].overdue == 2
    quiet = RegisterFilter(colour="high", no_contact_days=30)
    # the orange was called 3 days ago; the purple 40 days ago is past 30 days
    assert ids(listed(app, quiet)) == [women["red"], women["orange_early"], women["purple"]]
    # an outcome recorded by the HIS (not a staff member) is no contact
    assert women["green"] in ids(listed(app, RegisterFilter(no_contact_days=30)))
    rows = {row.pregnancy_id: row for row in listed(app)}
    contact = rows[women["orange"]].last_contact
    assert contact is not None and contact.task == "随访" and contact.outcome == "已电话联系，无不适"
    assert contact.by and contact.at == NOW - timedelta(days=3)
    assert rows[women["green"]].last_contact is None


def test_each_row_shows_diagnoses_and_plans_by_title(app: Flask, api: Api) -> None:
    pregnancy = woman(api, 7, codes=(("O44.1", None), ("O24.401", "妊娠期糖尿病A1级")))
    (row,) = listed(app)
    assert row.pregnancy_id == pregnancy
    assert row.diagnoses[1] == "O24.401 妊娠期糖尿病A1级"  # the title the HIS sent
    assert row.diagnoses[0].startswith("O44.1 ") and "胎盘" in row.diagnoses[0]  # the catalogue's
    assert row.plans and all(not plan.isascii() for plan in row.plans)  # titles, never ids


def test_status_filter_and_other_hospitals(app: Flask, api: Api, api_b: Api) -> None:
    mine = woman(api, 1, colour="orange")
    delivered = woman(api, 2, colour="red", status="delivered")
    theirs = woman(api_b, 3, colour="red")
    assert ids(listed(app)) == [mine]
    assert ids(listed(app, RegisterFilter(status="delivered"))) == [delivered]
    assert set(ids(listed(app, RegisterFilter(status="all")))) == {mine, delivered}
    with _db(app).transaction() as session:  # an alliance shares her with hospital a
        patient_id = session.scalar(select(Pregnancy.patient_id).where(Pregnancy.id == theirs))
        session.add(
            PatientGrant(
                patient_id=patient_id,
                hospital_id="b",
                grantee_hospital_id="a",
                granted_by="test",
                reason="医联体转诊",
                granted_at=NOW - timedelta(days=1),
            )
        )
    assert ids(listed(app)) == [theirs, mine]
    # the counts see her too (read apart from the hospital's own, which come from an index)
    counts = risk_register.counts(_db(app), ACTOR, NOW)
    assert (counts["red"], counts["orange"], counts["queue"]) == (1, 1, 0)
    assert risk_register.counts(_db(app), ACTOR, NOW, "all")["red"] == 2


def test_each_listed_woman_is_audited(app: Flask, women: dict[str, str]) -> None:
    listed(app, RegisterFilter(colour="high"), limit=2)
    with _db(app).reading() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "list")).all()
    assert sorted(r.pregnancy_id for r in rows) == sorted(
        women[k] for k in ("red", "orange", "orange_early", "purple")
    )
    assert all("colour=high" in r.detail and r.actor == "staff:1" for r in rows)


def test_export_is_every_filtered_woman_audited_as_exported(
    app: Flask, women: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(risk_register, "EXPORT_PAGE", 2)
    pages = list(
        risk_register.export_pages(_db(app), _cipher(app), ACTOR, NOW, RegisterFilter(colour="high"))
    )
    assert [len(p) for p in pages] == [2, 2]
    with _db(app).reading() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "export")).all()
    assert len(rows) == 4 and all("export" in r.detail for r in rows)
    monkeypatch.setattr(risk_register, "EXPORT_LIMIT", 3)
    capped = list(risk_register.export_pages(_db(app), _cipher(app), ACTOR, NOW, RegisterFilter()))
    assert sum(len(p) for p in capped) == 3


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = _db(app).engine

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_page_costs_the_same_statements_for_two_women_or_ten(app: Flask, api: Api) -> None:
    nurse = make_staff(app, "nurse.li", "nurse")
    for n in range(1, 13):  # all orange and dated: pages of 2 and of 10 both end inside that run
        pregnancy = woman(api, n, colour="orange", codes=(("O24.401", None),))
        task(
            app,
            pregnancy,
            "随访",
            status="done",
            claimed_by=f"staff:{nurse}",
            done_at=NOW - timedelta(days=n),
        )
        task(app, pregnancy, "复查", due_at=NOW - timedelta(days=1))
    risk_register.page(_db(app), _cipher(app), ACTOR, NOW, RegisterFilter(), limit=2)  # warm caches
    with statements(app) as two:
        risk_register.page(_db(app), _cipher(app), ACTOR, NOW, RegisterFilter(), limit=2)
    with statements(app) as ten:
        found = risk_register.page(_db(app), _cipher(app), ACTOR, NOW, RegisterFilter(), limit=10)
    assert len([s for s in ten if s.lstrip().upper().startswith("SELECT")]) == len(
        [s for s in two if s.lstrip().upper().startswith("SELECT")]
    )
    assert all(row.overdue == 1 and row.last_contact is not None for row in found.rows)


def test_the_counts_are_reused_for_a_while_and_a_confirmed_colour_is_counted_at_once(
    app: Flask, api: Api, women: dict[str, str]
) -> None:
    """The page reuses the hospital's own counts (``reuse_seconds``); the list stays fresh, and a
    colour confirmed through her record forgets them in this process."""
    db = _db(app)
    doctor = Actor("a", "staff", str(make_staff(app, "dr-counts", "doctor")))
    first = risk_register.counts(db, ACTOR, NOW, reuse_seconds=3600)
    assert (first["orange"], first["queue"]) == (2, 2)
    later = woman(api, 7, codes=(("O44.1", None),))  # a third orange, suggested
    assert later in ids(listed(app, queue=True))  # the list sees her at once
    assert risk_register.counts(db, ACTOR, NOW, reuse_seconds=3600) == first  # the counts trail
    assert risk_register.counts(db, ACTOR, NOW)["orange"] == 3  # unless not reused
    record_actions.confirm_colour(
        db, _cipher(app), doctor, later, colour="red", note=None, request="counts-test-1", now=NOW
    )
    fresh = risk_register.counts(db, ACTOR, NOW, reuse_seconds=3600)
    assert (fresh["red"], fresh["orange"], fresh["queue"]) == (2, 2, 2)


def test_the_reused_counts_are_the_hospitals_own_not_another_hospitals(
    app: Flask, api: Api, api_b: Api, women: dict[str, str]
) -> None:
    db = _db(app)
    mine = risk_register.counts(db, ACTOR, NOW, reuse_seconds=3600)
    theirs = risk_register.counts(db, Actor("b", "staff", "9"), NOW, reuse_seconds=3600)
    assert sum(mine[c] for c in ("red", "orange", "yellow", "green", "none")) == 6
    assert theirs == {"purple": 0, "queue": 0}
