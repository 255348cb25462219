"""``/editor/preview`` and the review page's impact panel through the Flask test client, with
real staff logins: located errors by the field, the SVG, inert script tags, permissions, and
the behaviour diff and cohort impact of a real edit (the OGTT reminder moved two weeks)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from carepath.store.library_files import Shipped
from carepath.store.models import AuditEntry
from tests.conftest import ROOT, resident_id
from tests.webapi.conftest import Api, EditorStaff, registration, shipped_copy

CHECKUPS = (ROOT / "examples" / "pathways" / "checkups.yaml").read_text(encoding="utf-8")
OGTT_AT, OGTT_MOVED = 'at: {gestational_age: "24+0"}', 'at: {gestational_age: "26+0"}'
TODAY = date(2026, 7, 10)  # NOW in Shanghai


@pytest.fixture
def shipped(app: Flask, tmp_path: Path) -> Shipped:
    return shipped_copy(app, tmp_path, {"checkups-example": CHECKUPS})


Staff = EditorStaff


@pytest.fixture
def doctor(app: Flask) -> Staff:
    return Staff(app, "doctor", "doctor")


def _submitted(app: Flask, source: str) -> int:
    author = Staff(app, "author", "content_author")
    opened = author.call("POST", "/editor/api/documents/pathway/checkups-example/draft")
    assert opened.status_code == 201, opened.get_json()
    draft = opened.get_json()
    saved = author.call(
        "PUT",
        f"/editor/api/versions/{draft['id']}/source",
        {"source": source, "base_revision": draft["revision"]},
    )
    assert saved.status_code == 200, saved.get_json()
    assert author.call("POST", f"/editor/api/versions/{draft['id']}/submit", {}).status_code == 200
    return int(draft["id"])


def _text(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</', html, re.S)
    assert found, element_id
    return found.group(1)


def test_a_demo_patient_gets_the_svg_timeline_items_and_her_messages(doctor: Staff) -> None:
    page = doctor.get("/editor/preview", demo="demo-003")  # its round trip: bench/editor_browser.py
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and 'class="mark" data-index="0"' in html
    items = re.findall(r'<tr data-index="(\d+)"', html)
    assert items and len(items) == html.count('class="message-view"')
    assert "checkups-example/ogtt fired: at GA 24+0" in html
    wechat = re.search(r'channel-wechat[^"]*" data-channel="wechat">(.*?)</article>', html, re.S)
    inbox = re.search(r'channel-inbox" data-channel="inbox">(.*?)</article>', html, re.S)
    assert wechat and inbox and 'class="msg-title"' in inbox.group(1)


def test_a_described_patient_with_bad_fields_gets_each_error_by_its_field(doctor: Staff) -> None:
    page = doctor.get(
        "/editor/preview", run="1", lmp="2026-02-06", diagnoses="ZZZ", risk_colour="pink", gravida="two"
    )
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "two 不是整数" in _text(html, "error-gravida")  # the UI is zh-CN by default
    assert "bad-icd10" in _text(html, "error-diagnoses")  # the other fields are checked too
    page = doctor.get("/editor/preview", run="1", lmp="2026-02-06", diagnoses="ZZZ", risk_colour="pink")
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert "bad-icd10" in _text(html, "error-diagnoses") and "ZZZ" in _text(html, "error-diagnoses")
    assert "bad-value" in _text(html, "error-risk_colour")
    assert 'id="f-diagnoses" name="diagnoses" value="ZZZ"' in html  # what she typed is kept
    bad_ga = doctor.get("/editor/preview", run="1", ga_today="24周")
    assert "bad-gestational-age" in _text(bad_ga.get_data(as_text=True), "error-ga_today")
    nothing = doctor.get("/editor/preview", run="1")
    assert nothing.status_code == 422 and _text(nothing.get_data(as_text=True), "error-lmp")


def test_a_described_patient_runs_and_script_tags_stay_text(doctor: Staff) -> None:
    page = doctor.get("/editor/preview", run="1", ga_today="20+0", tags="<script>alert(1)</script>", age="36")
    html = page.get_data(as_text=True)
    assert page.status_code == 200  # tags are free text: she is previewed, the tag kept as text
    assert "<script>alert(1)</script>" not in html and 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in html
    page = doctor.get("/editor/preview", run="1", ga_today="20+0", age="36", risk_colour="yellow")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<svg" in html and "ogtt fired: at GA 24+0" in html
    assert "<script>" not in html.split("<main>")[1].split("</main>")[0]


def test_the_preview_needs_a_login_with_pathway_read(app: Flask) -> None:
    anonymous = app.test_client().get("/editor/preview")
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["Location"]
    assert 'id="nav-preview"' not in app.test_client().get("/login").get_data(as_text=True)
    from carepath.webapi.staff.editor_preview import preview_page

    assert preview_page.required_permission == "pathway.read"  # type: ignore[attr-defined]
    doctor = Staff(app, "doc2", "doctor")
    assert 'id="nav-preview"' in doctor.get("/").get_data(as_text=True)


def _id_number(n: int) -> str:
    """A synthetic resident ID number that passes every check."""
    return resident_id(n)


def _register(api: Api, n: int, lmp: date) -> None:
    his_id = f"p-{n}"
    event = registration(his_id, f"reg-{his_id}", id_number=_id_number(n), phone=f"138123456{n:02d}")
    event["data"]["lmp"] = lmp.isoformat()
    response = api.post("/api/v1/events", event)
    assert response.status_code in (200, 201, 202), response.get_json()


def test_the_review_shows_the_behaviour_diff_and_the_cohort_impact_of_moving_the_ogtt(
    app: Flask, api: Api, shipped: Shipped, monkeypatch: pytest.MonkeyPatch
) -> None:
    at_22 = TODAY - timedelta(weeks=22)  # her OGTT reminder falls in the next 8 weeks
    at_25 = TODAY - timedelta(weeks=25)  # between 24+0 and 26+0: reminded, and again if moved
    at_33 = TODAY - timedelta(weeks=33)  # long past it
    for n, lmp in enumerate((at_22, at_22, at_25, at_33)):
        _register(api, n, lmp)
    version = _submitted(app, CHECKUPS.replace(OGTT_AT, OGTT_MOVED))
    reviewer = Staff(app, "reviewer", "reviewer")
    page = reviewer.get(f"/editor/review/{version}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="impact-panel"' in html and 'id="cohort-form"' in html
    demo_003 = re.search(r'<tr data-persona="demo-003">(.*?)</tr>', html, re.S)
    assert demo_003 and "checkups-example/ogtt remind visit-4: 24+0 → 26+0" in demo_003.group(1)
    assert 'class="added"' not in demo_003.group(1) and 'class="removed"' not in demo_003.group(1)

    response = reviewer.get(f"/editor/api/versions/{version}/impact", weeks="8")  # at scale: bench/impact.py
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["patients"] == 4 and report["weeks"] == 8
    assert report["changed_pathways"] == ["checkups-example"]
    assert report["pin"]["affected_patients"] == 0  # enrolled women stay on their version
    migrate = {(r["rule"], r["action"]): r for r in report["migrate"]["by_action"]}
    ogtt = migrate[("ogtt", "remind")]
    assert ogtt["patients_moved"] == 2  # the two at 22 weeks: 24+0 -> 26+0
    assert ogtt["patients_gaining"] == 1  # the one at 25 weeks gets it again at 26+0
    assert ogtt["patients_losing"] == 0
    assert report["migrate"]["affected_patients"] == 3
    masked = [one["id"] for one in report["affected"]]
    assert len(masked) == 3 and all(m.endswith("…") and len(m) == 7 for m in masked)
    from carepath.store import release

    monkeypatch.setattr(release, "CHUNK", 1)  # read one state at a time: the same answer
    again = reviewer.get(f"/editor/api/versions/{version}/impact", weeks="8").get_json()
    assert again["migrate"]["by_action"] == report["migrate"]["by_action"] and again["patients"] == 4
    with app.extensions["carepath.db"].reading() as session:
        details = session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "read")).all()
    assert any("cohort impact of" in d and "4 pregnancies" in d for d in details)


def test_the_cohort_impact_needs_impact_run_and_good_weeks(
    app: Flask, shipped: Shipped, doctor: Staff
) -> None:
    version = _submitted(app, CHECKUPS.replace(OGTT_AT, OGTT_MOVED))
    refused = doctor.get(f"/editor/api/versions/{version}/impact", weeks="8")
    assert refused.status_code == 403 and refused.get_json()["code"] == "permission-denied"
    page = doctor.get(f"/editor/review/{version}").get_data(as_text=True)
    assert 'id="persona-diff"' in page and 'id="cohort-form"' not in page
    reviewer = Staff(app, "reviewer", "reviewer")
    bad = reviewer.get(f"/editor/api/versions/{version}/impact", weeks="400")
    assert bad.status_code == 422 and bad.get_json()["code"] == "bad-weeks"
    missing = reviewer.get("/editor/api/versions/999999/impact")
    assert missing.status_code == 404


def test_a_draft_is_previewed_in_place_of_the_published_text(
    app: Flask, shipped: Shipped, doctor: Staff
) -> None:
    version = _submitted(app, CHECKUPS.replace(OGTT_AT, OGTT_MOVED))
    page = doctor.get("/editor/preview", demo="demo-003", version=str(version))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "v1" in _text(html, "preview-target")
    assert "ogtt fired: at GA 26+0" in html and "ogtt fired: at GA 24+0" not in html
    assert doctor.get("/editor/preview", demo="demo-003", version="nope").status_code == 404


def test_a_draft_with_errors_is_not_previewed_and_says_why(
    app: Flask, shipped: Shipped, doctor: Staff
) -> None:
    author = Staff(app, "author", "content_author")
    draft = author.call("POST", "/editor/api/documents/pathway/checkups-example/draft").get_json()
    broken = CHECKUPS.replace("remind: {content: visit-4}", "shout: {content: visit-4}")
    saved = author.call(
        "PUT",
        f"/editor/api/versions/{draft['id']}/source",
        {"source": broken, "base_revision": draft["revision"]},
    )
    assert saved.status_code == 200
    page = doctor.get("/editor/preview", demo="demo-003", version=str(draft["id"]))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "unknown-action" in html and 'id="preview-result"' not in html


def test_a_colour_a_rule_sets_is_shown_as_a_suggestion_to_be_confirmed(doctor: Staff) -> None:
    """Issue 16 item 5: risk actions suggest; the page says 待确认 beside the suggested colour."""
    html = doctor.get("/editor/preview", run="1", ga_today="20+0", age="36").get_data(as_text=True)
    rows = re.findall(r'<tr data-index="\d+" tabindex="0" class="kind-risk">.*?</tr>', html, re.S)
    assert rows and all("（待确认）" in row for row in rows), rows
    assert "（待确认）" not in "".join(re.findall(r'class="kind-(?!risk)[a-z]+">.*?</tr>', html, re.S))
