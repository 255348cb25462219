"""Drafts, review and publishing of a hospital's own library documents, on each backend."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from flask import Flask
from sqlalchemy import select

from carepath.engine.content import CONTENT_DIRECTORY, parse_content_item
from carepath.engine.forms import FORMS_DIRECTORY
from carepath.store import authoring, drafting, pathways, publishing, reviewing, upstream
from carepath.store.authoring import Editor
from carepath.store.db import Database
from carepath.store.library_files import Shipped
from carepath.store.models import AuditEntry, DocumentEvent, EnrolmentRecord, Patient, Pregnancy
from carepath.store.state_codec import load_state
from tests.conftest import NOW, ROOT
from tests.webapi.conftest import Api, diagnosis, registration

GDM = (ROOT / "examples" / "pathways" / "gdm.yaml").read_text(encoding="utf-8")
AUTHOR = Editor(
    1, "a", "张护士", frozenset({"nurse", "content_author"}), frozenset({"pathway.edit", "content.edit"})
)
REVIEWING = frozenset({"pathway.review", "pathway.publish", "content.review"})
REVIEWER = Editor(2, "a", "王医生", frozenset({"doctor"}), REVIEWING)
SECOND = Editor(3, "a", "李审核", frozenset({"reviewer"}), REVIEWING)
LATER = NOW + timedelta(minutes=5)


@pytest.fixture
def shipped(tmp_path: Path) -> Shipped:
    """A copy of a shipped library the test may change: the example GDM pathway (as
    ``gdm-example``, its id), and the real content items and forms."""
    (tmp_path / "pathways").mkdir()
    (tmp_path / "pathways" / "gdm-example.yaml").write_text(GDM, encoding="utf-8")
    shutil.copytree(CONTENT_DIRECTORY, tmp_path / "content")
    shutil.copytree(FORMS_DIRECTORY, tmp_path / "forms")
    return Shipped(
        {"pathway": tmp_path / "pathways", "content": tmp_path / "content", "form": tmp_path / "forms"}
    )


@pytest.fixture
def db(app: Flask) -> Iterator[Database]:
    """The app's database: hospitals a and b, the example pathways published as built-ins."""
    database: Database = app.extensions["carepath.db"]
    yield database


def _published(db: Database, shipped: Shipped, source: str, *, migrate: bool = False) -> int:
    """Draft ``source`` for gdm-example, submit, approve and publish it; the version id."""
    with db.transaction() as session:
        draft, _ = drafting.start_draft(session, AUTHOR, "pathway", "gdm-example", now=NOW, shipped=shipped)
        drafting.save_draft(session, AUTHOR, draft.id, source, draft.revision, now=NOW)
        drafting.submit(session, AUTHOR, draft.id, now=NOW)
        reviewing.review(session, REVIEWER, draft.id, "approve", "看过了", now=NOW)
        publishing.publish(session, REVIEWER, draft.id, now=NOW, migrate=migrate)
        return draft.id


def test_a_stale_save_is_refused_with_who_saved_and_the_refused_text_returned(
    db: Database, shipped: Shipped
) -> None:
    with db.transaction() as session:
        draft, created = drafting.start_draft(
            session, AUTHOR, "pathway", "gdm-example", now=NOW, shipped=shipped
        )
        again, created_again = drafting.start_draft(
            session, SECOND, "pathway", "gdm-example", now=NOW, shipped=shipped
        )
    assert created and not created_again and again.id == draft.id  # one open draft per document
    assert draft.source == GDM and draft.revision == 1
    with db.transaction() as session:
        saved = drafting.save_draft(
            session, SECOND, draft.id, GDM.replace("due: 2d", "due: 3d"), 1, now=LATER
        )
        assert saved.revision == 2
    mine = GDM.replace("due: 2d", "due: 4d")
    with pytest.raises(authoring.DraftConflictError) as caught, db.transaction() as session:
        drafting.save_draft(session, AUTHOR, draft.id, mine, 1, now=LATER)
    assert (caught.value.current_revision, caught.value.saved_by) == (2, "李审核")
    assert caught.value.rejected_source == mine and caught.value.code == "draft-conflict"
    with db.reading() as session:
        stored = authoring.get_version(session, "a", draft.id)
        assert "due: 3d" in stored.source and stored.revision == 2 and stored.saved_by_name == "李审核"


