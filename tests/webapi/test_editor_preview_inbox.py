"""The staff preview of her inbox reads as her inbox item page does (issue 19 item 2): its body
through the one safe renderer (``delivery/safe_markdown.py``), never Markdown source; WeChat and
SMS stay plain text, as she receives them."""

from __future__ import annotations

import re

from flask import Flask

from tests.webapi.conftest import EditorStaff


def test_the_preview_of_her_inbox_is_rendered_as_her_page_renders_it(app: Flask) -> None:
    doctor = EditorStaff(app, "doctor", "doctor")
    page = doctor.get("/editor/preview", demo="demo-003")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    inboxes = re.findall(r'channel-inbox" data-channel="inbox">(.*?)</article>', html, re.S)
    assert inboxes
    for inbox in inboxes:
        assert "## " not in inbox and "**" not in inbox  # no Markdown source
    assert any("<h2>" in inbox for inbox in inboxes)  # the sections as headings, as on her page
    assert any("<h2>这次检查什么</h2>" in inbox for inbox in inboxes)
    sms = re.findall(r'channel-sms[^"]*" data-channel="sms">(.*?)</article>', html, re.S)
    assert sms and not any("<h2>" in text for text in sms)
