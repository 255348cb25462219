"""The safety release on the upstream page (issue 17 item 14): ``/editor/review`` says so in
Chinese, shows how many enrolments are on older versions and the cohort impact, and proposes
publish-with-migrate; the button moves the hospital's women. Flask test client, real logins and
CSRF tokens, on SQLite and PostgreSQL (the ``app`` fixture's database)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from carepath.engine.catalogue import PATHWAYS_DIR
from carepath.store.library_files import Shipped
from tests.conftest import NOW
from tests.webapi.conftest import Api, EditorStaff, registration, shipped_copy

SHIPPED = (PATHWAYS_DIR / "checkup-schedule.yaml").read_text(encoding="utf-8")
OLD = SHIPPED.replace('gestational_age: {lt: "14+0"}', 'gestational_age: {lt: "13+0"}')
MANIFEST = """\
version: test-1
safety: true
summary: NT检查提醒覆盖孕13+0～13+6周建册的孕妇<script>
changes:
  - {kind: pathway, name: checkup-schedule, why: NT提醒的孕周上限改为14+0}
"""


def _shipped(app: Flask, tmp_path: Path, manifest: str = MANIFEST) -> Shipped:
    shipped = shipped_copy(app, tmp_path, {"checkup-schedule": SHIPPED})
    (shipped.directories["pathway"] / "release").mkdir()
    (shipped.directories["pathway"] / "release" / "release.yaml").write_text(manifest, encoding="utf-8")
    return shipped


def _old_schedule_with_one_woman(app: Flask, api: Api) -> str:
    from carepath.store import pathways

    with app.extensions["carepath.db"].transaction() as session:
        (row,) = pathways.publish(session, {"checkup-schedule.yaml": OLD}, NOW)
        old = row.version
    pathways.clear_cache()
    assert api.post("/api/v1/events", registration()).status_code in (200, 201, 202)
    return old


def _versions(app: Flask) -> set[str]:
    from carepath.store.models import EnrolmentRecord

    with app.extensions["carepath.db"].reading() as session:
        return set(
            session.scalars(
                select(EnrolmentRecord.version).where(
                    EnrolmentRecord.pathway_id == "checkup-schedule", EnrolmentRecord.ended_at.is_(None)
                )
            )
        )


def _release_reads(app: Flask) -> int:
    from carepath.store.models import AuditEntry

    with app.extensions["carepath.db"].reading() as session:
        return sum(
            1
            for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "read"))
            if e.detail.startswith("cohort impact of release test-1")
        )


def test_the_upstream_page_shows_the_safety_release_and_adopts_it_with_migrate(
    app: Flask, api: Api, tmp_path: Path
) -> None:
    _shipped(app, tmp_path)
    old = _old_schedule_with_one_woman(app, api)
    reviewer = EditorStaff(app, "reviewer", "reviewer")
    page = reviewer.page("/editor/review")
    assert 'id="release"' in page and "内置路径库的安全更新" in page and "test-1" in page
    assert "已入组的孕妇会一直停留在入组时的版本上" in page
    assert "NT检查提醒覆盖孕13+0～13+6周建册的孕妇&lt;script&gt;" in page  # the summary, escaped
    assert "<code>pathway checkup-schedule</code>: NT提醒的孕周上限改为14+0" in page
    pinned = page.split('id="release-pinned"', 1)[1].split("</table>", 1)[0]
    assert "<code>checkup-schedule</code></td><td>1</td>" in pinned
    assert "在管孕妇：" not in page and 'id="release-impact-link"' in page  # the impact on a click
    assert 'id="adopt-release"' in page and "采纳并迁移已入组孕妇" in page
    with_impact = reviewer.page("/editor/review?release_impact=1")
    assert "未来8周对在管孕妇的影响" in with_impact and "在管孕妇：1人。" in with_impact
    assert _release_reads(app) == 1  # the read of the women's states is audited
    assert _versions(app) == {old}

    adopted = reviewer.form("/editor/release/adopt", {}, page="/editor/review")
    assert adopted.status_code == 303
    (new,) = _versions(app)
    assert new != old
    after = reviewer.page("/editor/review")
    assert "已采纳更新test-1：1个入组已迁移到新版本。" in after
    assert 'id="release"' not in after  # nothing left pending


def test_an_author_sees_the_banner_but_not_the_button_nor_the_route(
    app: Flask, api: Api, tmp_path: Path
) -> None:
    _shipped(app, tmp_path)
    old = _old_schedule_with_one_woman(app, api)
    author = EditorStaff(app, "author", "content_author")  # impact.run, no pathway.publish
    page = author.page("/editor/review?release_impact=1")
    assert "内置路径库的安全更新" in page and "在管孕妇：1人。" in page
    assert 'id="adopt-release"' not in page
    refused = author.form("/editor/release/adopt", {}, page="/editor/review")
    assert refused.status_code == 403
    assert _versions(app) == {old}


@pytest.mark.parametrize(
    ("safety", "flashed"),
    [("false", "没有待采纳的安全更新。"), ("maybe", "本次更新未能采纳，已通知路径库团队。")],
)
def test_no_banner_for_a_release_not_marked_safety_or_a_broken_manifest(
    app: Flask, api: Api, tmp_path: Path, safety: str, flashed: str
) -> None:
    _shipped(app, tmp_path, MANIFEST.replace("safety: true", f"safety: {safety}"))
    _old_schedule_with_one_woman(app, api)
    reviewer = EditorStaff(app, "reviewer", "reviewer")
    page = reviewer.page("/editor/review")
    assert 'id="release"' not in page
    nothing = reviewer.form("/editor/release/adopt", {}, page="/editor/review")
    assert nothing.status_code == 303
    assert flashed in reviewer.page("/editor/review")


def test_publishing_an_adopted_copy_in_a_safety_release_proposes_to_move(app: Flask, tmp_path: Path) -> None:
    shipped = _shipped(app, tmp_path)
    from carepath.store import drafting, publishing, reviewing
    from carepath.store.authoring import Editor
    from carepath.store.library_files import text_hash

    author = Editor(901, "a", "作者", frozenset({"content_author"}), frozenset({"pathway.edit"}))
    chief = Editor(
        902, "a", "审核", frozenset({"reviewer"}), frozenset({"pathway.review", "pathway.publish"})
    )
    with app.extensions["carepath.db"].transaction() as session:
        draft, _ = drafting.start_draft(
            session, author, "pathway", "checkup-schedule", now=NOW, shipped=shipped
        )
        drafting.save_draft(session, author, draft.id, OLD, draft.revision, now=NOW)
        drafting.submit(session, author, draft.id, now=NOW)
        reviewing.review(session, chief, draft.id, "approve", "ok", now=NOW)
        publishing.publish(session, chief, draft.id, now=NOW)
        publishing.document_of(session, draft).upstream_hash = text_hash(OLD)  # copied before the release
    reviewer = EditorStaff(app, "reviewer", "reviewer")
    listing = reviewer.page("/editor/review")
    assert "内置路径库的安全更新" in listing and 'id="release-own"' in listing
    assert "pathway/checkup-schedule.yaml" in listing.split('id="release-own"', 1)[1].split("</ul>", 1)[0]
    assert 'id="adopt-release"' not in listing  # nothing runs as shipped: the copy goes by review
    writer = EditorStaff(app, "writer", "content_author")
    (change,) = writer.call("GET", "/editor/api/upstream").get_json()
    adopted = writer.call("POST", f"/editor/api/upstream/{change['document_id']}/adopt").get_json()
    writer.call("POST", f"/editor/api/versions/{adopted['id']}/submit", {})
    reviewer.call("POST", f"/editor/api/versions/{adopted['id']}/reviews", {"decision": "approve"})
    page = reviewer.page(f"/editor/review/{adopted['id']}")
    assert 'id="safety-note"' in page and "建议把已入组的孕妇迁移到新版本" in page
    assert 'name="migrate" value="yes" required checked' in page