def test_a_draft_with_errors_is_not_submitted_and_every_error_is_located(
    db: Database, shipped: Shipped
) -> None:
    with db.transaction() as session:
        draft, _ = drafting.start_draft(session, AUTHOR, "pathway", "gdm-example", now=NOW, shipped=shipped)
        drafting.save_draft(session, AUTHOR, draft.id, GDM.replace("push:", "shout:", 1), 1, now=NOW)
    with pytest.raises(authoring.NotCompiledError) as caught, db.transaction() as session:
        drafting.submit(session, AUTHOR, draft.id, now=NOW)
    problems = caught.value.problems
    assert problems and all(p.location.path == "pathway/gdm-example.yaml" for p in problems)
    assert [(p.code, p.location.line, p.location.column) for p in problems] == [("unknown-action", 17, 9)]
    with db.reading() as session:
        assert authoring.get_version(session, "a", draft.id).status == "draft"


def test_the_author_or_last_saver_never_approves_their_own_change(db: Database, shipped: Shipped) -> None:
    author_who_reviews = Editor(1, "a", "张护士", frozenset({"doctor"}), frozenset({"pathway.review"}))
    with db.transaction() as session:
        draft, _ = drafting.start_draft(session, AUTHOR, "pathway", "gdm-example", now=NOW, shipped=shipped)
        drafting.save_draft(session, REVIEWER, draft.id, GDM.replace("due: 2d", "due: 3d"), 1, now=NOW)
        drafting.submit(session, AUTHOR, draft.id, now=NOW)
    for editor in (author_who_reviews, REVIEWER):  # REVIEWER saved the last revision
        with pytest.raises(authoring.OwnChangeError), db.transaction() as session:
            reviewing.review(session, editor, draft.id, "approve", "", now=NOW)
    with db.transaction() as session:
        reviewing.review(session, SECOND, draft.id, "approve", "", now=NOW)
        assert reviewing.is_approved(session, authoring.get_version(session, "a", draft.id))


def test_a_reviewer_needs_the_permission_and_one_of_the_policy_roles(db: Database, shipped: Shipped) -> None:
    with db.transaction() as session:
        draft, _ = drafting.start_draft(session, AUTHOR, "pathway", "gdm-example", now=NOW, shipped=shipped)
        drafting.submit(session, AUTHOR, draft.id, now=NOW)
    no_permission = Editor(4, "a", "赵医生", frozenset({"doctor"}), frozenset({"content.review"}))
    with pytest.raises(authoring.NotAllowedError), db.transaction() as session:
        reviewing.review(session, no_permission, draft.id, "approve", "", now=NOW)
    with db.transaction() as session:
        reviewing.set_policy(
            session, SECOND, 1, ["reviewer"], now=NOW, known_roles=frozenset({"reviewer", "doctor"})
        )
    with pytest.raises(authoring.NotAllowedError), db.transaction() as session:  # a doctor no longer reviews
        reviewing.review(session, REVIEWER, draft.id, "approve", "", now=NOW)
    with pytest.raises(authoring.BadPolicyError), db.transaction() as session:
        reviewing.set_policy(session, SECOND, 3, ["reviewer"], now=NOW, known_roles=frozenset({"reviewer"}))


