"""/api/v1/consents and /api/v1/bindings: her word and her channels, audited, one hospital's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from carepath.store.models import AuditEntry, ChannelBinding, Consent, OutboxRow, Pregnancy
from tests.conftest import NOW
from tests.delivery.test_dispatcher import client, fake, hospital_delivery  # noqa: F401
from tests.webapi.conftest import Api, registration

OA_APPID = "wx-hospital"  # the official account of tests.delivery's channel settings
HEALTH = {
    "his_id": "p-001",
    "channel": "*",
    "topic": "health-information",
    "notice_version": "2026-01",
    "source": "mini-program",
}
SMS = HEALTH | {"channel": "sms_tencent", "topic": "*"}
PHONE = {"his_id": "p-001", "kind": "phone", "value": "13812345678"}
OPENID = {"his_id": "p-001", "kind": "wechat_oa", "account": OA_APPID, "value": "oAbCdEf-openid-001"}


def _put(api: Api, path: str, payload: Any) -> Any:
    import json

    body = json.dumps(payload).encode()
    return api.client.put(path, data=body, headers=api.headers("PUT", path, body))


def _delete(api: Api, path: str) -> Any:
    return api.client.delete(path, headers=api.headers("DELETE", path, b""))


def _rows(app: Flask, model: Any) -> list[Any]:
    with app.extensions["carepath.db"].reading() as session:
        return list(session.scalars(select(model).order_by(model.id)))


@pytest.fixture
def her(api: Api) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201


def test_consents_and_bindings_given_read_and_taken_back(api: Api, app: Flask, her: None) -> None:
    assert api.post("/api/v1/consents", HEALTH).status_code == 201
    given = api.post("/api/v1/consents", SMS)
    assert given.status_code == 201 and given.get_json()["channel"] == "sms_tencent"
    assert _put(api, "/api/v1/bindings", PHONE).status_code == 201
    bound = _put(api, "/api/v1/bindings", OPENID)
    assert bound.status_code == 201 and bound.get_json()["value"] == "oAbCdE…"

    now = api.get("/api/v1/consents?his_id=p-001").get_json()
    assert (now["health_information"], now["channels"], now["his_id"]) == (True, ["sms_tencent"], "p-001")
    assert {(b["kind"], b["value"]) for b in now["bindings"]} == {
        ("phone", "138****5678"),
        ("wechat_oa", "oAbCdE…"),
    }
    phone = next(b for b in _rows(app, ChannelBinding) if b.kind == "phone")
    assert phone.value is None and phone.value_sealed and "13812345678" not in phone.value_sealed

    withdrawn = _delete(api, "/api/v1/consents?his_id=p-001&topic=health-information")
    assert withdrawn.status_code == 200 and withdrawn.get_json() == {"withdrawn": 1}
    unbound = _delete(api, f"/api/v1/bindings?his_id=p-001&kind=wechat_oa&account={OA_APPID}")
    assert unbound.get_json() == {"unbound": 1}
    assert _delete(api, f"/api/v1/bindings?his_id=p-001&kind=wechat_oa&account={OA_APPID}").get_json() == {
        "unbound": 0
    }
    after = api.get("/api/v1/consents?his_id=p-001").get_json()
    assert after["health_information"] is False and [b["kind"] for b in after["bindings"]] == ["phone"]

    audit = [
        (a.action, a.detail.split(":")[0]) for a in _rows(app, AuditEntry) if a.actor.startswith("integrator")
    ]
    assert audit.count(("read", "consents and bindings")) == 2
    assert ("change", "consent given") in audit and ("change", "consent withdrawn") in audit
    assert sum(1 for action, detail in audit if detail.startswith(("bound", "unbound"))) == 4


def test_the_same_word_twice_changes_nothing_and_a_new_notice_replaces_it(
    api: Api, app: Flask, her: None
) -> None:
    first = api.post("/api/v1/consents", HEALTH).get_json()
    again = api.post("/api/v1/consents", HEALTH)
    assert again.status_code == 200 and again.get_json() == first
    assert _put(api, "/api/v1/bindings", PHONE).status_code == 201
    assert _put(api, "/api/v1/bindings", PHONE).status_code == 200
    assert len(_rows(app, ChannelBinding)) == 1
    newer = api.post("/api/v1/consents", HEALTH | {"notice_version": "2026-07"})
    assert newer.status_code == 201
    rows = _rows(app, Consent)
    assert [(r.notice_version, r.withdrawn_at is None) for r in rows] == [
        ("2026-01", False),
        ("2026-07", True),
    ]


def test_a_topic_turned_off_is_shown_as_refused(api: Api, her: None) -> None:
    api.post("/api/v1/consents", HEALTH)
    off = api.post("/api/v1/consents", HEALTH | {"topic": "week-20", "granted": False})
    assert off.status_code == 201 and off.get_json()["granted"] is False
    assert api.get("/api/v1/consents?his_id=p-001").get_json()["refused_topics"] == ["week-20"]


def test_withdrawal_stops_the_dispatcher_at_its_next_claim(
    api: Api,
    app: Flask,
    her: None,
    fake: Any,  # noqa: F811
    client: Any,  # noqa: F811
) -> None:
    from carepath.delivery.dispatcher import dispatch_once

    api.post("/api/v1/consents", HEALTH)
    api.post("/api/v1/consents", SMS)
    _put(api, "/api/v1/bindings", PHONE)
    db, cipher = app.extensions["carepath.db"], app.extensions["carepath.cipher"]
    [pregnancy] = _rows(app, Pregnancy)

    def due(key: str) -> None:
        with db.transaction() as session:
            session.add(
                OutboxRow(
                    hospital_id="a", pregnancy_id=pregnancy.id, dedupe_key=key, pathway_id="anc", version="1",
                    rule_id="r", kind="remind", params={"visit": "anc-2"}, due_at=NOW - timedelta(minutes=5),
                    channels=["sms"], enrolment_id="e", why="test", status="due", attempts=0,
                    created_at=NOW, updated_at=NOW,
                )
            )  # fmt: skip

    def mine() -> dict[str, OutboxRow]:
        return {r.dedupe_key: r for r in _rows(app, OutboxRow) if r.dedupe_key.startswith("k-")}

    setup = hospital_delivery(fake, client)
    due("k-before")
    dispatch_once(db, NOW, lambda h: setup, cipher=cipher)
    assert (mine()["k-before"].status, mine()["k-before"].channel) == ("sent", "sms_tencent")
    sent = fake.count("tencent.sms")
    assert fake.delivered("tencent.sms")[-1].payload["PhoneNumberSet"] == ["+8613812345678"]

    due("k-after")
    assert _delete(api, "/api/v1/consents?his_id=p-001&channel=sms_tencent").get_json() == {"withdrawn": 1}
    dispatch_once(db, NOW + timedelta(minutes=1), lambda h: setup, cipher=cipher)
    assert (mine()["k-after"].status, mine()["k-after"].status_reason) == ("skipped", "no-consent")
    assert fake.count("tencent.sms") == sent


def test_another_hospital_can_neither_see_nor_change_her(api: Api, api_b: Api, app: Flask, her: None) -> None:
    api.post("/api/v1/consents", HEALTH)
    patient_id = _rows(app, Pregnancy)[0].patient_id
    before = (len(_rows(app, Consent)), len(_rows(app, ChannelBinding)))
    attempts = [
        api_b.get("/api/v1/consents?his_id=p-001"),
        api_b.get(f"/api/v1/consents?patient_id={patient_id}"),
        api_b.post("/api/v1/consents", SMS),
        _delete(api_b, "/api/v1/consents?his_id=p-001"),
        _put(api_b, "/api/v1/bindings", PHONE),
        _delete(api_b, "/api/v1/bindings?his_id=p-001&kind=phone"),
    ]
    assert [(r.status_code, r.get_json()["code"]) for r in attempts] == [(404, "patient-not-found")] * 6
    assert (len(_rows(app, Consent)), len(_rows(app, ChannelBinding))) == before
    assert _rows(app, Consent)[0].withdrawn_at is None
    assert api.get(f"/api/v1/consents?patient_id={patient_id}").get_json()["health_information"] is True


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        (HEALTH | {"channel": "sms_tencent"}, "channel"),
        (HEALTH | {"channel": "carrier-pigeon"}, "channel"),
        (SMS | {"granted": False}, "granted"),
        (HEALTH | {"source": "Mini Program"}, "source"),
        (HEALTH | {"notice_version": ""}, "notice_version"),
        (HEALTH | {"patient_id": 1}, "his_id"),
        ({k: v for k, v in HEALTH.items() if k != "his_id"}, "his_id"),
        (HEALTH | {"given_at": "2026-07-10T15:00:00"}, "given_at"),
        (HEALTH | {"given_at": "2026-07-12T15:00:00+08:00"}, "given_at"),
        (HEALTH | {"extra": 1}, "extra"),
    ],
)
def test_bad_consents_name_the_field(
    api: Api, app: Flask, her: None, payload: dict[str, Any], path: str
) -> None:
    response = api.post("/api/v1/consents", payload)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == "invalid-consent" and path in [e["path"] for e in body["errors"]], body
    assert _rows(app, Consent) == []


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        (PHONE | {"account": OA_APPID}, "account"),
        (PHONE | {"value": "call me"}, "value"),
        ({k: v for k, v in OPENID.items() if k != "account"}, "account"),
        (OPENID | {"value": "o"}, "value"),
        (OPENID | {"kind": "qq"}, "kind"),
    ],
)
def test_bad_bindings_name_the_field(
    api: Api, app: Flask, her: None, payload: dict[str, Any], path: str
) -> None:
    response = _put(api, "/api/v1/bindings", payload)
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "invalid-binding" and path in [e["path"] for e in body["errors"]], body
    assert _rows(app, ChannelBinding) == []


def test_unknown_query_keys_and_unknown_women_are_refused(api: Api, her: None) -> None:
    assert api.get("/api/v1/consents?his_id=p-001&colour=red").status_code == 422
    assert api.get("/api/v1/consents").status_code == 422
    missing = api.get("/api/v1/consents?his_id=p-999")
    assert missing.status_code == 404 and missing.get_json()["code"] == "patient-not-found"
    assert api.client.get("/api/v1/consents?his_id=p-001").status_code == 401  # unsigned


def test_consents_and_bindings_are_in_the_openapi_document(api: Api) -> None:
    paths = api.client.get("/api/openapi.json").get_json()["paths"]
    assert {"get", "post", "delete"} <= set(paths["/api/v1/consents"])
    assert {"put", "delete"} <= set(paths["/api/v1/bindings"])


_VALUES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=12)
    | st.lists(st.text(max_size=3), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    target=st.sampled_from(["consent", "binding"]),
    key=st.sampled_from(
        [
            "his_id",
            "patient_id",
            "channel",
            "topic",
            "granted",
            "source",
            "given_at",
            "kind",
            "value",
            "account",
        ]
    ),
    value=_VALUES,
)
def test_a_mangled_consent_or_binding_is_never_a_server_error(
    api: Api, target: str, key: str, value: Any
) -> None:
    api.post("/api/v1/events", registration())
    if target == "consent":
        response = api.post("/api/v1/consents", SMS | {key: value})
    else:
        response = _put(api, "/api/v1/bindings", OPENID | {key: value})
    assert response.status_code < 500, response.get_data(as_text=True)
