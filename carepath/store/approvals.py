"""Approved content only: which content items and forms a hospital may send, the content
version a row sends, and what a deployment still needs approved.

An item's approval lives in the ``review:`` field of the text the hospital sends: its own
current published version (publishing writes the real reviewers in, ``review: {status:
approved, by, at}``), else the shipped file (``carepath/content``, ``carepath/forms``: all
``review: {status: draft}`` until a clinician approves them). An item that does not exist is
not approved. The **content version** is the SHA-256 of that text — the ``source_hash`` of
the hospital's published version, or of the shipped file — so a row's ``content_version``
names exactly the text filed in her inbox and summarised externally.

Production sends only approved items; a hospital whose settings allow drafts (the demo) sends
the rest too. The dispatcher asks ``gate`` before every decision; ``held_content.py`` keeps
the rows it holds.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from carepath.engine.content import parse_content_item
from carepath.engine.forms import parse_form
from carepath.errors import CompileError
from carepath.store import held_content
from carepath.store.db import Database
from carepath.store.library_files import SHIPPED, text_hash
from carepath.store.models import DocumentVersion, Hospital, LibraryDocument, OutboxRow
from carepath.store.outbox_batch import BatchRow
from carepath.store.pathways import library_for

#: An outbox row of the ORM or of a dispatcher's batch (``outbox_batch.py``).
R = TypeVar("R", OutboxRow, BatchRow)

log = logging.getLogger(__name__)

#: Actions whose rows the dispatcher delivers to her (a task's form is the nurse's).
TO_HER = frozenset({"push", "questionnaire", "remind"})
#: Held rows the re-check reads per transaction.
RECHECK_PAGE = 500


@dataclass(frozen=True)
class ItemVersion:
    """One content item or form as a hospital sends it: its version (None: no such item)
    and whether a reviewer approved it."""

    kind: str
    name: str
    version: str | None
    approved: bool


def review_status(kind: str, text: str, name: str) -> str:
    """The ``review.status`` of a content item's or form's text (``draft`` when unreadable)."""
    try:
        if kind == "content":
            return parse_content_item(text, f"{name}.md").review_status
        return parse_form(text, f"{name}.yaml").review_status
    except CompileError:
        return "draft"


@functools.cache
def _shipped(kind: str, name: str) -> ItemVersion:
    text = SHIPPED.text(kind, name)
    if text is None:
        return ItemVersion(kind, name, None, False)
    return ItemVersion(kind, name, text_hash(text), review_status(kind, text, name) == "approved")


@functools.lru_cache(maxsize=4096)
def _own(kind: str, name: str, version: str, text: str) -> ItemVersion:
    return ItemVersion(kind, name, version, review_status(kind, text, name) == "approved")


def referenced(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(kind, name) of the library documents an outbox row's params name."""
    # A form named by the event (``{event_field: …}``, issue 16 item 3) is known only per row.
    return [
        (kind, str(params[key]))
        for key, kind in held_content.REFERENCES
        if params.get(key) and not isinstance(params[key], Mapping)
    ]


class Approvals:
    """One hospital's items as it sends them; ``signature`` changes when any of its own
    published versions does."""

    def __init__(self, own: Mapping[tuple[str, str], ItemVersion], signature: tuple[Any, ...]) -> None:
        self.own = own
        self.signature = signature

    def of(self, kind: str, name: str) -> ItemVersion:
        return self.own.get((kind, name)) or _shipped(kind, name)

    def unapproved(self, params: Mapping[str, Any]) -> list[ItemVersion]:
        return [item for item in (self.of(k, n) for k, n in referenced(params)) if not item.approved]

    def version_sent(self, params: Mapping[str, Any]) -> str | None:
        """The content version of a row: its content item's, else its form's."""
        refs = referenced(params)
        return self.of(*refs[0]).version if refs else None


_cache: dict[tuple[str, str], Approvals] = {}
_cache_lock = threading.Lock()


def approvals(session: Session, hospital_id: str) -> Approvals:
    """The hospital's view of every content item and form: one light query (no texts) while
    its published versions are unchanged, the texts read and parsed only when they change."""
    rows = session.execute(
        select(
            LibraryDocument.kind,
            LibraryDocument.name,
            DocumentVersion.id,
            DocumentVersion.source_hash,
            DocumentVersion.published_at,
            DocumentVersion.created_at,
            DocumentVersion.number,
        )
        .join(LibraryDocument, LibraryDocument.id == DocumentVersion.document_id)
        .where(
            DocumentVersion.hospital_id == hospital_id,
            DocumentVersion.status == "published",
            LibraryDocument.kind.in_(("content", "form")),
        )
    ).all()
    current: dict[tuple[str, str], Any] = {}
    for row in rows:  # the newest published version is current (as ``authoring.current_published``)
        key = (row.kind, row.name)
        rank = (row.published_at or row.created_at, row.number)
        if key not in current or rank > current[key][0]:
            current[key] = (rank, row)
    signature = tuple(sorted((kind, name, row.source_hash) for (kind, name), (_, row) in current.items()))
    cache_key = (str(session.get_bind().engine.url), hospital_id)
    with _cache_lock:
        cached = _cache.get(cache_key)
    if cached is not None and cached.signature == signature:
        return cached
    texts = dict(
        session.execute(
            select(DocumentVersion.id, DocumentVersion.source).where(
                DocumentVersion.id.in_([row.id for _, row in current.values()])
            )
        ).all()
    )
    own = {
        (kind, name): _own(kind, name, row.source_hash, texts[row.id])
        for (kind, name), (_, row) in current.items()
    }
    found = Approvals(own, signature)
    with _cache_lock:
        _cache[cache_key] = found
    return found


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _rechecked.clear()


