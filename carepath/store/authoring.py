"""Authoring: a hospital's drafts, reviews and published versions of library documents.

A document (a pathway, content item or form) becomes the hospital's own the first time
someone edits it: its copy starts from the shipped text (recording that text's hash, see
``upstream.py``) or from its newest published version. A version is a draft (saved with the
revision it was based on: a stale save is refused, nothing lost), then in review (only when
it has no errors), then published (immutable) or retired. Reviewers are never the author;
the hospital's ``ReviewPolicy`` says how many approvals and which roles. Publishing a
pathway writes a ``PathwayVersion`` (what the engine loads) and, if the publisher chooses,
moves the women already enrolled to it; publishing a content item or form writes its real
reviewers into ``review:``. Every step is in the document's history and the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carepath.engine.content import ContentItem, load_content_library, parse_content_item
from carepath.errors import CarepathError, Problem
from carepath.store import held_content, pathways
from carepath.store.library_files import (
    KINDS,
    MAX_SOURCE_BYTES,
    SHIPPED,
    Shipped,
    check,
    reset_review,
    stamp_review,
    text_hash,
)
from carepath.store.models import (
    DocumentEvent,
    DocumentReview,
    DocumentVersion,
    LibraryDocument,
    PathwayVersion,
    ReviewPolicy,
)
from carepath.store.scope import Actor, audit

OPEN_STATUSES = ("draft", "in_review")
#: The permission a reviewer of each kind needs (the names of the auth module's roles table).
REVIEW_PERMISSION = {"pathway": "pathway.review", "content": "content.review", "form": "content.review"}
EDIT_PERMISSION = {"pathway": "pathway.edit", "content": "content.edit", "form": "content.edit"}
#: Publishing, rolling back and retiring (content has no separate publish permission).
PUBLISH_PERMISSION = {"pathway": "pathway.publish", "content": "content.review", "form": "content.review"}
DEFAULT_APPROVALS = 1
DEFAULT_REVIEW_ROLES = ("reviewer", "doctor")


@dataclass(frozen=True)
class Editor:
    """The staff member acting: who, of which hospital, with which roles and permissions."""

    id: int
    hospital_id: str
    name: str
    roles: frozenset[str] = frozenset()
    permissions: frozenset[str] = frozenset()
    remote_addr: str | None = None

    @property
    def label(self) -> str:
        return f"staff:{self.id}"

    @property
    def actor(self) -> Actor:
        return Actor(self.hospital_id, "staff", str(self.id), self.remote_addr)


# --- errors (each a stable code; webapi/editor_api.py maps them to HTTP statuses) ---------


class AuthoringError(CarepathError):
    code = "authoring-error"
    status = 422


class DocumentNotFoundError(AuthoringError):
    code = "document-not-found"
    status = 404


class DraftConflictError(AuthoringError):
    """The draft was saved by someone else since the caller loaded it; their text is kept
    by the server, the caller's (``rejected_source``) is handed back so that nothing is lost."""

    code = "draft-conflict"
    status = 409

    def __init__(
        self, current_revision: int, saved_by: str, saved_at: datetime, rejected_source: str
    ) -> None:
        super().__init__(
            f"{saved_by} saved this draft at {saved_at.isoformat(timespec='seconds')} "
            f"(revision {current_revision}) after you loaded it; your text is returned unsaved"
        )
        self.current_revision = current_revision
        self.saved_by = saved_by
        self.saved_at = saved_at
        self.rejected_source = rejected_source


class NotCompiledError(AuthoringError):
    """The draft has errors; ``problems`` are located like the compiler's."""

    code = "not-compiled"
    status = 422

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"the draft has {len(problems)} error(s); fix them before review")
        self.problems = problems


class OwnChangeError(AuthoringError):
    code = "own-change"
    status = 403


class NotAllowedError(AuthoringError):
    code = "not-allowed"
    status = 403


class WrongStatusError(AuthoringError):
    code = "wrong-status"
    status = 409


class DraftExistsError(AuthoringError):
    code = "draft-exists"
    status = 409

    def __init__(self, message: str, version_id: int) -> None:
        super().__init__(message)
        self.version_id = version_id


