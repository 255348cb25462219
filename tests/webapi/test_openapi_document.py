"""The OpenAPI document (``/api/openapi.json``) says what an integrator needs, and says what the
code does: every signing header, the refusals with the codes the code answers (read from its
source, and the 413 and 415 sent for real), each event type's ``data`` from the schema the event
check uses, and the FHIR endpoints."""

from __future__ import annotations

import ast
import hmac
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from carepath.engine import schema_check
from carepath.signing import HEADERS, NONCE_HEADER, SCHEME_V2, STAFF_HEADER
from carepath.store.tasks import UnknownStaffError
from carepath.webapi.auth import integrators, permissions, replay
from carepath.webapi.common import jsonbody
from tests.webapi.conftest import Api

SIGNING_PAGE = "docs/signing.md"
SIGNING_HEADERS = {*HEADERS, NONCE_HEADER}
CANONICAL_LINES = ("<METHOD>", "<PATH>", "<TIMESTAMP>", "<KEY ID>", "<BODY SHA-256>", "<NONCE>", "<STAFF>")


@pytest.fixture
def document(api: Api) -> dict[str, Any]:
    answer = api.client.get("/api/openapi.json")
    assert answer.status_code == 200
    body: dict[str, Any] = answer.get_json()
    return body


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
    ]


