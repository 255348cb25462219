"""Her printed copy of her data (``/h5/my-data/print``) shows each message as her item page
does: through the one safe renderer, with her safe facts filled in while the library still
holds the text filed — never Markdown source, a ``content:`` key, or a greeting without her
name (found walking the demo: issue 19's "Done when")."""

from __future__ import annotations

from flask import Flask

from tests.webapi.conftest import Api
from tests.webapi.h5.conftest import register, sign_in_as
from tests.webapi.h5.test_her_inbox import file_item


def test_her_printed_copy_shows_each_message_as_she_reads_it(app: Flask, api: Api) -> None:
    her = register(api, "p-501", 501, name="王小红")  # LMP 2026-01-05
    file_item(
        app, her, "k-print-facts", title="下次产检提醒", body="，您好！您现在孕（无）",
        params={"content": "anc-next-contact"},
    )  # fmt: skip
    file_item(
        app,
        her,
        "k-print-md",
        title="课程",
        body="## 小标题\n\n- **重点**：见[孕期危险信号](content:danger-signs)",
    )
    client = app.test_client()
    sign_in_as(client, app, her)
    page = client.get("/h5/my-data/print").get_data(as_text=True)
    assert "王小红，您好！您现在孕26+4" in page  # as on her item page
    assert "<h2>小标题</h2>" in page and "<strong>重点</strong>" in page
    assert "## " not in page and "**" not in page and "content:danger-signs" not in page
    assert "，您好！您现在孕（无）" not in page