def test_two_approvals_are_needed_under_a_two_reviewer_policy_and_a_rejection_starts_over(
    db: Database, shipped: Shipped
) -> None:
    with db.transaction() as session:
        reviewing.set_policy(
            session, SECOND, 2, ["doctor", "reviewer"], now=NOW, known_roles=frozenset({"doctor", "reviewer"})
        )
        draft, _ = drafting.start_draft(session, AUTHOR, "pathway", "gdm-example", now=NOW, shipped=shipped)
        drafting.save_draft(session, AUTHOR, draft.id, GDM.replace("due: 2d", "due: 3d"), 1, now=NOW)
        drafting.submit(session, AUTHOR, draft.id, now=NOW)
        reviewing.review(session, REVIEWER, draft.id, "approve", "", now=NOW)
    with pytest.raises(authoring.NotApprovedError), db.transaction() as session:
        publishing.publish(session, REVIEWER, draft.id, now=NOW)
    with pytest.raises(authoring.AlreadyReviewedError), db.transaction() as session:
        reviewing.review(session, REVIEWER, draft.id, "approve", "", now=NOW)
    with pytest.raises(authoring.AuthoringError, match="comment"), db.transaction() as session:
        reviewing.review(session, SECOND, draft.id, "reject", "  ", now=NOW)
    with db.transaction() as session:
        reviewing.review(session, SECOND, draft.id, "reject", "随访时间请再确认", now=NOW)
        assert authoring.get_version(session, "a", draft.id).status == "draft"
        drafting.submit(session, AUTHOR, draft.id, now=LATER)
        reviewing.review(session, REVIEWER, draft.id, "approve", "", now=LATER)
        assert not reviewing.is_approved(session, authoring.get_version(session, "a", draft.id))  # new round
        reviewing.review(session, SECOND, draft.id, "approve", "", now=LATER)
        published = publishing.publish(session, SECOND, draft.id, now=LATER)
        assert published.status == "published"
    with pytest.raises(authoring.WrongStatusError), db.transaction() as session:  # immutable
        drafting.save_draft(session, AUTHOR, draft.id, GDM, published.revision, now=LATER)


def test_publishing_makes_new_enrolments_take_it_and_pinned_ones_keep_theirs_unless_moved(
    app: Flask, api: Api, db: Database, shipped: Shipped
) -> None:
    assert api.post("/api/v1/events", registration()).status_code == 201
    assert api.post("/api/v1/events", diagnosis()).status_code == 201
    with db.reading() as session:
        built_in = pathways.library_for(session, "a", fresh=True).current["gdm-example"].version
    v2 = _published(db, shipped, GDM.replace("due: 2d", "due: 3d"), migrate=False)
    with db.reading() as session:
        second = authoring.get_version(session, "a", v2).engine_version
        assert pathways.library_for(session, "a", fresh=True).current["gdm-example"].version == second
        assert pathways.library_for(session, "b", fresh=True).current["gdm-example"].version == built_in
    assert second != built_in
    # she stayed pinned: her next evaluation still runs the version she started on
    assert _glucose_log(api, "q-1", "p-001") == {built_in}
    # a woman enrolled after the publish takes the new version
    other = registration("p-002", "reg-002", id_number="110101199003074266", phone="13900000000")
    assert api.post("/api/v1/events", other).status_code == 201
    assert api.post("/api/v1/events", diagnosis("p-002", "dx-002")).status_code == 201
    assert _enrolled_versions(db) == {"p-001": built_in, "p-002": second}
    # the next version moves everyone enrolled: state and enrolment rows together
    with db.transaction() as session:
        draft, _ = drafting.start_draft(session, AUTHOR, "pathway", "gdm-example", now=NOW, shipped=shipped)
    v3 = _publish_existing(db, draft.id, GDM.replace("due: 2d", "due: 5d"), migrate=True)
    with db.reading() as session:
        third = authoring.get_version(session, "a", v3).engine_version
        states = {p.id: load_state(p.state) for p in session.scalars(select(Pregnancy))}
        assert all(
            p.next_wakeup is not None and p.next_wakeup <= NOW for p in session.scalars(select(Pregnancy))
        )
    assert {e.version for s in states.values() for e in s.enrolments if e.pathway_id == "gdm-example"} == {
        third
    }
    assert _enrolled_versions(db) == {"p-001": third, "p-002": third}
    assert _glucose_log(api, "q-2", "p-001") == {third}