def resolved(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = document["components"][kind][name]
    return node


def answer_codes(document: dict[str, Any], response: Any) -> set[str]:
    """The stable codes a documented answer lists: one example per code."""
    content = resolved(document, response)["content"]["application/problem+json"]
    return {example["value"]["code"] for example in content["examples"].values()}


def literal_codes(module: ModuleType) -> set[tuple[int, str]]:
    """(status, code) of every ``ApiProblemError(status, "code", ...)`` and ``_fail("code", ...)``
    (a 401) written in ``module``: the refusals it can answer."""
    found: set[tuple[int, str]] = set()
    for node in ast.walk(ast.parse(Path(str(module.__file__)).read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
        if node.func.id == "_fail" and isinstance(args[0], str):
            found.add((401, args[0]))
        elif node.func.id == "ApiProblemError" and isinstance(args[0], int) and isinstance(args[1], str):
            found.add((args[0], args[1]))
    return found


def openapi_path(rule: str) -> str:
    """A Flask rule as the document writes its path: ``<int(max=...):task_id>`` is ``{task_id}``."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def staff_operations(app: Flask) -> set[tuple[str, str]]:
    """(method, path) of every view behind ``require_staff`` (it marks the permission)."""
    out = set()
    for rule in app.url_map.iter_rules():
        view_class = getattr(app.view_functions[rule.endpoint], "view_class", None)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            handler = getattr(view_class, method.lower(), None)
            if getattr(handler, "required_permission", None) is not None:
                out.add((method.lower(), openapi_path(rule.rule)))
    return out


def test_every_signing_header_is_a_security_scheme_every_api_operation_requires(
    app: Flask, document: dict[str, Any]
) -> None:
    schemes = document["components"]["securitySchemes"]
    by_header = {
        s["name"]: name for name, s in schemes.items() if s["type"] == "apiKey" and s["in"] == "header"
    }
    assert set(by_header) >= SIGNING_HEADERS
    for header in SIGNING_HEADERS:
        described = schemes[by_header[header]]["description"]
        assert SIGNING_PAGE in described and "canonical string" in described, header
    signature = schemes[by_header["X-Carepath-Signature"]]["description"]
    assert "canonical string" in signature and SCHEME_V2 in signature and SIGNING_PAGE in signature
    assert all(line in signature for line in CANONICAL_LINES)
    # The worked example holds: its lines, signed with its secret, give its signature.
    example = re.search(
        r"secret `([^`]+)`, signs\n\n(.+?)\n\nand sends `X-Carepath-Signature: ([0-9a-f]{64})`",
        signature,
        re.S,
    )
    assert example is not None
    secret, lines, sent = example.groups()
    canonical = "\n".join(line.removeprefix("    ") for line in lines.split("\n"))
    assert (
        canonical.startswith(SCHEME_V2 + "\nPOST\n")
        and hmac.new(secret.encode(), canonical.encode(), "sha256").hexdigest() == sent
    )
    required = {by_header[h] for h in SIGNING_HEADERS}
    api_routes = {
        (m.lower(), openapi_path(r.rule))
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/v1/")
        for m in (r.methods or set()) - {"HEAD", "OPTIONS"}
    }
    documented = {(m, p) for m, p, _ in operations(document)}
    assert api_routes == documented
    for method, path, operation in operations(document):
        assert [set(r) for r in operation["security"]] == [required], (method, path)
    assert SIGNING_PAGE in document["info"]["description"]
    assert (Path(__file__).parents[2] / SIGNING_PAGE).is_file()  # the page it points at ships


def test_the_staff_endpoints_document_the_signed_staff_header_and_its_refusals(
    app: Flask, document: dict[str, Any]
) -> None:
    staff = staff_operations(app)
    assert len(staff) >= 8  # tasks, search, timeline, pathways, outbox
    for method, path, operation in operations(document):
        headers = [resolved(document, p) for p in operation.get("parameters", [])]
        named = [p for p in headers if p["in"] == "header" and p["name"] == STAFF_HEADER]
        assert bool(named) == ((method, path) in staff), (method, path)
        if named:
            assert named[0]["required"] is True
            assert "last line" in named[0]["description"] and SIGNING_PAGE in named[0]["description"]
            assert "auth-missing-staff" in answer_codes(document, operation["responses"]["401"])
            assert answer_codes(document, operation["responses"]["403"]) == {
                "unknown-staff",
                "permission-denied",
            }
        else:
            assert "auth-missing-staff" not in answer_codes(document, operation["responses"]["401"])


def test_the_refusals_listed_are_the_codes_the_code_answers(document: dict[str, Any]) -> None:
    answered = literal_codes(integrators) | literal_codes(replay)
    signed = {code for status, code in answered if status == 401}
    for method, path, operation in operations(document):
        responses = operation["responses"]
        staff = "403" in responses
        expected = signed if staff else signed - {"auth-missing-staff"}
        assert answer_codes(document, responses["401"]) == expected, (method, path)
        assert answer_codes(document, responses["503"]) == {c for s, c in answered if s == 503}
        assert answer_codes(document, responses["413"]) == {"body-too-large"}, (method, path)
        if "415" in responses:
            assert answer_codes(document, responses["415"]) == {
                c for s, c in literal_codes(jsonbody) if s == 415
            }
            assert answer_codes(document, responses["400"]) == {
                c for s, c in literal_codes(jsonbody) if s == 400
            }
        if staff:
            refused = {c for s, c in literal_codes(permissions) if s == 403} | {UnknownStaffError.code}
            assert answer_codes(document, responses["403"]) == refused
        for status, response in responses.items():  # every refusal is documented as problem+json
            if status[0] in "45" or status == "default":
                assert "application/problem+json" in resolved(document, response)["content"], (path, status)


def test_413_and_415_are_answered_where_documented(app: Flask, api: Api, document: dict[str, Any]) -> None:
    from carepath.store.models import Staff

    with app.extensions["carepath.db"].transaction() as session:
        staff = Staff(hospital_id="a", name="医生", role="doctor", roles=["doctor", "analyst"])
        session.add(staff)
        session.flush()
        staff_id = str(staff.id)
    app.config["MAX_CONTENT_LENGTH"] = 1024
    too_large = b"[" + b"1," * 1024 + b"1]"
    for method, path, operation in operations(document):
        url = re.sub(r"\{[^}]+\}", "1", path)
        extra = {STAFF_HEADER: staff_id} if "403" in operation["responses"] else {}
        answers = {}
        for content_type, body in (("text/plain", b"x"), ("application/json", too_large)):
            headers = {**api.headers(method.upper(), url, body, **extra), "Content-Type": content_type}
            answers[content_type] = api.client.open(url, method=method.upper(), data=body, headers=headers)
        large = answers["application/json"]
        assert (large.status_code, large.mimetype) == (413, "application/problem+json"), (method, path)
        assert large.get_json()["code"] == "body-too-large"
        plain = answers["text/plain"]
        assert (plain.status_code == 415) == ("415" in operation["responses"]), (method, path)
        if plain.status_code == 415:
            assert plain.get_json()["code"] == "unsupported-media-type"


#: One event of each type whose ``data`` fits, and one whose ``data`` does not.
SAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "patient.registered": (
        {"lmp": "2026-01-05", "birth_date": "1990-04-12", "gravida": 1, "para": 0, "tags": ["ivf"]},
        {"lmp": "2026-1-5"},
    ),
    "patient.updated": ({"edd": "2026-10-12", "risk_colour": "yellow"}, {"gravida": 0}),
    "diagnosis.added": ({"code": "O24.401", "name": "妊娠期糖尿病"}, {"code": "gdm"}),
    "diagnosis.removed": ({"code": "O24.401"}, {"name": "妊娠期糖尿病"}),
    "dating.ultrasound": (
        {"scan_date": "2026-03-06", "ga": "9+3", "crl_mm": 27.5},
        {"scan_date": "2026-03-06", "ga": "45+0"},
    ),
    "lab.result": ({"code": "ogtt_0h", "value": 5.3, "unit": "mmol/L"}, {"code": "ogtt_0h", "value": "5.3"}),
    "questionnaire.submitted": (
        {"form": "epds", "answers": {"q1": 2, "q2": ["a", "b"], "q3": True}},
        {"form": "epds", "answers": {"q1": {"nested": 1}}},
    ),
    "tag.added": ({"tag": "gdm"}, {"tag": ""}),
    "tag.removed": ({"tag": "gdm"}, {"tag": "x" * 41}),
    "encounter.completed": (
        {"kind": "antenatal-visit", "bp_systolic": 118, "note": None, "fasting": True},
        {"kind": "antenatal-visit", "notes": ["a"]},
    ),
    "appointment.booked": (
        {"service": "产检", "at": "2026-07-20T09:00:00+08:00"},
        {"service": "产检", "at": "2026-07-20"},
    ),
    "appointment.attended": ({"service": "产检", "at": "2026-07-20T09:00:00+08:00"}, {"service": "产检"}),
    "appointment.missed": (
        {"service": "产检", "at": "2026-07-20T09:00:00+08:00"},
        {"service": "x" * 101, "at": "2026-07-20T09:00:00+08:00"},
    ),
    # Issue 16 item 4: the booking desk's and the school's events.
    "appointment.cancelled": (
        {
            "service": "产检",
            "at": "2026-07-20T09:00:00+08:00",
            "appointment_id": "a-17",
            "reason": "孕妇改期",
        },
        {"service": "产检", "at": "2026-07-20T09:00:00"},
    ),
    "appointment.rescheduled": (
        {"service": "产检", "at": "2026-07-22T09:00:00+08:00", "previous_at": "2026-07-20T09:00:00+08:00"},
        {"service": "产检", "at": "2026-07-22T09:00:00+08:00"},
    ),
    "class.booked": (
        {
            "class_id": "c-2026-07-21-am",
            "title": "分娩准备课",
            "starts_at": "2026-07-21T09:30:00+08:00",
            "ends_at": "2026-07-21T11:00:00+08:00",
            "place": "门诊楼三楼孕妇学校",
            "course_id": "birth-prep",
        },
        {"class_id": "c 1", "starts_at": "2026-07-21T09:30:00+08:00"},
    ),
    "class.cancelled": (
        {"class_id": "c-1", "starts_at": "2026-07-21T09:30:00+08:00", "reason": "讲师停诊"},
        {"class_id": "c-1"},
    ),
    "class.attended": (
        {"class_id": "c-1", "starts_at": "2026-07-21T09:30:00+08:00", "course_id": "birth-prep"},
        {"class_id": "c-1", "starts_at": "2026-07-21T09:30:00+08:00", "seat": 3},
    ),
    "course.completed": (
        {
            "course_id": "birth-prep",
            "title": "分娩准备",
            "completed_at": "2026-08-01T11:00:00+08:00",
            "exam_form": "birth-prep-exam",
        },
        {"course_id": "birth-prep", "exam_form": "Birth Prep"},
    ),
    # Issue 16 item 9: medications, by a code of the vocabulary (engine/medications.py).
    "medication.prescribed": (
        {
            "code": "insulin",
            "dose": "门冬胰岛素 4U 三餐前皮下注射",
            "prescriber": "dr-li",
            "started_on": "2026-07-11",
        },
        {"code": "Insulin"},
    ),
    "medication.stopped": ({"code": "insulin", "stopped_on": "2026-07-20"}, {"stopped_on": "2026-07-20"}),
    "delivery": (
        {
            "mode": "caesarean",
            "date": "2026-10-01",
            "newborns": [{"outcome": "live", "weight_g": 3200, "sex": None}],
        },
        {"mode": "forceps"},
    ),
    # Issue 16 item 6: a baby's registration and death, one baby at a time.
    "newborn.registered": (
        {
            "baby_id": "NB-20261001-1",
            "index": 1,
            "sex": "female",
            "weight_g": 3150,
            "gestational_age_at_birth": "38+4",
        },
        {"baby_id": "NB-1", "sex": "F"},
    ),
    "newborn.died": ({"baby_id": "NB-20261001-1", "date": "2026-10-03"}, {"date": "2026-10-03"}),
    "pregnancy.ended": ({"reason": "自然流产"}, {"reason": 3}),
    # Issue 16 item 7: a suspected loss, confirmed or rejected by a clinician.
    "loss.suspected": ({"reason": "阴道出血伴腹痛", "reported_by": "李护士", "code": "O03.9"}, {"reason": 3}),
    "loss.confirmed": ({"confirmed_by": "张医生", "reason": "稽留流产"}, {"confirmed_by": "张医生"}),
    "loss.rejected": ({"rejected_by": "张医生", "note": "超声见胎心搏动"}, {"note": "超声见胎心搏动"}),
    "risk.confirmed": (
        {"colour": "yellow", "confirmed_by": "王医生", "note": "复核评估表"},
        {"colour": "purple", "confirmed_by": "王医生"},
    ),
    # Issue 16 item 4: staff enrol her in a pathway, or end her enrolment, by hand.
    "plan.enrol_requested": (
        {"pathway": "gdm", "requested_by": "张医生", "reason": "空腹血糖偏高，先行管理"},
        {"pathway": "gdm", "reason": "空腹血糖偏高"},
    ),
    "plan.end_requested": (
        {"pathway": "gdm", "requested_by": "staff-0042", "reason": "孕妇要求退出", "reason_code": "declined"},
        {"pathway": "gdm", "requested_by": "staff-0042", "reason": "退出", "reason_code": "Declined"},
    ),
}


def event(kind: str, data: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f"e-{kind}",
        "type": kind,
        "occurred_at": "2026-07-10T14:00:00+08:00",
        "patient": {"his_id": "p-001"},
    }
    return out if data is None else {**out, "data": data}


def as_json_schema(node: Any) -> Any:
    """The document's schemas as JSON Schema: OpenAPI 3.0's ``nullable`` as a ``null`` type."""
    if isinstance(node, list):
        return [as_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: as_json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True and isinstance(node.get("type"), str):
        out["type"] = [node["type"], "null"]
    return out


def validator(document: dict[str, Any], name: str) -> Draft202012Validator:
    resource = Resource.from_contents(as_json_schema(document), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource("urn:openapi", resource)
    return Draft202012Validator({"$ref": f"urn:openapi#/components/schemas/{name}"}, registry=registry)


def test_every_event_type_has_the_schema_of_its_data_in_the_document(document: dict[str, Any]) -> None:
    check = schema_check.validator("his-event")  # what the API checks each event against
    accepted = check.schema["properties"]["type"]["enum"]
    assert set(SAMPLES) == set(accepted)  # a new event type needs samples here
    body = document["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    by_type = resolved(document, body)
    assert by_type["discriminator"]["propertyName"] == "type"
    assert set(by_type["discriminator"]["mapping"]) == set(accepted)
    schemas = document["components"]["schemas"]
    whole = validator(document, body["$ref"].rsplit("/", 1)[1])
    for kind, (good, bad) in SAMPLES.items():
        assert f"EventData.{kind}" in schemas and f"HisEvent.{kind}" in schemas
        one = validator(document, f"HisEvent.{kind}")
        assert check.is_valid(event(kind, good)) and not check.is_valid(event(kind, bad)), kind
        assert one.is_valid(event(kind, good)) and whole.is_valid(event(kind, good)), kind
        assert not one.is_valid(event(kind, bad)) and not whole.is_valid(event(kind, bad)), kind
        # Without data: required by the document exactly where the check requires it.
        assert one.is_valid(event(kind, None)) == check.is_valid(event(kind, None)), kind
        assert not whole.is_valid({**event(kind, good), "type": "risk.changed"})


def test_the_fhir_endpoints_are_listed_with_links_in_the_description(
    app: Flask, document: dict[str, Any]
) -> None:
    description = document["info"]["description"]
    fhir = [
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/fhir/")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]
    assert len(fhir) >= 2
    for method, path in fhir:
        assert f"{method} {path}" in description
    assert "](/fhir/r4/metadata)" in description


def test_the_search_documents_every_filter_of_find_a_woman(document: dict[str, Any]) -> None:
    operation = document["paths"]["/api/v1/pregnancies/search"]["post"]
    body = resolved(document, operation["requestBody"]["content"]["application/json"]["schema"])
    filters = {"name", "name_mode", "phone_last4", "his_id", "id_number", "source", "tag", "diagnosis"}
    filters |= {"risk_colour", "week_from", "week_to", "pathway", "status"}
    assert filters <= set(body["properties"])
    assert "name-search-too-broad" in operation["responses"]["422"]["description"]
