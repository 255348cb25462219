"""Publishing a hospital's library document: publish an approved version, roll back to an
earlier one, retire one; and the published library as delivery renders it.

A published version is immutable. Publishing a pathway writes a ``PathwayVersion`` (what the
engine loads) and, if the publisher chooses, moves the women already enrolled to it;
publishing a content item or form writes its real reviewers into ``review:`` and releases the
rows held for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carepath.engine.content import ContentItem, load_content_library, parse_content_item
from carepath.store import held_content, pathways, recent
from carepath.store.authoring import (
    OPEN_STATUSES,
    PUBLISH_PERMISSION,
    DraftExistsError,
    Editor,
    NotApprovedError,
    NotCompiledError,
    WrongStatusError,
    current_published,
    document_label,
    document_of,
    get_version,
    lock_document,
    new_version,
    problems_of,
    record,
    require_permission,
    versions_of,
)
from carepath.store.library_files import stamp_review, text_hash
from carepath.store.models import DocumentVersion, LibraryDocument, PathwayVersion
from carepath.store.reviewing import approvals, policy_of
from carepath.store.scope import audit


def publish(
    session: Session, editor: Editor, version_id: int, *, now: datetime, migrate: bool = False
) -> DocumentVersion:
    """Publish an approved version: immutable from now on, what new enrolments take.

    ``migrate`` (pathways): move the women already enrolled to it; otherwise they stay on
    the version they are pinned to.
    """
    version = get_version(session, editor.hospital_id, version_id, lock=True)
    document = document_of(session, version)
    if version.status != "in_review":
        raise WrongStatusError(
            f"version {version.number} is {version.status}; only an approved version is published"
        )
    _require_publisher(editor, document.kind)
    approved = approvals(session, version)
    needed = policy_of(session, editor.hospital_id).approvals
    if len(approved) < needed:
        raise NotApprovedError(f"{len(approved)} of {needed} approval(s)")
    if document.kind != "pathway":
        version.source = stamp_review(
            document.kind, version.source, [r.reviewer_name for r in approved], approved[-1].at
        )
        version.source_hash = text_hash(version.source)
    problems = problems_of(session, editor.hospital_id, document.kind, document.name, version.source)
    if problems:  # the library around it changed since the review
        raise NotCompiledError(problems)
    reviewer = ", ".join(r.reviewer_name for r in approved)
    _make_published(session, editor, document, version, now=now, migrate=migrate, reviewer=reviewer)
    if version.origin == "upstream":
        document.upstream_hash = version.upstream_hash
    record(
        session, editor, document, version, "published", now=now, comment=_migration_note(document, migrate)
    )
    return version


def rollback(
    session: Session,
    editor: Editor,
    version_id: int,
    *,
    now: datetime,
    migrate: bool = False,
    comment: str = "",
) -> DocumentVersion:
    """Publish an earlier published (or retired) version's text again, as a new version.

    The text was reviewed when it was first published, so a rollback needs a reviewer's
    permission but no new review round; it is in the history with who did it and why.
    """
    target = get_version(session, editor.hospital_id, version_id)
    document = document_of(session, target)
    if target.status not in ("published", "retired"):
        raise WrongStatusError("only a version that was published can be rolled back to")
    _require_publisher(editor, document.kind)
    lock_document(session, document)
    open_ = next((v for v in versions_of(session, document.id) if v.status in OPEN_STATUSES), None)
    if open_ is not None:
        raise DraftExistsError(
            f"version {open_.number} is {open_.status}; finish or withdraw it first", open_.id
        )
    version = new_version(session, editor, document, target.source, "rollback", now=now, base=target)
    _make_published(
        session, editor, document, version, now=now, migrate=migrate, reviewer=target.published_by_name
    )
    note = f"rolled back to version {target.number}. {comment}".strip()
    note = f"{note} {_migration_note(document, migrate)}"
    record(session, editor, document, version, "rolled-back", now=now, comment=note)
    return version


def retire(
    session: Session, editor: Editor, version_id: int, *, now: datetime, comment: str = ""
) -> DocumentVersion:
    """Retire a published version: no new enrolment takes it (the hospital's previous
    published version, else the built-in one, is current again); women pinned to it keep it."""
    version = get_version(session, editor.hospital_id, version_id, lock=True)
    document = document_of(session, version)
    if version.status != "published":
        raise WrongStatusError(f"version {version.number} is {version.status}, not published")
    _require_publisher(editor, document.kind)
    version.status, version.retired_at = "retired", now
    recent.PUBLISHED.forget(editor.hospital_id)
    if version.pathway_version_id is not None:
        others = session.scalar(
            select(func.count())
            .select_from(DocumentVersion)
            .where(
                DocumentVersion.pathway_version_id == version.pathway_version_id,
                DocumentVersion.status == "published",
            )
        )
        row = session.get(PathwayVersion, version.pathway_version_id)
        if row is not None and not others:  # a rollback may publish the same text again
            row.status = "retired"
    record(session, editor, document, version, "retired", now=now, comment=comment)
    return version


def _make_published(
    session: Session,
    editor: Editor,
    document: LibraryDocument,
    version: DocumentVersion,
    *,
    now: datetime,
    migrate: bool,
    reviewer: str | None,
) -> None:
    version.status, version.published_at = "published", now
    version.published_by_id, version.published_by_name = editor.id, editor.name
    recent.PUBLISHED.forget(editor.hospital_id)  # this process sees it at once
    if document.kind != "pathway":
        # Approved now: the rows held for it are due again (a page of them at each claim).
        held_content.release(session, editor.hospital_id, now, kind=document.kind, name=document.name)
        return
    row = pathways.publish(
        session,
        {f"{document.name}.yaml": version.source},
        now,
        hospital_id=editor.hospital_id,
        author=version.author_name,
        reviewer=reviewer,
        context={
            k: v
            for k, v in pathways.current_sources(session, editor.hospital_id).items()
            if k != document.name
        },
    )[0]
    if row.published_at != now or row.status != "published":
        # The same text was published before (a rollback): the engine identifies versions by
        # their content hash, so that row becomes current again; its text never changes.
        row.status, row.published_at, row.reviewer = "published", now, reviewer
    version.engine_version, version.pathway_version_id = row.version, row.id
    version.migrate = migrate
    if migrate:
        moved = pathways.move_enrolments(session, editor.hospital_id, document.name, row.version, now)
        audit(
            session,
            editor.actor,
            "change",
            now,
            f"{document_label(document, version)}: moved {moved} enrolment(s)",
        )
    pathways.clear_cache()


def _require_publisher(editor: Editor, kind: str) -> None:
    require_permission(editor, PUBLISH_PERMISSION[kind])


def _migration_note(document: LibraryDocument, migrate: bool) -> str:
    if document.kind != "pathway":
        return ""
    return "enrolled women moved to it" if migrate else "enrolled women stay on their version"


# --- the published library, as delivery renders it ----------------------------------------


#: hospital -> (the texts' signature, its parsed items): parsed again only when they change.
_items_cache: dict[str, tuple[tuple[tuple[str, str], ...], Mapping[str, ContentItem]]] = {}


def published_sources(session: Session, hospital_id: str, kind: str) -> dict[str, str]:
    """Name -> the text of the hospital's current published version of each ``kind`` document."""
    by_document: dict[int, list[DocumentVersion]] = {}
    for version in session.scalars(
        select(DocumentVersion)
        .join(LibraryDocument, LibraryDocument.id == DocumentVersion.document_id)
        .where(
            DocumentVersion.hospital_id == hospital_id,
            LibraryDocument.kind == kind,
            DocumentVersion.status == "published",
        )
    ):
        by_document.setdefault(version.document_id, []).append(version)
    names: dict[int, str] = {
        document_id: name
        for document_id, name in session.execute(
            select(LibraryDocument.id, LibraryDocument.name).where(LibraryDocument.id.in_(by_document))
        )
    }
    found = {}
    for document_id, versions in by_document.items():
        current = current_published(versions)
        if current is not None:
            found[names[document_id]] = current.source
    return found


def content_items(session: Session, hospital_id: str) -> Mapping[str, ContentItem]:
    """The education library as ``hospital_id`` sends it: the shipped items, each replaced
    by the hospital's current published version where it has one (delivery renders these)."""
    sources = published_sources(session, hospital_id, "content")
    signature = tuple(sorted((name, text_hash(source)) for name, source in sources.items()))
    cached = _items_cache.get(hospital_id)
    if cached is not None and cached[0] == signature:
        return cached[1]
    items = dict(load_content_library())
    for name, source in sources.items():
        items[name] = parse_content_item(source, f"{name}.md")
    frozen = MappingProxyType(items)
    _items_cache[hospital_id] = (signature, frozen)
    return frozen
