"""Drafting a hospital's library document: start a draft, save it, send it for review, take
it back.

A draft starts from the newest published version, or from the shipped text the first time
someone edits the document (its copy records that text's hash, see ``upstream.py``). A save
names the revision it was based on: a stale save is refused and its text handed back, nothing
lost. Only a draft without errors goes to review (``reviewing.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from carepath.store.authoring import (
    OPEN_STATUSES,
    DocumentNotFoundError,
    DraftConflictError,
    Editor,
    NotCompiledError,
    TooLargeError,
    WrongStatusError,
    current_published,
    document_label,
    document_of,
    find_document,
    get_version,
    lock_document,
    new_version,
    problems_of,
    record,
    versions_of,
)
from carepath.store.library_files import KINDS, MAX_SOURCE_BYTES, SHIPPED, Shipped, reset_review, text_hash
from carepath.store.models import DocumentVersion, LibraryDocument
from carepath.store.scope import audit


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
            f"{document_label(document, version)}: saved revision {version.revision}",
        )
    return version


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


def withdraw(session: Session, editor: Editor, version_id: int, *, now: datetime) -> DocumentVersion:
    """Take a version in review back to draft (to change it); its approvals no longer count."""
    version = get_version(session, editor.hospital_id, version_id, lock=True)
    if version.status != "in_review":
        raise WrongStatusError(f"version {version.number} is {version.status}, not in review")
    version.status = "draft"
    record(session, editor, document_of(session, version), version, "withdrawn", now=now)
    return version


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