def _publish_existing(db: Database, draft_id: int, source: str, *, migrate: bool) -> int:
    with db.transaction() as session:
        version = authoring.get_version(session, "a", draft_id)
        drafting.save_draft(session, AUTHOR, draft_id, source, version.revision, now=NOW)
        drafting.submit(session, AUTHOR, draft_id, now=NOW)
        reviewing.review(session, REVIEWER, draft_id, "approve", "", now=NOW)
        publishing.publish(session, REVIEWER, draft_id, now=NOW, migrate=migrate)
    return draft_id


def _enrolled_versions(db: Database) -> dict[str, str]:
    """HIS patient id -> the gdm-example version her enrolment row is pinned to."""
    with db.reading() as session:
        rows = session.execute(
            select(Patient.his_patient_id, EnrolmentRecord.version)
            .join(Pregnancy, Pregnancy.patient_id == Patient.id)
            .join(EnrolmentRecord, EnrolmentRecord.pregnancy_id == Pregnancy.id)
            .where(EnrolmentRecord.pathway_id == "gdm-example")
        ).all()
    return {str(his): version for his, version in rows}


def _glucose_log(api: Api, event_id: str, his_id: str) -> set[str]:
    """Post a high fasting glucose; the versions of the outbox rows it decided."""
    event = {
        "id": event_id,
        "type": "questionnaire.submitted",
        "occurred_at": "2026-07-10T14:45:00+08:00",
        "patient": {"his_id": his_id},
        "data": {"form": "gdm-glucose-log", "answers": {"fasting_glucose": 5.9, "postprandial_2h": 6.5}},
    }
    response = api.post("/api/v1/events", event)
    assert response.status_code == 201, response.get_json()
    versions = {a["version"] for a in response.get_json()["actions"] if a["rule"] == "high-fasting"}
    assert versions
    return versions


def test_rollback_publishes_an_earlier_text_again_as_the_newest_version(
    db: Database, shipped: Shipped
) -> None:
    first = _published(db, shipped, GDM.replace("due: 2d", "due: 3d"))
    with db.transaction() as session:
        draft, _ = drafting.start_draft(session, AUTHOR, "pathway", "gdm-example", now=NOW, shipped=shipped)
    _publish_existing(db, draft.id, GDM.replace("due: 2d", "due: 6d"), migrate=False)
    with db.transaction() as session:
        back = publishing.rollback(session, SECOND, first, now=LATER, comment="6天太长")
        assert back.number == 3 and back.origin == "rollback" and back.status == "published"
        original = authoring.get_version(session, "a", first)
        assert back.source == original.source and back.engine_version == original.engine_version
    with db.reading() as session:
        assert (
            pathways.library_for(session, "a", fresh=True).current["gdm-example"].version
            == back.engine_version
        )
        actions = [e.action for e in authoring.history(session, "a", back.document_id)]
        assert actions[-1] == "rolled-back"
        assert session.scalar(select(AuditEntry).where(AuditEntry.detail.like("%rolled-back%"))) is not None


def test_retiring_the_hospital_version_makes_the_built_in_one_current_again(
    db: Database, shipped: Shipped
) -> None:
    with db.reading() as session:
        built_in = pathways.library_for(session, "a", fresh=True).current["gdm-example"].version
    mine = _published(db, shipped, GDM.replace("due: 2d", "due: 3d"))
    with db.transaction() as session:
        publishing.retire(session, REVIEWER, mine, now=LATER, comment="回到默认")
    with db.reading() as session:
        library = pathways.library_for(session, "a", fresh=True)
        assert library.current["gdm-example"].version == built_in
        retired = authoring.get_version(session, "a", mine).engine_version
        assert retired is not None and library.loaded("gdm-example", retired)  # pinned women keep it