class NotApprovedError(AuthoringError):
    code = "not-approved"
    status = 409


class AlreadyReviewedError(AuthoringError):
    code = "already-reviewed"
    status = 409


class TooLargeError(AuthoringError):
    code = "too-large"
    status = 413


class BadPolicyError(AuthoringError):
    code = "bad-policy"
    status = 422


# --- policy -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    approvals: int = DEFAULT_APPROVALS
    roles: tuple[str, ...] = DEFAULT_REVIEW_ROLES


def policy_of(session: Session, hospital_id: str) -> Policy:
    row = session.get(ReviewPolicy, hospital_id)
    if row is None:
        return Policy()
    return Policy(row.approvals, tuple(str(r) for r in row.roles))


def set_policy(
    session: Session,
    editor: Editor,
    approvals: int,
    roles: list[str],
    *,
    now: datetime,
    known_roles: frozenset[str],
) -> Policy:
    """The hospital's review steps: 1 or 2 approvals, by staff holding one of ``roles``."""
    if approvals not in (1, 2):
        raise BadPolicyError("approvals must be 1 or 2")
    unknown = sorted(set(roles) - known_roles)
    if not roles or unknown:
        raise BadPolicyError(f"unknown roles: {', '.join(unknown)}" if unknown else "name at least one role")
    row = session.get(ReviewPolicy, editor.hospital_id)
    if row is None:
        row = ReviewPolicy(hospital_id=editor.hospital_id)
        session.add(row)
    row.approvals, row.roles = approvals, sorted(set(roles))
    row.updated_by, row.updated_at = editor.label, now
    audit(
        session,
        editor.actor,
        "change",
        now,
        f"review policy: {approvals} approval(s) by {', '.join(row.roles)}",
    )
    return Policy(approvals, tuple(row.roles))


# --- reading ------------------------------------------------------------------------------


@dataclass
class DocumentInfo:
    kind: str
    name: str
    shipped: bool
    document_id: int | None = None
    published: DocumentVersion | None = None  # the current one
    open: DocumentVersion | None = None  # the draft or the version in review
    versions: list[DocumentVersion] = field(default_factory=list)


def find_document(session: Session, hospital_id: str, kind: str, name: str) -> LibraryDocument | None:
    return session.scalar(
        select(LibraryDocument).where(
            LibraryDocument.hospital_id == hospital_id,
            LibraryDocument.kind == kind,
            LibraryDocument.name == name,
        )
    )


def versions_of(session: Session, document_id: int) -> list[DocumentVersion]:
    return list(
        session.scalars(
            select(DocumentVersion)
            .where(DocumentVersion.document_id == document_id)
            .order_by(DocumentVersion.number)
        )
    )


def current_published(versions: list[DocumentVersion]) -> DocumentVersion | None:
    published = [v for v in versions if v.status == "published"]
    return max(published, key=lambda v: (v.published_at or v.created_at, v.number)) if published else None


def get_version(
    session: Session, hospital_id: str, version_id: int, *, lock: bool = False
) -> DocumentVersion:
    statement = select(DocumentVersion).where(
        DocumentVersion.id == version_id, DocumentVersion.hospital_id == hospital_id
    )
    row = session.scalar(statement.with_for_update() if lock else statement)
    if row is None:
        raise DocumentNotFoundError(f"no version {version_id} in this hospital")
    return row


def document_of(session: Session, version: DocumentVersion) -> LibraryDocument:
    document = session.get(LibraryDocument, version.document_id)
    assert document is not None
    return document


def reviews_of(session: Session, version_id: int) -> list[DocumentReview]:
    return list(
        session.scalars(
            select(DocumentReview).where(DocumentReview.version_id == version_id).order_by(DocumentReview.id)
        )
    )


def approvals(session: Session, version: DocumentVersion) -> list[DocumentReview]:
    """The approvals of the version's current review round."""
    return [
        r for r in reviews_of(session, version.id) if r.round == version.round and r.decision == "approve"
    ]


def is_approved(session: Session, version: DocumentVersion) -> bool:
    return len(approvals(session, version)) >= policy_of(session, version.hospital_id).approvals


