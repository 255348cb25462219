"""The staff read API: search, timeline, pathways, outbox and exports; masked and audited."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select

from carepath.store import search
from carepath.store.models import AuditEntry, OutboxRow
from carepath.store.scope import Actor
from tests.store.test_tasks import add_staff
from tests.webapi.conftest import Api, diagnosis, registration

# Registered with LMP 2026-01-05: on NOW (2026-07-10) she is 26+4, EDD 2026-10-12.
WOMEN = (
    ("p-001", "王小红", "33010219900412180X", "13812345678"),
    ("p-002", "王小明", "110101199202021220", "13987654321"),
    ("p-003", "李华", "110101199303031225", "13700001111"),
)


def staff(actor: Actor, **more: str) -> dict[str, str]:
    return {"X-Carepath-Staff": actor.id, **more}


def register(api: Api, his_id: str, name: str, id_number: str, phone: str, **data: Any) -> str:
    event = registration(his_id, event_id=f"reg-{his_id}", name=name, id_number=id_number, phone=phone)
    event["data"].update(data)
    answer = api.post("/api/v1/events", event)
    assert answer.status_code == 201, answer.get_json()
    return str(answer.get_json()["pregnancy"])


@pytest.fixture
def women(api: Api) -> dict[str, str]:
    """Three women of hospital A; the first has gestational diabetes (GDM pathway, tags)."""
    pregnancies = {his_id: register(api, his_id, *rest) for his_id, *rest in WOMEN}
    assert api.post("/api/v1/events", diagnosis("p-001")).status_code == 201
    return pregnancies


def find(api: Api, who: Actor, **query: Any) -> Any:
    return api.post("/api/v1/pregnancies/search", query, **staff(who))


def audits(app: Flask, action: str | None = None) -> list[AuditEntry]:
    with app.extensions["carepath.db"].reading() as session:
        statement = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            statement = statement.where(AuditEntry.action == action)
        return list(session.scalars(statement))


def test_search_by_each_filter_returns_masked_pregnancies(
    api: Api, app: Flask, women: dict[str, str]
) -> None:
    nurse = add_staff(app, "a", role="nurse")
    found = find(api, nurse, name="王小红")
    assert found.status_code == 200, found.get_json()
    [only] = found.get_json()["items"]
    assert only["pregnancy"] == women["p-001"]
    assert only["patient"] == {
        "id": only["patient"]["id"],
        "hospital": "a",
        "his_id": "p-001",
        "name": "王**",
        "id_number": "3301**********180X",
        "phone": "138****5678",
    }
    assert (only["gestational_age"], only["gestational_week"], only["edd"]) == ("26+4", 26, "2026-10-12")
    assert "gdm-example" in only["pathways"] and only["status"] == "pregnant"

    def his_ids(**query: Any) -> list[str]:
        answer = find(api, nurse, **query)
        assert answer.status_code == 200, answer.get_json()
        return sorted(item["patient"]["his_id"] for item in answer.get_json()["items"])

    assert his_ids(name="王", name_mode="prefix") == ["p-001", "p-002"]
    assert his_ids(name="王") == []  # exact by default
    assert his_ids(his_id="p-003") == ["p-003"]
    assert his_ids(id_number="110101199202021220") == ["p-002"]
    assert his_ids(id_number="110101199202021247") == []
    assert his_ids(pathway="gdm-example") == ["p-001"]
    tag = only["tags"][0]
    assert his_ids(tag=tag) == ["p-001"]
    assert his_ids(tag=tag[:-1]) == []  # a tag matches whole, never as a part
    assert "p-001" in his_ids(risk_colour=only["risk_colour"])
    assert his_ids(risk_colour="red") == []
    assert his_ids(week_from=26, week_to=26) == ["p-001", "p-002", "p-003"]
    assert his_ids(week_from=20, week_to=25) == []
    assert his_ids(week_from=27) == []
    assert his_ids(week_to=26, name="李", name_mode="prefix") == ["p-003"]


def test_week_filter_follows_each_woman_s_own_dating(api: Api, app: Flask) -> None:
    nurse = add_staff(app, "a")
    register(api, "p-010", "赵一", "110101199001011122", "13800000010")
    later = registration("p-011", event_id="reg-p-011", name="赵二", id_number="110101199001012221")
    later["data"]["lmp"] = "2026-04-11"  # 12+6 on NOW
    assert api.post("/api/v1/events", later).status_code == 201
    items = find(api, nurse, week_from=12, week_to=12).get_json()["items"]
    assert [(i["patient"]["his_id"], i["gestational_age"]) for i in items] == [("p-011", "12+6")]
    assert find(api, nurse, week_from=13, week_to=25).get_json()["items"] == []
    assert [i["gestational_age"] for i in find(api, nurse, week_from=26).get_json()["items"]] == ["26+4"]


def test_search_pages_in_a_stable_order_without_repeats(api: Api, app: Flask, women: dict[str, str]) -> None:
    nurse = add_staff(app, "a")
    first = find(api, nurse, limit=2).get_json()
    assert len(first["items"]) == 2 and first["next"] == first["items"][-1]["pregnancy"]
    second = find(api, nurse, limit=2, after=first["next"]).get_json()
    assert len(second["items"]) == 1 and second["next"] is None
    seen = [i["pregnancy"] for i in first["items"] + second["items"]]
    assert seen == sorted(women.values())
    assert find(api, nurse, limit=2).get_json() == first  # same question, same page


def test_search_is_audited_per_result_with_the_staff_member_and_address(
    api: Api, app: Flask, women: dict[str, str]
) -> None:
    nurse = add_staff(app, "a")
    before = len(audits(app))
    assert find(api, nurse, name="王", name_mode="prefix").status_code == 200
    entries = audits(app)[before:]
    assert {(e.actor, e.action, e.pregnancy_id, e.remote_addr) for e in entries} == {
        (nurse.label, "list", women["p-001"], "127.0.0.1"),
        (nurse.label, "list", women["p-002"], "127.0.0.1"),
    }
    assert all(e.patient_id is not None for e in entries)


def test_another_hospital_s_staff_find_nothing(
    api: Api, api_b: Api, app: Flask, women: dict[str, str]
) -> None:
    theirs = add_staff(app, "b")
    assert find(api_b, theirs, name="王小红").get_json() == {"items": [], "next": None}
    timeline = api_b.get(f"/api/v1/pregnancies/{women['p-001']}/timeline", **staff(theirs))
    assert timeline.status_code == 404 and timeline.get_json()["code"] == "pregnancy-not-found"
    # Hospital A's staff id with hospital B's key: not B's staff.
    mine = add_staff(app, "a")
    refused = find(api_b, mine, name="王小红")
    assert refused.status_code == 403 and refused.get_json()["code"] == "unknown-staff"


def test_staff_header_missing_or_malformed_is_a_401(api: Api, app: Flask) -> None:
    missing = api.post("/api/v1/pregnancies/search", {"his_id": "p-001"})
    assert missing.status_code == 401 and missing.get_json()["code"] == "auth-missing-staff"
    bad = api.get("/api/v1/outbox", **{"X-Carepath-Staff": "staff:1"})
    assert bad.status_code == 401 and bad.get_json()["code"] == "auth-missing-staff"


def test_bad_search_input_is_a_located_problem(api: Api, app: Flask) -> None:
    nurse = add_staff(app, "a")
    for query, path in (
        ({"week_from": 30, "week_to": 20}, "week_from"),
        ({"risk_colour": "blue"}, "risk_colour"),
        ({"tag": ""}, "tag"),
        ({"colour": "red"}, "colour"),
        ({"limit": 0}, "limit"),
    ):
        answer = find(api, nurse, **query)
        assert answer.status_code == 422, query
        body = answer.get_json()
        assert body["code"] == "invalid-request" and body["errors"][0]["path"] == path, body


def test_a_name_s_beginning_opens_only_a_bounded_number_of_names(
    api: Api, app: Flask, women: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    nurse = add_staff(app, "a")
    monkeypatch.setattr(search, "NAME_SCAN_LIMIT", 2)
    broad = find(api, nurse, name="王", name_mode="prefix")
    assert broad.status_code == 422 and broad.get_json()["code"] == "name-search-too-broad"
    narrowed = find(api, nurse, name="王", name_mode="prefix", pathway="gdm-example")
    assert [i["patient"]["his_id"] for i in narrowed.get_json()["items"]] == ["p-001"]
    exact = find(api, nurse, name="王小红")  # her exact name: a hash probe, never refused as broad
    assert [i["patient"]["his_id"] for i in exact.get_json()["items"]] == ["p-001"]


def test_the_new_filters_of_find_a_woman_answer_through_the_api(
    api: Api, app: Flask, women: dict[str, str]
) -> None:
    nurse = add_staff(app, "a")

    def his_ids(**query: Any) -> list[str]:
        answer = find(api, nurse, **query)
        assert answer.status_code == 200, answer.get_json()
        return sorted(item["patient"]["his_id"] for item in answer.get_json()["items"])

    assert his_ids(name="王小红", phone_last4="5678") == ["p-001"]
    assert his_ids(name="王小红", phone_last4="4321") == []
    assert his_ids(diagnosis="O24") == ["p-001"]
    assert his_ids(diagnosis="O24.401", week_from=26, week_to=26) == ["p-001"]
    for query, code, path in (
        ({"phone_last4": "5678"}, "invalid-request", "phone_last4"),
        ({"name": "王小红", "phone_last4": "56a8"}, "invalid-request", "phone_last4"),
        ({"diagnosis": "O%"}, "invalid-request", "diagnosis"),
        ({"source": "nosuch"}, "unknown-source", None),
    ):
        answer = find(api, nurse, **query)
        assert answer.status_code == 422 and answer.get_json()["code"] == code, answer.get_json()
        if path:
            assert answer.get_json()["errors"][0]["path"] == path


def test_timeline_puts_everything_in_order_in_one_answer(api: Api, app: Flask, women: dict[str, str]) -> None:
    nurse = add_staff(app, "a")
    form = {
        "id": "epds-1",
        "type": "questionnaire.submitted",
        "occurred_at": "2026-07-10T14:50:00+08:00",
        "patient": {"his_id": "p-001"},
        "data": {"form": "epds", "answers": {f"q{i}": "a" for i in range(1, 11)}},
    }
    assert api.post("/api/v1/events", form).status_code == 201
    pregnancy = women["p-001"]
    answer = api.get(f"/api/v1/pregnancies/{pregnancy}/timeline", **staff(nurse))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["patient"]["name"] == "王**" and body["patient"]["id_number"] == "3301**********180X"
    facts = body["facts"]
    assert facts["gestational_age"] == "26+4" and facts["edd"] == "2026-10-12"
    assert [d["code"] for d in facts["diagnoses"]] == ["O24.401"] and facts["tags"]
    kinds = {e["kind"] for e in body["entries"]}
    assert {"event", "enrolment", "action", "response"} <= kinds
    moments = [e["at"] for e in body["entries"]]
    from datetime import datetime

    assert [datetime.fromisoformat(m) for m in moments] == sorted(datetime.fromisoformat(m) for m in moments)
    [response] = [e for e in body["entries"] if e["kind"] == "response"]
    assert response["form"] == "epds" and response["score"]["complete"] is True
    assert isinstance(response["score"]["total"], int | float)
    actions = [e for e in body["entries"] if e["kind"] == "action"]
    assert actions and all("delivery" in a and "attempts" in a and "channel" in a for a in actions)
    # nothing dispatched yet: each action's delivery summary is its outbox status, nothing delivered
    assert all(a["delivery"]["status"] == a["status"] for a in actions)
    assert all(a["delivery"]["delivered_at"] is None and a["delivery"]["read_at"] is None for a in actions)
    registered = next(e for e in body["entries"] if e["kind"] == "event")
    assert registered["type"] == "patient.registered" and "name" not in registered["data"]
    [read] = [e for e in audits(app, "read") if e.pregnancy_id == pregnancy]
    assert read.actor == nurse.label and read.patient_id == body["patient"]["id"]


def test_timeline_shows_staff_tasks_and_tag_changes(api: Api, app: Flask) -> None:
    doctor = add_staff(app, "a")
    pregnancy = register(api, "p-020", "钱多", "110101199001013320", "13800000020")
    assert api.post("/api/v1/events", diagnosis("p-020", event_id="dx-020", code="O44.0")).status_code == 201
    body = api.get(f"/api/v1/pregnancies/{pregnancy}/timeline", **staff(doctor)).get_json()
    [task] = [e for e in body["entries"] if e["kind"] == "task"]
    assert task["title"] == "高风险孕妇专案管理" and task["status"] == "open"
    assert body["facts"]["risk_colour"] == "orange"


def test_pathways_lists_the_library_with_the_current_version(api: Api, app: Flask) -> None:
    nurse = add_staff(app, "a")
    answer = api.get("/api/v1/pathways", **staff(nurse))
    assert answer.status_code == 200
    library = {p["id"]: p for p in answer.get_json()}
    assert "gdm-example" in library
    [version] = library["gdm-example"]["versions"]
    assert version["origin"] == "built-in" and version["current"] is True and version["status"] == "published"


def test_outbox_filters_and_pages(api: Api, app: Flask, women: dict[str, str]) -> None:
    nurse = add_staff(app, "a")
    everything = api.get("/api/v1/outbox?limit=1000", **staff(nurse)).get_json()
    total = len(everything["items"])
    assert total >= 2 and everything["next"] is None
    ids = [i["id"] for i in everything["items"]]
    assert ids == sorted(ids)
    assert everything["items"][0]["patient"]["phone"].count("*") == 4

    page = api.get("/api/v1/outbox?limit=1", **staff(nurse)).get_json()
    collected = [i["id"] for i in page["items"]]
    while page["next"] is not None:
        page = api.get(f"/api/v1/outbox?limit=1&after={page['next']}", **staff(nurse)).get_json()
        collected += [i["id"] for i in page["items"]]
    assert collected == ids

    gdm = api.get("/api/v1/outbox?pathway=gdm-example&limit=1000", **staff(nurse)).get_json()["items"]
    assert gdm and {i["pathway"] for i in gdm} == {"gdm-example"}
    mine = api.get(f"/api/v1/outbox?pregnancy={women['p-002']}", **staff(nurse)).get_json()["items"]
    assert {i["pregnancy"] for i in mine} == {women["p-002"]}
    status = everything["items"][0]["status"]
    same = api.get(f"/api/v1/outbox?status={status}&limit=1000", **staff(nurse)).get_json()["items"]
    assert {i["status"] for i in same} == {status}
    first_due = everything["items"][0]["at"].replace("+", "%2B")
    later = api.get(f"/api/v1/outbox?due_to={first_due}&limit=1000", **staff(nurse)).get_json()["items"]
    assert all(i["at"] < everything["items"][0]["at"] for i in later)
    assert api.get("/api/v1/outbox?channel=sms_tencent", **staff(nurse)).get_json()["items"] == []
    bad = api.get("/api/v1/outbox?status=lost", **staff(nurse))
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["path"] == "status"
    listed = {e.pregnancy_id for e in audits(app, "list") if e.actor == nurse.label}
    assert set(women.values()) <= listed


def _poison(app: Flask) -> None:
    """A row whose text a spreadsheet would run as a formula."""
    with app.extensions["carepath.db"].transaction() as session:
        row = session.scalars(select(OutboxRow).order_by(OutboxRow.id)).first()
        assert row is not None
        row.status_reason = '=HYPERLINK("http://example.invalid","x")'
        row.provider_message_id = "@SUM(1+1)\x01"


def test_csv_export_is_masked_neutralised_and_audited_once(
    api: Api, app: Flask, women: dict[str, str]
) -> None:
    analyst = add_staff(app, "a", role="analyst")  # exports need the export permission
    hostile = registration("-23", event_id="reg-hostile", name="=1+2", id_number="110101199001014446")
    assert api.post("/api/v1/events", hostile).status_code == 201
    _poison(app)
    before = len(audits(app))
    answer = api.get("/api/v1/outbox/export?format=csv", **staff(analyst))
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    raw = answer.get_data()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, data = rows[0], rows[1:]
    reader = add_staff(app, "a", role="nurse")
    count = len(api.get("/api/v1/outbox?limit=1000", **staff(reader)).get_json()["items"])
    assert len(data) == count
    column = {name: header.index(name) for name in header}
    names = {r[column["name (masked)"]] for r in data}
    assert "王**" in names and "王小红" not in raw.decode("utf-8-sig")
    assert "'=***" in names  # her name began with "=": masked, then neutralised
    phones = {r[column["phone (masked)"]] for r in data}
    assert "138****5678" in phones and "13812345678" not in raw.decode("utf-8-sig")
    assert "'-23" in {r[column["HIS patient id"]] for r in data}
    assert {"delivery", "delivered at", "read at", "failed at", "delivery reason"} <= set(header)
    assert {r[column["delivery"]] for r in data} == {r[column["status"]] for r in data}
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in data for cell in r)
    exported = audits(app)[before:]
    export = [e for e in exported if e.action == "export"]
    assert len(export) == 1 and export[0].actor == analyst.label
    assert export[0].detail == f"outbox export csv: {count} rows; no filter"


def test_xlsx_export_opens_with_masks_and_the_filter_is_audited(
    api: Api, app: Flask, women: dict[str, str]
) -> None:
    analyst = add_staff(app, "a", role="analyst")  # exports need the export permission
    _poison(app)
    answer = api.get("/api/v1/outbox/export?format=xlsx&pathway=gdm-example", **staff(analyst))
    assert answer.status_code == 200, answer.get_data()[:300]
    assert answer.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(answer.get_data()), read_only=True).active
    assert sheet is not None
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header, data = rows[0], rows[1:]
    assert data and {r[header.index("pathway")] for r in data} == {"gdm-example"}
    assert {r[header.index("name (masked)")] for r in data} == {"王**"}
    assert {r[header.index("phone (masked)")] for r in data} == {"138****5678"}
    cells = [c for r in data for c in r if isinstance(c, str)]
    assert all(not c.startswith(("=", "+", "-", "@")) for c in cells)
    [export] = audits(app, "export")
    assert export.detail == f"outbox export xlsx: {len(data)} rows; pathway=gdm-example"


def test_an_empty_export_still_has_its_header(api: Api, app: Flask) -> None:
    analyst = add_staff(app, "a", role="analyst")  # exports need the export permission
    answer = api.get("/api/v1/outbox/export?status=dead", **staff(analyst))
    assert answer.get_data().decode("utf-8-sig").splitlines()[0].startswith("action id,")
    [export] = audits(app, "export")
    assert export.detail == "outbox export csv: 0 rows; status=dead"


def test_an_export_cut_off_by_the_client_is_audited_as_interrupted(
    api: Api, app: Flask, women: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from carepath.webapi.api import exports

    analyst = add_staff(app, "a", role="analyst")  # exports need the export permission
    monkeypatch.setattr(exports, "CHUNK", 1)  # one piece per row
    path = "/api/v1/outbox/export?format=csv"
    response = api.client.get(path, headers=api.headers("GET", path, b"", **staff(analyst)), buffered=False)
    pieces = iter(response.response)
    assert next(pieces).decode("utf-8-sig").startswith("action id,")
    response.close()  # the client goes away after the header
    [export] = audits(app, "export")
    assert export.detail.startswith("outbox export csv (interrupted): 1 rows;"), export.detail