def test_publishing_a_content_item_records_its_real_reviewers(db: Database, shipped: Shipped) -> None:
    with db.transaction() as session:
        draft, _ = drafting.start_draft(session, AUTHOR, "content", "gdm", now=NOW, shipped=shipped)
        invented = draft.source.replace(
            "review: {status: draft}", "review: {status: approved, by: 某专家, at: 2020-01-01}"
        )
        drafting.save_draft(session, AUTHOR, draft.id, invented.replace("请遵医嘱", "请按医嘱"), 1, now=NOW)
        drafting.submit(session, AUTHOR, draft.id, now=NOW)
        reviewing.review(session, REVIEWER, draft.id, "approve", "措辞可以", now=LATER)
        published = publishing.publish(session, REVIEWER, draft.id, now=LATER)
    item = parse_content_item(published.source, "gdm.md")
    assert dict(item.review) == {"status": "approved", "by": "王医生", "at": LATER.isoformat()}
    assert "某专家" not in published.source and "请按医嘱" in published.source
    with db.reading() as session:  # what delivery renders for each hospital
        assert "请按医嘱" in publishing.content_items(session, "a")["gdm"].body
        assert "请按医嘱" not in publishing.content_items(session, "b")["gdm"].body
        assert dict(publishing.content_items(session, "b")["gdm"].review) == {"status": "draft"}


def test_a_summary_that_names_a_condition_is_refused_at_submit(db: Database, shipped: Shipped) -> None:
    with db.transaction() as session:
        draft, _ = drafting.start_draft(session, AUTHOR, "content", "gdm", now=NOW, shipped=shipped)
        leaky = draft.source.replace(
            "summary: 您有一篇新的健康课程，点开看看吧。", "summary: 您的妊娠期糖尿病课程"
        )
        drafting.save_draft(session, AUTHOR, draft.id, leaky, 1, now=NOW)
    with pytest.raises(authoring.NotCompiledError) as caught, db.transaction() as session:
        drafting.submit(session, AUTHOR, draft.id, now=NOW)
    assert [(p.code, p.location.line) for p in caught.value.problems] == [("sensitive-summary", 4)]


def test_a_newer_shipped_text_is_listed_with_a_diff_and_adopted_only_through_review(
    db: Database, shipped: Shipped
) -> None:
    mine = _published(db, shipped, GDM.replace("due: 2d", "due: 3d"))
    with db.reading() as session:
        assert upstream.changes(session, "a", shipped) == []
    newer = GDM.replace("catch_up_within: 2w", "catch_up_within: 3w")
    shipped.path("pathway", "gdm-example").write_text(newer, encoding="utf-8")
    with db.reading() as session:
        (change,) = upstream.changes(session, "a", shipped)
        current = pathways.library_for(session, "a", fresh=True).current["gdm-example"].version
        assert current == authoring.get_version(session, "a", mine).engine_version  # not overwritten
    assert "-    catch_up_within: 2w\n+    catch_up_within: 3w\n" in change.diff
    assert "-      - questionnaire: {form: gdm-glucose-log, due: 3d}" in change.diff  # the hospital's edit
    with db.transaction() as session:
        adopted = upstream.adopt(session, AUTHOR, change.document_id, now=LATER, shipped=shipped)
        assert adopted.status == "draft" and adopted.source == newer and adopted.origin == "upstream"
    with db.reading() as session:
        assert (
            upstream.changes(session, "a", shipped)[0].adopting == adopted.id
        )  # still listed until published
    _publish_existing(db, adopted.id, newer, migrate=False)
    with db.reading() as session:
        assert upstream.changes(session, "a", shipped) == []
    shipped.path("pathway", "gdm-example").write_text(newer.replace("3w", "4w"), encoding="utf-8")
    with db.transaction() as session:
        (change,) = upstream.changes(session, "a", shipped)
        upstream.dismiss(
            session, SECOND, change.document_id, now=LATER, comment="我院保持3周", shipped=shipped
        )
    with db.reading() as session:
        assert upstream.changes(session, "a", shipped) == []
        actions = [e.action for e in session.scalars(select(DocumentEvent).order_by(DocumentEvent.id))]
    assert actions[0] == "copied" and actions[-1] == "upstream-dismissed" and "published" in actions


