"""The preview and the impact panel in a real Chromium: a doctor picks a demo patient, sees
the SVG timeline, clicks a mark and reads the WeChat, SMS and inbox texts; a reviewer opens a
pathway change in review and sees the behaviour diff per demo patient and, on a click, the
cohort impact with its numbers. Hospital ``b`` and ``checkups-example`` keep it apart from
the editor's and the review flow's tests (the review flow changes ``cholestasis``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from carepath.engine.content import CONTENT_DIRECTORY
from carepath.engine.forms import FORMS_DIRECTORY
from carepath.store.library_files import Shipped
from tests.browser.conftest import LiveServer
from tests.browser.test_review_flow import _api
from tests.conftest import ROOT

SHANGHAI = ZoneInfo("Asia/Shanghai")
OGTT_AT, OGTT_MOVED = 'at: {gestational_age: "24+0"}', 'at: {gestational_age: "26+0"}'


def test_a_doctor_previews_a_demo_patient_and_reads_her_messages(
    login_as: Callable[..., Any], tmp_path: Path
) -> None:
    page = login_as("doctor", hospital="b")
    page.locator("#nav-preview").click()
    page.wait_for_selector("#demo-form")
    page.locator("#demo").select_option("demo-003")
    page.locator("#run-demo").click()  # its round trip: bench/editor_browser.py
    page.wait_for_selector("#timeline svg .mark")
    marks = page.locator("#timeline svg .mark")
    assert marks.count() == int(page.locator("#preview-result").get_attribute("data-items"))
    ogtt_row = page.locator("#preview-items tr", has_text="checkups-example/ogtt fired")
    index = ogtt_row.first.get_attribute("data-index")
    page.locator(f'#timeline svg .mark[data-index="{index}"]').click()
    view = page.locator(f"#message-{index}")
    assert view.is_visible()
    wechat = view.locator(".channel-wechat").inner_text()
    sms = view.locator(".channel-sms").inner_text()
    inbox = view.locator(".channel-inbox").inner_text()
    assert "微信" in wechat and "短信" in sms and "站内信" in inbox
    assert view.locator(".channel-inbox .msg-title").inner_text().strip()
    assert view.locator(".channel-inbox .msg-text").inner_text().strip()
    assert (
        page.locator(f'#preview-items tr[data-index="{index}"]').get_attribute("class").endswith("selected")
    )
    update = os.environ.get("CAREPATH_UPDATE_SCREENSHOTS") == "1"
    target = ROOT / "docs" / "preview.png" if update else tmp_path / "preview.png"
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.locator("#preview-result").scroll_into_view_if_needed()
    page.screenshot(path=str(target), full_page=False)
    assert target.stat().st_size > 20_000
    # a clicked list row shows its own item, and only that one
    other = page.locator("#preview-items tr[data-index]").first
    other.click()
    first = other.get_attribute("data-index")
    assert page.locator(f"#message-{first}").is_visible() and not view.is_visible()


def test_a_bad_field_is_shown_by_the_field_in_the_browser(login_as: Callable[..., Any]) -> None:
    page = login_as("nurse", hospital="b")
    page.goto("/editor/preview")
    page.locator("#describe summary").click()
    page.locator("#f-ga_today").fill("20+0")
    page.locator("#f-diagnoses").fill("<script>window.hacked=1</script>")
    page.locator("#run-persona").click()
    page.wait_for_selector("#error-diagnoses")
    assert "bad-icd10" in page.locator("#error-diagnoses").inner_text()
    assert page.evaluate("window.hacked") is None


def _enrol(live_server: LiveServer, weeks: dict[str, int]) -> None:
    """Register women of hospital ``b`` at these gestational weeks today, through the signed
    event API (evaluated as the HIS's registrations are)."""
    from carepath.store import tenants
    from tests.webapi.conftest import Api, Integrator, registration
    from tests.webapi.test_editor_preview import _id_number

    app = live_server.app
    with app.extensions["carepath.db"].transaction() as session:
        key = tenants.create_api_key(
            session, app.extensions["carepath.cipher"], "b", "his", live_server.clock()
        )
    api = Api(app.test_client(), Integrator(key.key_id, key.secret, "b"), Now(live_server))
    now = live_server.clock().astimezone(SHANGHAI)
    for n, (his_id, week) in enumerate(weeks.items(), 900):
        event = registration(his_id, f"reg-{his_id}", id_number=_id_number(n), phone=f"1391234{n:04d}")
        event["occurred_at"] = event["data"]["enrolled_at"] = (now - timedelta(hours=1)).isoformat()
        event["data"]["lmp"] = (now.date() - timedelta(weeks=week)).isoformat()
        response = api.post("/api/v1/events", event)
        assert response.status_code in (200, 201, 202), response.get_json()


class Now:
    def __init__(self, live_server: LiveServer) -> None:
        self.live_server = live_server

    @property
    def now(self) -> datetime:
        return self.live_server.clock()


@pytest.fixture
def shipped_examples(live_server: LiveServer, tmp_path: Path) -> Iterator[None]:
    """The example pathways as the shipped library, so that the hospital's published
    ``checkups-example`` can be drafted (the live server's shipped library is the built-in one)."""
    folder = tmp_path / "pathways"
    shutil.copytree(ROOT / "examples" / "pathways", folder)
    (folder / "checkups.yaml").rename(folder / "checkups-example.yaml")
    shipped = Shipped({"pathway": folder, "content": CONTENT_DIRECTORY, "form": FORMS_DIRECTORY})
    live_server.app.config["EDITOR_SHIPPED"] = shipped
    yield
    live_server.app.config.pop("EDITOR_SHIPPED", None)


@pytest.mark.usefixtures("shipped_examples")
def test_a_reviewer_sees_the_persona_diff_and_the_cohort_impact(
    login_as: Callable[..., Any], live_server: LiveServer
) -> None:
    author = login_as("content_author", hospital="b")
    opened = _api(author, "POST", "/editor/api/documents/pathway/checkups-example/draft")
    assert opened["status"] in (200, 201), opened
    draft = opened["body"]
    source = _api(author, "GET", f"/editor/api/versions/{draft['id']}")["body"]["source"]
    assert OGTT_AT in source
    saved = _api(
        author,
        "PUT",
        f"/editor/api/versions/{draft['id']}/source",
        {"source": source.replace(OGTT_AT, OGTT_MOVED), "base_revision": draft["revision"]},
    )
    assert saved["status"] == 200, saved
    assert _api(author, "POST", f"/editor/api/versions/{draft['id']}/submit", {})["status"] == 200

    _enrol(live_server, {"b-22a": 22, "b-22b": 22, "b-25": 25})

    reviewer = login_as("reviewer", hospital="b")
    reviewer.goto(f"/editor/review/{draft['id']}")
    moved = reviewer.locator('#persona-diff tr[data-persona="demo-003"] .moved').inner_text()
    assert "ogtt" in moved and "24+0 → 26+0" in moved
    reviewer.locator("#cohort-weeks").select_option("8")
    reviewer.locator("#cohort-run").click()  # its time at scale: bench/impact.py
    reviewer.wait_for_selector("#cohort-result:not([hidden])")
    summary = reviewer.locator("#cohort-summary").inner_text()
    assert summary.startswith("3 个在管孕期") and "迁移到新版本: 3 受影响" in summary, summary
    rows = reviewer.locator(
        '#cohort-table tr[data-choice="migrate"]', has_text="checkups-example/ogtt remind"
    )
    assert rows.locator("td").all_inner_texts()[2:] == ["1", "0", "2"]  # gaining, losing, moved
    assert reviewer.locator("#cohort-affected li").count() == 3
    if os.environ.get("CAREPATH_SCREENSHOTS"):  # the panel, on request
        reviewer.locator("#impact").screenshot(
            path=str(Path(os.environ["CAREPATH_SCREENSHOTS"]) / "impact.png")
        )
    weekly = reviewer.locator("#cohort-weekly tbody tr")
    assert weekly.count() == 3 and reviewer.locator("#cohort-status").inner_text().endswith("秒")
