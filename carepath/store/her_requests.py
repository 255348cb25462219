"""Her requests about her data (PIPL art. 47 deletion, art. 46 correction), and their handling.

She asks from her data page (我的数据, ``webapi/h5/my_data.py``): ``submit`` records a request
as ``received`` with her words (sealed) and the hospital's retention notice as she was shown
it. The hospital decides: issue 21's staff queue (permission ``deletion.handle``) lists what is
open (``list_open``), takes one up (``start_review``: ``in_review``) and records the decision
(``decide``: ``done`` or ``refused``, with the reply she reads, who decided and when). Nothing
here deletes anything: what may be deleted, and what the law makes the hospital keep (medical
records), is the hospital's legal decision, made by a person; this module keeps the record of
the request and of that decision.

A second identical request while one is open is the same request (``created`` False): one open
deletion request per woman (asking twice to delete is one ask), and one open correction per
distinct text. The unique ``open_key`` makes that hold under concurrency on both databases.

Every function is one transaction and audits what it reads or changes: her own reads as
``patient:<id>``, staff's as the staff actor.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store import hospital_settings
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.models import Patient
from carepath.store.models_requests import HerRequest
from carepath.store.scope import Actor, audit

KINDS = ("deletion", "correction")
STATUSES = ("received", "in_review", "done", "refused")
OPEN = ("received", "in_review")
DECIDED = ("done", "refused")
KIND_ZH = {"deletion": "删除我的个人信息", "correction": "更正我的个人信息"}
STATUS_ZH = {"received": "已收到", "in_review": "处理中", "done": "已办理", "refused": "未予办理"}
#: The longest text she may write, and the longest reply staff may record.
TEXT_LIMIT = 1000
DECISION_LIMIT = 2000

#: What her page says when the hospital has set no ``retention_notice`` of its own: a draft
#: that names no legal period (how long records are kept is for the hospital to state).
DEFAULT_RETENTION_NOTICE = (
    "医院会按照法律法规的要求保存您的病历等医疗记录，这部分信息在保存期限内不能删除。"
    "其他信息，医院会在核实后依法处理。我们会在处理完成后在本页面答复您；如有疑问，请联系医院。"
)


class HerRequestError(CarepathError):
    """A request that cannot be recorded or decided; ``code`` is stable:
    ``bad-kind``, ``too-long``, ``no-text``, ``not-open``, ``bad-outcome``, ``no-decision``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class HerRequestNotFoundError(CarepathError):
    """No such request for this woman or hospital (another's is not found, not forbidden)."""

    code = "request-not-found"


@dataclass(frozen=True)
class RequestView:
    id: int
    patient_id: int
    kind: str
    status: str
    text: str
    retention_notice: str
    received_at: datetime
    review_started_at: datetime | None
    decision: str | None
    decided_by: str | None
    decided_at: datetime | None

    @property
    def kind_zh(self) -> str:
        return KIND_ZH.get(self.kind, self.kind)

    @property
    def status_zh(self) -> str:
        return STATUS_ZH.get(self.status, self.status)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def as_json(self) -> dict[str, Any]:
        """As her download carries it (``decided_by`` names staff by actor label only)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "kind_zh": self.kind_zh,
            "status": self.status,
            "status_zh": self.status_zh,
            "text": self.text,
            "retention_notice": self.retention_notice,
            "received_at": self.received_at.isoformat(),
            "decision": self.decision,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
        }


def retention_notice(source: Session | Database, hospital_id: str) -> str:
    """The hospital's retention text (its setting), else the draft default."""
    configured = hospital_settings.current(source, hospital_id).retention_notice
    return configured or DEFAULT_RETENTION_NOTICE