def gate(
    rows: Iterable[R], found: Approvals, *, drafts_allowed: bool, now: datetime
) -> tuple[list[R], dict[str, str | None], int, frozenset[str]]:
    """Split a claimed batch of one hospital: (rows to decide, dedupe key -> the content
    version each would send, how many were held, the dedupe keys that send the hospital's
    emergency notice instead of their content). A row whose inbox copy was filed already (a
    retry) went through the gate then and is not held now.

    An *urgent* row (``urgent: true``: safety advice, issue 17 item 1) whose item is not
    approved is never held: she is sent the hospital's emergency notice in its place — never
    nothing (``delivery/emergency_notice.py`` words it)."""
    kept: list[R] = []
    versions: dict[str, str | None] = {}
    notices: set[str] = set()
    held = 0
    for row in rows:
        params = row.params if isinstance(row.params, dict) else {}
        if row.inbox_item_id is None and not drafts_allowed and found.unapproved(params):
            if params.get("urgent") is True:
                kept.append(row)
                versions[row.dedupe_key] = None
                notices.add(row.dedupe_key)
                continue
            held_content.hold(row, now)
            held += 1
            continue
        kept.append(row)
        versions[row.dedupe_key] = found.version_sent(params)
    return kept, versions, held, frozenset(notices)


#: (database, hospital) -> the (signature, drafts allowed) its held rows were last checked at.
_rechecked: dict[tuple[str, str], tuple[tuple[Any, ...], bool]] = {}


def recheck_held(db: Database, now: datetime, drafts_allowed: Callable[[Session, str], bool]) -> int:
    """Release held rows whose items are approved now, or that drafts now let through — those
    an approval in the editor did not release already (a newer shipped library, a setting
    changed in another process). Looks at a hospital's held rows, in pages, only when its
    approvals or its drafts setting changed since this process last did; returns how many."""
    url = str(db.engine.url)
    changed: list[tuple[str, Approvals, bool]] = []
    with db.reading() as session:  # one short transaction for every hospital's signature
        for hospital_id in session.scalars(select(Hospital.id).order_by(Hospital.id)):
            found, drafts = approvals(session, hospital_id), drafts_allowed(session, hospital_id)
            with _cache_lock:
                seen = _rechecked.get((url, hospital_id))
            if seen != (found.signature, drafts):
                changed.append((hospital_id, found, drafts))
    released = 0
    for hospital_id, found, drafts in changed:
        if drafts:
            with db.transaction() as session:
                released += held_content.release(session, hospital_id, now)
        else:
            released += _release_approved(db, hospital_id, found, now)
        with _cache_lock:
            _rechecked[(url, hospital_id)] = (found.signature, drafts)
    if released:
        log.info("released %s held row(s): their content is approved now", released)
    return released


def _release_approved(db: Database, hospital_id: str, found: Approvals, now: datetime) -> int:
    released, after = 0, 0
    while True:
        with db.transaction() as session:
            page = session.execute(
                select(OutboxRow.id, OutboxRow.params)
                .where(
                    OutboxRow.hospital_id == hospital_id,
                    OutboxRow.status == held_content.HELD,
                    OutboxRow.id > after,
                )
                .order_by(OutboxRow.id)
                .limit(RECHECK_PAGE)
            ).all()
            if not page:
                return released
            after = page[-1].id
            ready = [row.id for row in page if not found.unapproved(row.params or {})]
            released += held_content.release_ids(session, ready, now)


@dataclass(frozen=True)
class Unapproved:
    """An item the hospital's current pathways send that no reviewer approved."""

    kind: str
    name: str
    exists: bool
    used_by: tuple[str, ...]  # "pathway/rule"


def go_live(session: Session, hospital_id: str) -> list[Unapproved]:
    """The content items and forms the hospital's current pathways send to her that are not
    approved (or do not exist), with the rules that send them."""
    found = approvals(session, hospital_id)
    uses: dict[tuple[str, str], set[str]] = {}
    for pathway in library_for(session, hospital_id, fresh=True).current.values():
        for rule in pathway.rules:
            for action in rule.actions:
                if action.kind in TO_HER:
                    for ref in referenced(action.params):
                        uses.setdefault(ref, set()).add(f"{pathway.id}/{rule.id}")
    missing = []
    for (kind, name), rules in sorted(uses.items()):
        item = found.of(kind, name)
        if not item.approved:
            missing.append(Unapproved(kind, name, item.version is not None, tuple(sorted(rules))))
    return missing
