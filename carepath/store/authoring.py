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

The steps are ``drafting.py`` (start, save, submit, withdraw), ``reviewing.py`` (the review
policy, approve or reject) and ``publishing.py`` (publish, roll back, retire, and the published
library delivery renders). This module is what they share: the acting ``Editor``, the errors,
reading documents and their versions, new versions and the history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carepath.errors import CarepathError, Problem
from carepath.store import pathways
from carepath.store.library_files import KINDS, SHIPPED, Shipped, check, text_hash
from carepath.store.models import DocumentEvent, DocumentVersion, LibraryDocument
from carepath.store.scope import Actor, audit

OPEN_STATUSES = ("draft", "in_review")
#: The permission a reviewer of each kind needs (the names of the auth module's roles table).
REVIEW_PERMISSION = {"pathway": "pathway.review", "content": "content.review", "form": "content.review"}
EDIT_PERMISSION = {"pathway": "pathway.edit", "content": "content.edit", "form": "content.edit"}
#: Publishing, rolling back and retiring (content has no separate publish permission).
PUBLISH_PERMISSION = {"pathway": "pathway.publish", "content": "content.review", "form": "content.review"}


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


# --- errors (each a stable code; webapi/staff/editor_api.py maps them to HTTP statuses) ---------


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


def problems_of(session: Session, hospital_id: str, kind: str, name: str, source: str) -> list[Problem]:
    """The errors of ``source`` as this hospital's ``kind``/``name``."""
    others = pathways.current_sources(session, hospital_id) if kind == "pathway" else None
    return check(kind, name, source, others)


# --- what every step uses -----------------------------------------------------------------


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


def require_permission(editor: Editor, permission: str) -> None:
    if permission not in editor.permissions:
        raise NotAllowedError(f"this needs the {permission} permission")


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
    """One step in the document's history, and in the audit log."""
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
    detail = f"{document_label(document, version)}: {action}" + (
        f" ({comment.strip()[:200]})" if comment.strip() else ""
    )
    audit(session, editor.actor, "change", now, detail)


def document_label(document: LibraryDocument, version: DocumentVersion | None) -> str:
    """How the history and the audit log name a document or one of its versions."""
    return f"{document.kind} {document.name}" + (f" v{version.number}" if version else "")


def _origin_note(origin: str, base: DocumentVersion | None) -> str:
    if base is not None:
        return f"version {base.number}"
    return {"library": "the shipped library", "upstream": "the newer shipped library"}.get(origin, origin)


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