def history(session: Session, hospital_id: str, document_id: int) -> list[DocumentEvent]:
    return list(
        session.scalars(
            select(DocumentEvent)
            .where(DocumentEvent.document_id == document_id, DocumentEvent.hospital_id == hospital_id)
            .order_by(DocumentEvent.at, DocumentEvent.id)
        )
    )


def list_documents(session: Session, hospital_id: str, shipped: Shipped = SHIPPED) -> list[DocumentInfo]:
    """Every shipped document and every document of the hospital's own, with its status."""
    infos: dict[tuple[str, str], DocumentInfo] = {}
    for kind in KINDS:
        for name in shipped.names(kind):
            infos[(kind, name)] = DocumentInfo(kind, name, shipped=True)
    documents = session.scalars(
        select(LibraryDocument).where(LibraryDocument.hospital_id == hospital_id)
    ).all()
    versions: dict[int, list[DocumentVersion]] = {}
    for version in session.scalars(
        select(DocumentVersion)
        .where(DocumentVersion.hospital_id == hospital_id)
        .order_by(DocumentVersion.number)
    ):
        versions.setdefault(version.document_id, []).append(version)
    for document in documents:
        info = infos.setdefault(
            (document.kind, document.name), DocumentInfo(document.kind, document.name, False)
        )
        info.document_id = document.id
        info.versions = versions.get(document.id, [])
        info.published = current_published(info.versions)
        info.open = next((v for v in reversed(info.versions) if v.status in OPEN_STATUSES), None)
    return [infos[key] for key in sorted(infos)]


def in_review(session: Session, hospital_id: str) -> list[tuple[LibraryDocument, DocumentVersion]]:
    rows = session.execute(
        select(LibraryDocument, DocumentVersion)
        .join(DocumentVersion, DocumentVersion.document_id == LibraryDocument.id)
        .where(DocumentVersion.hospital_id == hospital_id, DocumentVersion.status == "in_review")
        .order_by(DocumentVersion.submitted_at)
    ).all()
    return [(d, v) for d, v in rows]


# --- drafts -------------------------------------------------------------------------------


def start_draft(
    session: Session, editor: Editor, kind: str, name: str, *, now: datetime, shipped: Shipped = SHIPPED
) -> tuple[DocumentVersion, bool]:
    """The open draft of ``kind``/``name``, created from the newest published version (or
    the shipped text) when there is none; returns (version, created)."""
    document = _document(session, editor, kind, name, now=now, shipped=shipped)
    versions = versions_of(session, document.id)
    open_ = next((v for v in reversed(versions) if v.status in OPEN_STATUSES), None)
    if open_ is not None:
        return open_, False
    base = current_published(versions)
    if base is not None:
        return new_version(
            session, editor, document, reset_review(kind, base.source), "edit", now=now, base=base
        ), True
    text = shipped.text(kind, name)
    if text is None:
        raise DocumentNotFoundError(f"no {kind} {name!r} to start from")
    return new_version(session, editor, document, text, "library", now=now, upstream=text_hash(text)), True


def save_draft(
    session: Session, editor: Editor, version_id: int, source: str, base_revision: int, *, now: datetime
) -> DocumentVersion:
    """Save ``source`` over the draft if nobody saved it since ``base_revision``.

    A stale save raises ``DraftConflictError`` with the current revision, who saved it and
    the refused text; the stored draft is untouched.
    """
    if len(source.encode("utf-8")) > MAX_SOURCE_BYTES:
        raise TooLargeError(f"a document is at most {MAX_SOURCE_BYTES // 1024} KB")
    version = get_version(session, editor.hospital_id, version_id, lock=True)
    if version.status != "draft":
        raise WrongStatusError(f"version {version.number} is {version.status}; only a draft is edited")
    if base_revision != version.revision:
        raise DraftConflictError(version.revision, version.saved_by_name, version.saved_at, source)
    if source != version.source:
        version.source, version.source_hash = source, text_hash(source)
        version.revision += 1
        version.saved_by_id, version.saved_by_name, version.saved_at = editor.id, editor.name, now
        document = document_of(session, version)
        audit(
            session,
            editor.actor,
            "change",
            now,
            f"{_label(document, version)}: saved revision {version.revision}",
        )
    return version


