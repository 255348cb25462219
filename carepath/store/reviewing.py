"""Reviewing a hospital's library document: the hospital's review policy, and approving or
rejecting a version in review.

Reviewers are never the author; the hospital's ``ReviewPolicy`` says how many approvals and
which roles. A rejection needs a comment and sends the version back to draft. (Which content
delivery may send, given what was approved and published, is ``approvals.py``.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carepath.store.authoring import (
    REVIEW_PERMISSION,
    AlreadyReviewedError,
    AuthoringError,
    BadPolicyError,
    Editor,
    NotAllowedError,
    OwnChangeError,
    WrongStatusError,
    document_of,
    get_version,
    record,
)
from carepath.store.models import DocumentReview, DocumentVersion, LibraryDocument, ReviewPolicy
from carepath.store.scope import audit

DEFAULT_APPROVALS = 1
DEFAULT_REVIEW_ROLES = ("reviewer", "doctor")


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


def in_review(session: Session, hospital_id: str) -> list[tuple[LibraryDocument, DocumentVersion]]:
    rows = session.execute(
        select(LibraryDocument, DocumentVersion)
        .join(DocumentVersion, DocumentVersion.document_id == LibraryDocument.id)
        .where(DocumentVersion.hospital_id == hospital_id, DocumentVersion.status == "in_review")
        .order_by(DocumentVersion.submitted_at)
    ).all()
    return [(d, v) for d, v in rows]


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


def _require_reviewer(session: Session, editor: Editor, kind: str) -> None:
    permission = REVIEW_PERMISSION[kind]
    if permission not in editor.permissions:
        raise NotAllowedError(f"reviewing needs the {permission} permission")
    policy = policy_of(session, editor.hospital_id)
    if not editor.roles & set(policy.roles):
        raise NotAllowedError(f"this hospital's reviewers have one of the roles {', '.join(policy.roles)}")
