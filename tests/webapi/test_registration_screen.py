"""Issue 17 item 4 through the store: a registration screen posted to /api/v1/responses tags her
(the tags her choices carry, in the same transaction as the evaluation), the tag log names the
response, and the risk colours and follow-up tasks they start are recorded with it."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from carepath.store.models import Pregnancy, StaffTask, TagLog
from tests.conftest import NOW, ROOT
from tests.webapi.conftest import Api, counts, registration

PATH = "/api/v1/responses"
SCREEN: dict[str, Any] = {
    "previous_caesarean": "once",
    "last_caesarean_date": "2023-05-01",
    "other_uterine_surgery": "no",
    "uterine_surgery_interval": "18_months_or_more",
    "fibroid": "no",
    "conception": "natural",
    "fetuses": "one",
    "abortions": "none",
    "poor_outcomes": ["none"],
    "history": ["heart", "previous_preeclampsia"],
    "drug_treatment": ["none"],
}


def _publish(app: Flask, *names: str) -> None:
    from carepath.store import pathways

    files = {
        str(ROOT / "carepath" / "pathways" / n): (ROOT / "carepath" / "pathways" / n).read_text("utf-8")
        for n in names
    }
    with app.extensions["carepath.db"].transaction() as session:
        pathways.publish(session, files, NOW)
    pathways.clear_cache()


def _screen(response_id: str = "screen-001", answers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": response_id,
        "form": "registration-risk-screen",
        "submitted_at": "2026-07-10T14:20:00+08:00",
        "patient": {"his_id": "p-001"},
        "answers": SCREEN if answers is None else answers,
    }


def test_the_screen_tags_her_and_its_tags_act_in_the_same_answer(api: Api, app: Flask) -> None:
    _publish(app, "risk-colour.yaml", "registration-follow-up.yaml", "scarred-uterus.yaml")
    assert api.post("/api/v1/events", registration()).status_code == 201
    answer = api.post(PATH, _screen())
    assert answer.status_code == 201, answer.get_json()
    fired = {(a["pathway"], a["rule"], a["action"]) for a in answer.get_json()["actions"]}
    assert {
        ("registration-follow-up", "heart-grading", "task"),
        ("registration-follow-up", "aspirin-previous-preeclampsia", "task"),
        ("risk-colour", "heart-yellow-tag-added", "risk"),
        ("risk-colour", "history-yellow-from-screen", "risk"),
        ("scarred-uterus", "welcome", "push"),  # enrolled on the 瘢痕子宫 tag of her answer
    } <= fired
    assert ("risk-colour", "green-after-screen", "risk") not in fired
    with app.extensions["carepath.db"].reading() as session:
        [pregnancy] = session.scalars(select(Pregnancy))
        facts = pregnancy.state["facts"]
        assert {"瘢痕子宫", "心脏病", "子痫前期史", "需评估阿司匹林"} <= set(facts["tags"])
        logged = {(t.tag, t.by, t.why) for t in session.scalars(select(TagLog)) if t.by.startswith("event")}
        assert logged == {
            (tag, "event response:screen-001", "answer to form registration-risk-screen")
            for tag in ("瘢痕子宫", "心脏病", "子痫前期史")
        }
        titles = sorted(t.title for t in session.scalars(select(StaffTask)))
        assert any(t.startswith("孕妇报告心脏病") for t in titles)
        assert any("小剂量阿司匹林" in t for t in titles)


def test_a_replayed_screen_changes_nothing_and_a_clear_one_suggests_green(api: Api, app: Flask) -> None:
    _publish(app, "risk-colour.yaml", "registration-follow-up.yaml")
    young = registration()
    young["data"]["birth_date"] = "1996-04-12"  # 30 at the EDD: no colour at registration
    assert api.post("/api/v1/events", young).status_code == 201
    clear = {
        **SCREEN,
        "previous_caesarean": "no",
        "uterine_surgery_interval": "no_surgery",
        "history": ["none"],
    }
    first = api.post(PATH, _screen("screen-clear", clear))
    assert first.status_code == 201
    assert [(a["rule"], a["action"]) for a in first.get_json()["actions"]] == [("green-after-screen", "risk")]
    before = counts(app)
    again = api.post(PATH, _screen("screen-clear", clear))
    assert again.status_code == 200 and counts(app) == before
    with app.extensions["carepath.db"].reading() as session:
        assert list(session.scalars(select(TagLog))) == []  # a clear screen carries no tag
