"""Issue 20: a nurse reads her record and the workspace in Chinese, titles not ids — the engine's
records of why a rule fired (items 2, 3), the rules and pathways (item 4), who did it (item 5)."""

from __future__ import annotations

import re

from flask import Flask

from carepath.webapi.common.diagnostics_text import translator
from carepath.webapi.staff.preview_text import Titles
from carepath.webapi.staff.why_words import said
from tests.webapi.conftest import Api
from tests.webapi.staff.record_seed import in_care, logged_in, register, team

ZH = translator("zh")
ENGINE_WORDS = re.compile(r"condition held|event [a-z]+\.[a-z]+|every \d+d from|\bat GA \d|enrolled [+-]\d+d")


def test_the_engines_record_of_a_firing_is_said_in_chinese() -> None:
    assert said("every 3d from enrolled +1d (2026-03-02)", ZH) == "入组后1天起每3天一次"
    assert said("every 14d from GA 24+0", ZH) == "孕24周起每2周一次"
    assert said("event risk.changed; condition held", ZH) == "风险分级变化时（条件成立）"
    assert said("at GA 23+4", ZH) == "孕23+4周时"
    assert said("event lab.result (code=hb)", ZH, Titles(labs={"hb": "血红蛋白"})) == "血红蛋白结果回报时"
    assert said("enrolled", ZH) == "入组时"
    assert said("something else", ZH) == "something else"  # a record it cannot read, as it is


def test_her_record_says_why_in_chinese_not_the_engines_words(app: Flask, api: Api) -> None:
    browser, nurse_id = logged_in(app, "nurse.li", "nurse")
    woman = register(api)
    in_care(app, woman, team(app, members=((nurse_id, "nurse"),)), doctor=nurse_id)
    text = browser.client.get(f"/staff/patients/{woman}").get_data(as_text=True)
    shown = re.sub(r'title="[^"]*"', "", text)  # ids may stay in a tooltip for support
    assert not ENGINE_WORDS.search(shown), ENGINE_WORDS.search(shown)
    assert "风险分级变化时（条件成立）" in shown  # the tag log says why in Chinese


def test_her_record_names_rules_by_title_and_keeps_ids_and_versions_out_of_the_text(
    app: Flask, api: Api
) -> None:
    from carepath.store.models import OutboxRow

    browser, nurse_id = logged_in(app, "nurse.li", "nurse")
    woman = register(api)
    in_care(app, woman, team(app, members=((nurse_id, "nurse"),)), doctor=nurse_id)
    with app.extensions["carepath.db"].reading() as session:
        fired = session.query(OutboxRow.rule_id, OutboxRow.version).filter_by(pregnancy_id=woman).all()
    assert fired
    text = browser.client.get(f"/staff/patients/{woman}").get_data(as_text=True)
    shown = re.sub(r'title="[^"]*"', "", text)  # ids may stay in a tooltip for support
    for rule_id, version in fired:
        assert (
            f" {rule_id} " not in shown and f">{rule_id}<" not in shown and f"规则 {rule_id}" not in shown
        ), rule_id
        assert version not in shown, version


def test_the_care_history_names_who_did_it_not_an_actor_label(app: Flask, api: Api) -> None:
    from carepath.store import care_teams
    from carepath.store.scope import Actor
    from tests.webapi.staff.record_seed import NOW

    browser, nurse_id = logged_in(app, "nurse.li", "nurse")
    woman = register(api)
    first = team(app, members=((nurse_id, "nurse"),))
    in_care(app, woman, first)  # by "staff:0", no one's id on this page
    care_teams.set_care(
        app.extensions["carepath.db"],
        Actor("a", "cli", "demo-setup"),
        woman,
        team_id=first,
        responsible_nurse_id=nurse_id,
        reason="演示",
        now=NOW,
    )
    text = browser.client.get(f"/staff/patients/{woman}").get_data(as_text=True)
    shown = re.sub(r'title="[^"]*"', "", text)
    for label in ("staff:0", "cli:demo-setup", ">registration<"):
        assert label not in shown, label
    assert "系统（demo-setup）" in shown


def test_the_staff_home_lists_what_she_may_do_in_words_not_permission_ids(app: Flask) -> None:
    from carepath.store.roles import ROLE_PERMISSIONS

    browser, _ = logged_in(app, "nurse.li", "nurse")
    text = browser.client.get("/").get_data(as_text=True)
    shown = re.sub(r'title="[^"]*"', "", text)
    assert 'class="permissions"' in shown
    for permission in ROLE_PERMISSIONS["nurse"]:
        assert f">{permission}<" not in shown and f"{permission} " not in shown, permission
