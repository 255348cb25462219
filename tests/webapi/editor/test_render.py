"""``POST /editor/api/render``: a content item's live preview, through the Flask app."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask

from carepath.delivery.rendering import NEUTRAL_SUMMARY
from carepath.webapi.staff.editor import library
from carepath.webapi.staff.editor.render import markdown_html
from tests.webapi.conftest import StaffBrowser
from tests.webapi.editor.test_views import Staff, logged_in

RENDER = "/editor/api/render"


def render(staff: Staff, payload: Any) -> Any:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"X-CSRFToken": staff.token, "X-Requested-With": "fetch"}
    return staff.client.post(RENDER, data=body, content_type="application/json", headers=headers)


def item(
    summary: str = "{{ first_name }}，您有一篇新的健康课程，点开看看吧。", body: str = "## 标题\n\n正文。\n"
) -> str:
    return (
        "---\nkey: topic-preview\ntitle: 预览测试\n"
        f"summary: {json.dumps(summary, ensure_ascii=False)}\n"
        "audience: {weeks: [20, 30]}\nsensitive: false\nsources: [CMA2018]\nreview: {status: draft}\n---\n"
        + body
    )


@pytest.fixture
def author(app: Flask) -> Staff:
    return logged_in(app, "author", "content_author")


def preview_of(staff: Staff, text: str, path: str | None = "topic-preview.md") -> dict[str, Any]:
    answer = render(staff, {"kind": "content", "text": text, "path": path})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "application/json"
    return dict(answer.get_json())


def test_the_summary_is_rendered_with_the_demo_facts_for_wechat_and_sms(author: Staff) -> None:
    found = preview_of(author, item())
    assert found["errors"] == 0, found["diagnostics"]
    preview = found["preview"]
    assert preview["summary"] == {
        "own": "小雨，您有一篇新的健康课程，点开看看吧。",
        "refused": False,
        "code": None,
        "message": "",
        "sent": "小雨，您有一篇新的健康课程，点开看看吧。",
    }
    assert (
        preview["wechat"]["sent"] and preview["wechat"]["text"] == "小雨，您有一篇新的健康课程，点开看看吧。"
    )
    assert preview["sms"]["sent"] and preview["sms"]["text"] == "小雨，您有一篇新的健康课程，点开看看吧。"
    assert preview["inbox"]["title"] == "预览测试"
    assert preview["inbox"]["html"] == "<h2>标题</h2>\n<p>正文。</p>\n"
    assert preview["facts"]["first_name"] == "小雨"


def test_a_shipped_item_previews_with_its_links_to_other_items_inert(author: Staff) -> None:
    entry = library.find("content", "anaemia")
    assert entry is not None
    preview = preview_of(author, entry.source(), "anaemia.md")["preview"]
    html = preview["inbox"]["html"]
    assert "<h2>这是什么</h2>" in html and "<li><strong>按医嘱补铁</strong>" in html
    assert '<span class="cp-content-link" data-content="danger-signs">危险信号</span>' in html
    assert "<a" not in html  # content: links are not navigable from the preview


def test_a_sensitive_summary_is_refused_with_the_lint_code_and_the_neutral_one_shown(author: Staff) -> None:
    found = preview_of(author, item(summary="您的妊娠期糖尿病复查结果出来了"))
    summary = found["preview"]["summary"]
    assert summary["refused"] is True
    assert summary["code"] == "sensitive-summary"
    assert "妊娠期糖尿病" in summary["message"]
    assert summary["own"] == "您的妊娠期糖尿病复查结果出来了"
    assert summary["sent"] == NEUTRAL_SUMMARY
    assert found["preview"]["wechat"]["text"] == NEUTRAL_SUMMARY
    assert found["preview"]["sms"]["text"] == NEUTRAL_SUMMARY
    assert "sensitive-summary" in {d["code"] for d in found["diagnostics"]}


@pytest.mark.parametrize(
    "body",
    [
        "<script>window.pwned = 1</script>\n",
        '<img src=x onerror="window.pwned = 1">\n',
        "正文 <b onmouseover=alert(1)>粗</b> <style>body{display:none}</style>\n",
        "[点我](javascript:alert(1)) [再点](JaVaScRiPt:alert(1)) [数据](data:text/html,x)\n",
        '![图](x" onerror="alert(1))\n',
        '[ok](https://example.org/" onclick="alert(1))\n',
        "<div>\n\n**x**\n\n</div>\n",
    ],
)
def test_html_script_handlers_and_javascript_links_in_the_body_are_inert(author: Staff, body: str) -> None:
    html = preview_of(author, item(body=body))["preview"]["inbox"]["html"]
    tags = re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)([^>]*)>", html)
    assert {name for name, _ in tags} <= {"p", "a", "strong", "em", "span", "h2"}, html
    for _name, attributes in tags:
        assert not re.search(r"\bon\w+\s*=", attributes), html
        assert "javascript:" not in attributes.lower() and "data:" not in attributes.lower(), html
        assert "style" not in attributes.lower(), html


def test_only_http_links_are_links() -> None:
    html = markdown_html("[a](https://example.org/x?a=1&b=2) [b](http://e.org) [c](ftp://e.org) [d](/local)")
    assert (
        '<a href="https://example.org/x?a=1&amp;b=2" rel="noopener noreferrer nofollow" target="_blank">a</a>'
        in html
    )
    assert '<a href="http://e.org"' in html
    assert "ftp://" not in html.split("[c]")[0] and "[c](ftp://e.org)" in html
    assert "[d](/local)" in html


def test_a_jinja_sandbox_escape_is_refused_with_a_located_diagnostic(author: Staff) -> None:
    text = item(body="## 标题\n\n{{ ''.__class__.__mro__[1].__subclasses__() }}\n")
    found = preview_of(author, text)
    assert found["preview"] is None
    [problem] = [d for d in found["diagnostics"] if d["code"] == "bad-template"]
    assert problem["line"] == text.splitlines().index("{{ ''.__class__.__mro__[1].__subclasses__() }}") + 1
    assert "unsafe" in problem["message"] and "__class__" in problem["message"]


def test_an_unknown_fact_and_a_broken_front_matter_give_the_compile_diagnostics(author: Staff) -> None:
    unknown = preview_of(author, item(body="{{ diagnosis }}\n"))
    assert unknown["preview"] is None
    assert any("diagnosis" in d["message"] for d in unknown["diagnostics"] if d["code"] == "bad-template")
    broken = preview_of(author, "---\nkey: [oops\n---\n正文\n")
    assert broken["preview"] is None and broken["errors"] >= 1
    assert all(d["line"] >= 1 and d["col"] >= 1 for d in broken["diagnostics"])
    same = author.client.post(
        "/editor/api/compile",
        json={"kind": "content", "text": "---\nkey: [oops\n---\n正文\n", "path": "topic-preview.md"},
        headers={"X-CSRFToken": author.token},
    ).get_json()
    assert same["diagnostics"] == broken["diagnostics"]


def test_bad_requests_are_problems(author: Staff) -> None:
    for payload, code in (
        ({"kind": "pathway", "text": "x"}, "invalid-request"),
        ({"kind": "content"}, "invalid-request"),
        ([1], "bad-json"),
    ):
        answer = render(author, payload)
        assert answer.status_code in (400, 422)
        assert answer.mimetype == "application/problem+json"
        assert answer.get_json()["code"] == code


def test_anonymous_and_csrf_less_requests_are_refused_and_readers_may_preview(
    app: Flask, author: Staff
) -> None:
    anonymous = app.test_client()
    token = StaffBrowser(anonymous).csrf("/login")
    answer = render(Staff(anonymous, token), {"kind": "content", "text": item()})
    assert answer.status_code == 401 and answer.get_json()["code"] == "login-required"
    no_token = author.client.post(RENDER, json={"kind": "content", "text": item()})
    assert no_token.status_code == 400 and no_token.get_json()["code"] == "csrf-failed"
    doctor = logged_in(app, "doctor", "doctor")  # content.read, not content.edit
    assert preview_of(doctor, item())["preview"]["inbox"]["title"] == "预览测试"