def view(cipher: FieldCipher, row: HerRequest) -> RequestView:
    """The request as the pages read it (her words opened)."""
    return RequestView(
        id=row.id,
        patient_id=row.patient_id,
        kind=row.kind,
        status=row.status,
        text=cipher.open(row.text_sealed) if row.text_sealed else "",
        retention_notice=row.retention_notice,
        received_at=row.received_at,
        review_started_at=row.review_started_at,
        decision=row.decision,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


def _normalised(text: str) -> str:
    return " ".join((text or "").split())


def _open_key(patient_id: int, kind: str, text: str) -> str:
    if kind == "deletion":
        return f"{patient_id}:deletion"
    digest = hashlib.sha256(_normalised(text).encode("utf-8")).hexdigest()
    return f"{patient_id}:{kind}:{digest}"


def check(kind: str, text: str) -> str:
    """Her request's text, checked (``HerRequestError``); a correction must say what."""
    if kind not in KINDS:
        raise HerRequestError("bad-kind", f"kind must be one of {', '.join(KINDS)}")
    cleaned = (text or "").strip()
    if len(cleaned) > TEXT_LIMIT:
        raise HerRequestError("too-long", f"at most {TEXT_LIMIT} characters")
    if kind == "correction" and not cleaned:
        raise HerRequestError("no-text", "a correction says what is wrong")
    return cleaned


def submit(
    db: Database,
    cipher: FieldCipher,
    *,
    hospital_id: str,
    patient_id: int,
    kind: str,
    text: str,
    now: datetime,
    remote_addr: str | None = None,
) -> tuple[RequestView, bool]:
    """Record her request; (the request, True when it is new). The same request while one is
    open answers that one (False), without a second row."""
    cleaned = check(kind, text)
    key = _open_key(patient_id, kind, cleaned)
    actor = Actor(hospital_id, "patient", str(patient_id), remote_addr)
    existing = _open_with_key(db, cipher, hospital_id, key)
    if existing is not None:
        return existing, False
    try:
        with db.transaction() as session:
            patient = session.get(Patient, patient_id)
            if patient is None or patient.hospital_id != hospital_id:
                raise HerRequestNotFoundError(f"no patient {patient_id} in hospital {hospital_id}")
            row = HerRequest(
                hospital_id=hospital_id,
                patient_id=patient_id,
                kind=kind,
                status="received",
                text_sealed=cipher.seal(cleaned) if cleaned else None,
                retention_notice=retention_notice(session, hospital_id),
                open_key=key,
                received_at=now,
                remote_addr=(remote_addr or "")[:64] or None,
            )
            session.add(row)
            session.flush()
            audit(
                session, actor, "change", now, f"her request {row.id}: {kind} received", patient_id=patient_id
            )
            return view(cipher, row), True
    except IntegrityError:  # the same request, committed a moment ago by another tab
        existing = _open_with_key(db, cipher, hospital_id, key)
        if existing is None:
            raise
        return existing, False


def _open_with_key(db: Database, cipher: FieldCipher, hospital_id: str, key: str) -> RequestView | None:
    with db.reading() as session:
        row = session.scalar(
            select(HerRequest).where(HerRequest.hospital_id == hospital_id, HerRequest.open_key == key)
        )
        return view(cipher, row) if row is not None else None


def for_patient(
    session: Session, cipher: FieldCipher, hospital_id: str, patient_id: int
) -> list[RequestView]:
    """Her requests, newest first, in the caller's transaction (not audited: the caller is)."""
    rows = session.scalars(
        select(HerRequest)
        .where(HerRequest.hospital_id == hospital_id, HerRequest.patient_id == patient_id)
        .order_by(HerRequest.received_at.desc(), HerRequest.id.desc())
    )
    return [view(cipher, row) for row in rows]


def list_for_patient(
    db: Database, cipher: FieldCipher, hospital_id: str, patient_id: int, now: datetime
) -> list[RequestView]:
    """Her requests, newest first; her read is audited."""
    actor = Actor(hospital_id, "patient", str(patient_id))
    with db.transaction() as session:
        found = for_patient(session, cipher, hospital_id, patient_id)
        audit(session, actor, "list", now, f"her requests: {len(found)}", patient_id=patient_id)
        return found


def get_for_patient(
    db: Database, cipher: FieldCipher, hospital_id: str, patient_id: int, *, request_id: int, now: datetime
) -> RequestView:
    """One request of hers (another woman's is ``HerRequestNotFoundError``); audited."""
    actor = Actor(hospital_id, "patient", str(patient_id))
    with db.transaction() as session:
        row = session.scalar(
            select(HerRequest).where(
                HerRequest.id == request_id,
                HerRequest.hospital_id == hospital_id,
                HerRequest.patient_id == patient_id,
            )
        )
        if row is None:
            raise HerRequestNotFoundError(f"no request {request_id} of patient {patient_id}")
        audit(session, actor, "read", now, f"her request {row.id}", patient_id=patient_id)
        return view(cipher, row)


# --- the staff side (issue 21's queue builds its pages on these) --------------------------------


def list_open(db: Database, cipher: FieldCipher, actor: Actor, now: datetime) -> list[RequestView]:
    """The actor's hospital's open requests (received or in review), oldest first; one audit
    entry per woman listed. The caller checks ``deletion.handle``."""
    with db.transaction() as session:
        rows = list(
            session.scalars(
                select(HerRequest)
                .where(HerRequest.hospital_id == actor.hospital_id, HerRequest.status.in_(OPEN))
                .order_by(HerRequest.received_at, HerRequest.id)
            )
        )
        for patient_id in sorted({row.patient_id for row in rows}):
            audit(session, actor, "list", now, "open requests about her data", patient_id=patient_id)
        return [view(cipher, row) for row in rows]


def staff_row(session: Session, actor: Actor, request_id: int) -> HerRequest:
    """The request of the actor's hospital, locked for its decision (another's is not found)."""
    row = session.scalar(
        select(HerRequest)
        .where(HerRequest.id == request_id, HerRequest.hospital_id == actor.hospital_id)
        .with_for_update()
    )
    if row is None:
        raise HerRequestNotFoundError(f"no request {request_id} in hospital {actor.hospital_id}")
    return row


def start_review(
    db: Database, cipher: FieldCipher, actor: Actor, request_id: int, now: datetime
) -> RequestView:
    """A member of staff takes a received request up (``in_review``); again is harmless."""
    with db.transaction() as session:
        row = staff_row(session, actor, request_id)
        if row.status not in OPEN:
            raise HerRequestError("not-open", f"request {request_id} was decided already ({row.status})")
        if row.status == "received":
            row.status, row.review_started_at, row.review_started_by = "in_review", now, actor.label
            audit(
                session, actor, "change", now, f"her request {row.id}: in review", patient_id=row.patient_id
            )
        session.flush()
        return view(cipher, row)


def checked_decision(outcome: str, decision: str) -> str:
    """The reply she reads, checked with its outcome (``HerRequestError``)."""
    if outcome not in DECIDED:
        raise HerRequestError("bad-outcome", f"outcome must be one of {', '.join(DECIDED)}")
    reply = (decision or "").strip()
    if not reply:
        raise HerRequestError("no-decision", "a decision says why, in words she reads")
    if len(reply) > DECISION_LIMIT:
        raise HerRequestError("too-long", f"at most {DECISION_LIMIT} characters")
    return reply


def decide(
    db: Database,
    cipher: FieldCipher,
    actor: Actor,
    request_id: int,
    *,
    outcome: str,
    decision: str,
    now: datetime,
) -> RequestView:
    """Record the hospital's decision on an open request: ``outcome`` ``done`` or ``refused``,
    ``decision`` the reply she reads (why, and what was kept: required). The request closes
    (a new identical one may be made after). Deleting or correcting the data itself is done
    by the staff's own tools; this records that it was decided, by whom and when."""
    reply = checked_decision(outcome, decision)
    with db.transaction() as session:
        row = staff_row(session, actor, request_id)
        if row.status not in OPEN:
            raise HerRequestError("not-open", f"request {request_id} was decided already ({row.status})")
        if row.review_started_at is None:
            row.review_started_at, row.review_started_by = now, actor.label
        row.status, row.decision, row.decided_by, row.decided_at = outcome, reply, actor.label, now
        row.open_key = None
        audit(session, actor, "change", now, f"her request {row.id}: {outcome}", patient_id=row.patient_id)
        session.flush()
        return view(cipher, row)
