"""The preview's click-through: what she would read on WeChat, SMS and in the inbox."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import MappingProxyType

from carepath.delivery.preview import preview_views, render_views
from carepath.delivery.rendering import NEUTRAL_SUMMARY
from carepath.engine.compiler import compile_paths
from carepath.engine.content import ContentItem, load_content_library
from carepath.engine.library import Library
from carepath.engine.preview import demo_persona, preview

ROOT = Path(__file__).resolve().parents[2]
CONTENT = load_content_library()
FACTS = {
    "first_name": "小雨",
    "today": dt.date(2026, 6, 20),
    "gestational_age": "24+3",
    "gestational_week": 24,
}


def item(key: str, title: str, summary: str, body: str) -> ContentItem:
    return ContentItem(
        key=key,
        title=title,
        summary=summary,
        body=body,
        audience=MappingProxyType({}),
        sensitive=False,
        sources=(),
        review=MappingProxyType({"status": "draft"}),
        path=f"{key}.md",
    )


def by_channel(views):  # type: ignore[no-untyped-def]
    return {v.channel: v for v in views}


def test_a_checkup_reminder_shows_the_neutral_summary_outside_and_the_full_text_inside() -> None:
    views = by_channel(render_views("remind", {"content": "visit-4"}, (), CONTENT, FACTS, link="/inbox/9"))
    visit = CONTENT["visit-4"]
    wechat, sms, inbox = views["wechat"], views["sms"], views["inbox"]
    assert wechat.sent and sms.sent and inbox.sent
    assert (
        wechat.title == "checkup-reminder" and wechat.link == "/inbox/9" and sms.link == "/inbox/9"
    )  # SMS carries the link too (issue 18)
    assert wechat.text == sms.text and "{{" not in wechat.text
    for outside in (wechat.text, sms.text):
        assert inbox.title not in outside and inbox.text.strip()[:20] not in outside
    assert inbox.title.startswith(visit.title[:4]) and "##" in inbox.text  # the body, as Markdown


def test_a_lesson_goes_to_the_inbox_only_unless_the_rule_narrows_to_sms() -> None:
    views = by_channel(render_views("push", {"content": "week-24"}, (), CONTENT, FACTS))
    assert not views["wechat"].sent and "digest" in views["wechat"].note
    assert not views["sms"].sent and views["inbox"].sent
    narrowed = by_channel(render_views("push", {"content": "week-24"}, ("sms",), CONTENT, FACTS))
    assert narrowed["sms"].sent and not narrowed["wechat"].sent


def test_an_item_without_content_gets_the_generic_wording() -> None:
    views = by_channel(render_views("questionnaire", {"form": "epds"}, (), CONTENT, FACTS))
    assert views["wechat"].sent and views["wechat"].text == NEUTRAL_SUMMARY
    assert views["inbox"].title == "问卷待填写"


def test_a_summary_that_would_leak_the_title_is_shown_as_refused() -> None:
    leaky = {"x": item("x", "妊娠期糖尿病复查", "您的妊娠期糖尿病复查结果", "正文")}
    views = by_channel(render_views("remind", {"content": "x"}, (), leaky, FACTS))
    assert not views["wechat"].sent and "title" in views["wechat"].note
    assert not views["sms"].sent and views["inbox"].sent


def test_a_template_that_does_not_render_is_a_note_not_an_exception() -> None:
    broken = {"x": item("x", "标题", "{{ diagnosis }}", "正文")}
    views = render_views("remind", {"content": "x"}, (), broken, FACTS)
    assert all(not v.sent and "does not render" in v.note for v in views)


def test_script_in_content_stays_text_for_the_page_to_escape() -> None:
    hostile = {"x": item("x", "<script>alert(1)</script>", "中性的提醒", "<script>alert(2)</script>")}
    inbox = by_channel(render_views("remind", {"content": "x"}, (), hostile, FACTS))["inbox"]
    assert inbox.title == "<script>alert(1)</script>"  # plain text; the page escapes it (autoescape)


def test_a_previewed_item_renders_with_her_facts_on_its_day() -> None:
    files = sorted(
        str(p)
        for p in (ROOT / "carepath/pathways").glob("*.yaml")
        if p.name not in ("tags.yaml", "labs.yaml")
    )
    library = Library(compile_paths(files).pathways)
    facts, events = demo_persona(ROOT / "examples/patients/demo-001.yaml")
    shown = preview(library, facts, events)
    welcome = next(i for i in shown.items if i.row.pathway == "scarred-uterus" and i.row.rule == "welcome")
    inbox = by_channel(preview_views(welcome, CONTENT, first_name="小雨", edd=shown.edd))["inbox"]
    assert inbox.text.startswith("小雨，")