def test_another_hospital_sees_none_of_it(db: Database, shipped: Shipped) -> None:
    mine = _published(db, shipped, GDM.replace("due: 2d", "due: 3d"))
    outsider = Editor(9, "b", "外院", frozenset({"doctor"}), REVIEWING)
    with pytest.raises(authoring.DocumentNotFoundError), db.transaction() as session:
        publishing.rollback(session, outsider, mine, now=LATER)
    with db.reading() as session:
        assert [d for d in authoring.list_documents(session, "b", shipped) if d.document_id] == []
        listed = {(d.kind, d.name): d for d in authoring.list_documents(session, "a", shipped)}
    assert listed[("pathway", "gdm-example")].published is not None
    assert listed[("content", "gdm")].document_id is None and listed[("content", "gdm")].shipped


def test_publishing_needs_the_publish_permission(db: Database, shipped: Shipped) -> None:
    reviews_only = Editor(5, "a", "钱医生", frozenset({"reviewer"}), frozenset({"pathway.review"}))
    with db.transaction() as session:
        draft, _ = drafting.start_draft(session, AUTHOR, "pathway", "gdm-example", now=NOW, shipped=shipped)
        drafting.submit(session, AUTHOR, draft.id, now=NOW)
        reviewing.review(session, reviews_only, draft.id, "approve", "", now=NOW)
    with pytest.raises(authoring.NotAllowedError, match=r"pathway\.publish"), db.transaction() as session:
        publishing.publish(session, reviews_only, draft.id, now=NOW)


def test_two_authors_saving_at_once_one_wins_and_the_other_gets_a_conflict(
    db: Database, shipped: Shipped
) -> None:
    import threading

    with db.transaction() as session:
        draft, _ = drafting.start_draft(session, AUTHOR, "pathway", "gdm-example", now=NOW, shipped=shipped)
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def save(editor: Editor, text: str) -> None:
        start.wait()
        try:
            with db.transaction() as session:
                drafting.save_draft(session, editor, draft.id, text, 1, now=LATER)
            outcomes.append("saved")
        except authoring.DraftConflictError:
            outcomes.append("conflict")

    threads = [
        threading.Thread(target=save, args=(AUTHOR, GDM.replace("due: 2d", "due: 3d"))),
        threading.Thread(target=save, args=(SECOND, GDM.replace("due: 2d", "due: 4d"))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["conflict", "saved"]
    with db.reading() as session:
        assert authoring.get_version(session, "a", draft.id).revision == 2


def test_publishing_a_form_records_its_real_reviewers_and_still_passes_the_lint(
    db: Database, shipped: Shipped
) -> None:
    from carepath.engine.forms import parse_form

    with db.transaction() as session:
        draft, _ = drafting.start_draft(session, AUTHOR, "form", "epds", now=NOW, shipped=shipped)
        drafting.submit(session, AUTHOR, draft.id, now=NOW)
        reviewing.review(session, REVIEWER, draft.id, "approve", "", now=LATER)
        reviewing.review(session, SECOND, draft.id, "approve", "", now=LATER)
        published = publishing.publish(session, SECOND, draft.id, now=LATER)
        assert authoring.problems_of(session, "a", "form", "epds", published.source) == []
    assert parse_form(published.source, "epds.yaml").review_status == "approved"
    review = yaml.safe_load(published.source)["review"]
    assert review == {"status": "approved", "by": "王医生, 李审核", "at": LATER.isoformat()}
