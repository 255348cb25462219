"""A newer shipped library against the hospital's own copies: listed, diffed, adopted or
dismissed; never applied silently.

A hospital's copy records the hash of the shipped text it started from (or last adopted).
When carepath ships a different text, the copy is listed with a unified diff from the
hospital's current text to the shipped one. ``adopt`` opens a draft with the shipped text,
which goes through review like any change; ``dismiss`` hides that shipped text (a later one
shows again).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carepath.store import authoring
from carepath.store.authoring import DocumentNotFoundError, DraftExistsError, Editor
from carepath.store.library_files import SHIPPED, Shipped, display_path, text_hash
from carepath.store.models import DocumentVersion, LibraryDocument


def yaml_diff(before: str, after: str, before_label: str, after_label: str) -> str:
    """A unified diff of two texts (``difflib``), the form reviewers read."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=before_label,
            tofile=after_label,
        )
    )


@dataclass(frozen=True)
class UpstreamChange:
    document_id: int
    kind: str
    name: str
    shipped_hash: str
    diff: str  # from the hospital's current text to the shipped one
    adopting: int | None  # the open draft adopting exactly this text, if any


def hospital_text(session: Session, document: LibraryDocument) -> tuple[str, str]:
    """The hospital's text of a document and its label: the current published version, else
    the open draft."""
    versions = authoring.versions_of(session, document.id)
    current = authoring.current_published(versions) or (versions[-1] if versions else None)
    if current is None:
        return "", "(empty)"
    return (
        current.source,
        f"{display_path(document.kind, document.name)} (v{current.number}, {current.status})",
    )


def changes(session: Session, hospital_id: str, shipped: Shipped = SHIPPED) -> list[UpstreamChange]:
    """The hospital's copies whose shipped text changed since they were copied or adopted."""
    found = []
    documents = session.scalars(
        select(LibraryDocument)
        .where(LibraryDocument.hospital_id == hospital_id, LibraryDocument.upstream_hash.is_not(None))
        .order_by(LibraryDocument.kind, LibraryDocument.name)
    )
    for document in documents:
        text = shipped.text(document.kind, document.name)
        if text is None:
            continue
        shipped_hash = text_hash(text)
        if shipped_hash in (document.upstream_hash, document.dismissed_hash):
            continue
        own, label = hospital_text(session, document)
        adopting = session.scalar(
            select(DocumentVersion.id).where(
                DocumentVersion.document_id == document.id,
                DocumentVersion.status.in_(authoring.OPEN_STATUSES),
                DocumentVersion.origin == "upstream",
                DocumentVersion.upstream_hash == shipped_hash,
            )
        )
        diff = yaml_diff(own, text, label, f"carepath {display_path(document.kind, document.name)}")
        found.append(UpstreamChange(document.id, document.kind, document.name, shipped_hash, diff, adopting))
    return found


def _change(
    session: Session, editor: Editor, document_id: int, shipped: Shipped
) -> tuple[LibraryDocument, str]:
    document = session.scalar(
        select(LibraryDocument).where(
            LibraryDocument.id == document_id, LibraryDocument.hospital_id == editor.hospital_id
        )
    )
    if document is None:
        raise DocumentNotFoundError(f"no document {document_id} in this hospital")
    text = shipped.text(document.kind, document.name)
    if text is None or text_hash(text) in (document.upstream_hash, document.dismissed_hash):
        raise DocumentNotFoundError("no newer shipped text for this document")
    return document, text


def adopt(
    session: Session, editor: Editor, document_id: int, *, now: datetime, shipped: Shipped = SHIPPED
) -> DocumentVersion:
    """A draft holding the newer shipped text; it is published only after review."""
    document, text = _change(session, editor, document_id, shipped)
    authoring.require_permission(editor, authoring.EDIT_PERMISSION[document.kind])
    authoring.lock_document(session, document)
    open_ = next(
        (v for v in authoring.versions_of(session, document.id) if v.status in authoring.OPEN_STATUSES), None
    )
    if open_ is not None:
        raise DraftExistsError(
            f"version {open_.number} is {open_.status}; finish it before adopting the shipped text", open_.id
        )
    base = authoring.current_published(authoring.versions_of(session, document.id))
    return authoring.new_version(
        session, editor, document, text, "upstream", now=now, base=base, upstream=text_hash(text)
    )


def dismiss(
    session: Session,
    editor: Editor,
    document_id: int,
    *,
    now: datetime,
    comment: str = "",
    shipped: Shipped = SHIPPED,
) -> LibraryDocument:
    """Keep the hospital's copy as it is; this shipped text is not offered again."""
    document, text = _change(session, editor, document_id, shipped)
    authoring.require_permission(editor, authoring.PUBLISH_PERMISSION[document.kind])
    document.dismissed_hash = text_hash(text)
    authoring.record(session, editor, document, None, "upstream-dismissed", now=now, comment=comment)
    return document


def version_diff(session: Session, hospital_id: str, before_id: int, after_id: int) -> str:
    """The diff between two versions of the hospital's documents."""
    before = authoring.get_version(session, hospital_id, before_id)
    after = authoring.get_version(session, hospital_id, after_id)
    document = authoring.document_of(session, after)
    path = display_path(document.kind, document.name)
    return yaml_diff(before.source, after.source, f"{path} v{before.number}", f"{path} v{after.number}")


def review_diff(session: Session, hospital_id: str, version_id: int, shipped: Shipped = SHIPPED) -> str:
    """What a reviewer reads: the version against what it started from (the version it was
    based on, else the shipped text)."""
    version = authoring.get_version(session, hospital_id, version_id)
    document = authoring.document_of(session, version)
    path = display_path(document.kind, document.name)
    if version.based_on_id is not None:
        base = authoring.get_version(session, hospital_id, version.based_on_id)
        before, label = base.source, f"{path} v{base.number}"
    else:
        before, label = shipped.text(document.kind, document.name) or "", f"carepath {path}"
    return yaml_diff(before, version.source, label, f"{path} v{version.number}")