def problems_of(session: Session, hospital_id: str, kind: str, name: str, source: str) -> list[Problem]:
    """The errors of ``source`` as this hospital's ``kind``/``name``."""
    others = pathways.current_sources(session, hospital_id) if kind == "pathway" else None
    return check(kind, name, source, others)


def submit(
    session: Session, editor: Editor, version_id: int, *, now: datetime, comment: str = ""
) -> DocumentVersion:
    """Send a draft for review; a draft with errors is refused with every located error."""
    version = get_version(session, editor.hospital_id, version_id, lock=True)
    if version.status != "draft":
        raise WrongStatusError(f"version {version.number} is {version.status}, not a draft")
    document = document_of(session, version)
    problems = problems_of(session, editor.hospital_id, document.kind, document.name, version.source)
    if problems:
        raise NotCompiledError(problems)
    version.status, version.round, version.submitted_at = "in_review", version.round + 1, now
    record(session, editor, document, version, "submitted", now=now, comment=comment)
    return version


def review(
    session: Session, editor: Editor, version_id: int, decision: str, comment: str, *, now: datetime
) -> DocumentVersion:
    """Approve or reject a version in review. The author (or whoever saved it last) never
    approves their own change; a rejection needs a comment and sends it back to draft."""
    if decision not in ("approve", "reject"):
        raise AuthoringError("decision is approve or reject", code="bad-decision")
    version = get_version(session, editor.hospital_id, version_id, lock=True)
    document = document_of(session, version)
    if version.status != "in_review":
        raise WrongStatusError(f"version {version.number} is {version.status}, not in review")
    _require_reviewer(session, editor, document.kind)
    if editor.id in (version.author_id, version.saved_by_id):
        raise OwnChangeError("you wrote this change; another reviewer must decide on it")
    if any(r.reviewer_id == editor.id and r.round == version.round for r in reviews_of(session, version.id)):
        raise AlreadyReviewedError("you have already reviewed this round")
    comment = comment.strip()
    if decision == "reject" and not comment:
        raise AuthoringError("say why in a comment", code="comment-required")
    session.add(
        DocumentReview(
            hospital_id=editor.hospital_id,
            version_id=version.id,
            round=version.round,
            reviewer_id=editor.id,
            reviewer_name=editor.name,
            decision=decision,
            comment=comment,
            at=now,
        )
    )
    session.flush()
    if decision == "reject":
        version.status = "draft"
    action = "approved" if decision == "approve" else "rejected"
    record(session, editor, document, version, action, now=now, comment=comment)
    return version


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


def withdraw(session: Session, editor: Editor, version_id: int, *, now: datetime) -> DocumentVersion:
    """Take a version in review back to draft (to change it); its approvals no longer count."""
    version = get_version(session, editor.hospital_id, version_id, lock=True)
    if version.status != "in_review":
        raise WrongStatusError(f"version {version.number} is {version.status}, not in review")
    version.status = "draft"
    record(session, editor, document_of(session, version), version, "withdrawn", now=now)
    return version


# --- internals ----------------------------------------------------------------------------


def _document(
    session: Session, editor: Editor, kind: str, name: str, *, now: datetime, shipped: Shipped
) -> LibraryDocument:
    if kind not in KINDS:
        raise DocumentNotFoundError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    document = find_document(session, editor.hospital_id, kind, name)
    if document is None:
        text = shipped.text(kind, name)
        if text is None:
            raise DocumentNotFoundError(f"carepath ships no {kind} {name!r}")
        document = LibraryDocument(
            hospital_id=editor.hospital_id,
            kind=kind,
            name=name,
            upstream_hash=text_hash(text),
            created_at=now,
        )
        session.add(document)
        session.flush()
        record(session, editor, document, None, "copied", now=now, comment="copied from the shipped library")
    lock_document(session, document)
    return document


def lock_document(session: Session, document: LibraryDocument) -> None:
    """One writer per document at a time (two "start draft" calls make one draft)."""
    session.scalar(select(LibraryDocument.id).where(LibraryDocument.id == document.id).with_for_update())


def new_version(
    session: Session,
    editor: Editor,
    document: LibraryDocument,
    source: str,
    origin: str,
    *,
    now: datetime,
    base: DocumentVersion | None = None,
    upstream: str | None = None,
) -> DocumentVersion:
    number = (
        session.scalar(
            select(func.max(DocumentVersion.number)).where(DocumentVersion.document_id == document.id)
        )
        or 0
    ) + 1
    version = DocumentVersion(
        hospital_id=editor.hospital_id,
        document_id=document.id,
        number=number,
        status="draft",
        origin=origin,
        based_on_id=base.id if base else None,
        upstream_hash=upstream,
        source=source,
        source_hash=text_hash(source),
        revision=1,
        author_id=editor.id,
        author_name=editor.name,
        saved_by_id=editor.id,
        saved_by_name=editor.name,
        saved_at=now,
        round=0,
        created_at=now,
    )
    session.add(version)
    session.flush()
    if origin != "rollback":
        record(
            session,
            editor,
            document,
            version,
            "drafted",
            now=now,
            comment=f"from {_origin_note(origin, base)}",
        )
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
            session, editor.actor, "change", now, f"{_label(document, version)}: moved {moved} enrolment(s)"
        )
    pathways.clear_cache()


def _require_publisher(editor: Editor, kind: str) -> None:
    require_permission(editor, PUBLISH_PERMISSION[kind])


def require_permission(editor: Editor, permission: str) -> None:
    if permission not in editor.permissions:
        raise NotAllowedError(f"this needs the {permission} permission")


def _require_reviewer(session: Session, editor: Editor, kind: str) -> None:
    permission = REVIEW_PERMISSION[kind]
    if permission not in editor.permissions:
        raise NotAllowedError(f"reviewing needs the {permission} permission")
    policy = policy_of(session, editor.hospital_id)
    if not editor.roles & set(policy.roles):
        raise NotAllowedError(f"this hospital's reviewers have one of the roles {', '.join(policy.roles)}")


def record(
    session: Session,
    editor: Editor,
    document: LibraryDocument,
    version: DocumentVersion | None,
    action: str,
    *,
    now: datetime,
    comment: str = "",
) -> None:
    session.add(
        DocumentEvent(
            hospital_id=editor.hospital_id,
            document_id=document.id,
            version_id=version.id if version else None,
            action=action,
            actor=editor.label,
            actor_name=editor.name,
            comment=comment.strip() or None,
            at=now,
        )
    )
    detail = f"{_label(document, version)}: {action}" + (
        f" ({comment.strip()[:200]})" if comment.strip() else ""
    )
    audit(session, editor.actor, "change", now, detail)


def _label(document: LibraryDocument, version: DocumentVersion | None) -> str:
    return f"{document.kind} {document.name}" + (f" v{version.number}" if version else "")


def _origin_note(origin: str, base: DocumentVersion | None) -> str:
    if base is not None:
        return f"version {base.number}"
    return {"library": "the shipped library", "upstream": "the newer shipped library"}.get(origin, origin)


def _migration_note(document: LibraryDocument, migrate: bool) -> str:
    if document.kind != "pathway":
        return ""
    return "enrolled women moved to it" if migrate else "enrolled women stay on their version"


def as_json(version: DocumentVersion, **extra: Any) -> dict[str, Any]:
    """A version as the editor API shows it."""
    return {
        "id": version.id,
        "number": version.number,
        "status": version.status,
        "origin": version.origin,
        "based_on": version.based_on_id,
        "revision": version.revision,
        "author": {"id": version.author_id, "name": version.author_name},
        "saved_by": {"id": version.saved_by_id, "name": version.saved_by_name},
        "saved_at": version.saved_at.isoformat(),
        "submitted_at": version.submitted_at.isoformat() if version.submitted_at else None,
        "published_at": version.published_at.isoformat() if version.published_at else None,
        "published_by": version.published_by_name,
        "migrate": version.migrate,
        "engine_version": version.engine_version,
        "retired_at": version.retired_at.isoformat() if version.retired_at else None,
        **extra,
    }


# --- what delivery uses -------------------------------------------------------------------

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
