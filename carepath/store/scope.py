"""Tenancy in one place: who is asking, and which rows they may see.

Every service query that touches patient data goes through ``owned`` or ``visible_patients``;
nothing else filters by hospital. A medical alliance shares a patient only through an
explicit, logged ``PatientGrant`` (read-only for the grantee).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Select, Table, insert, or_, select
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store.models import AuditEntry, Patient, PatientGrant

S = TypeVar("S", bound=Select[Any])


class PregnancyNotFoundError(CarepathError):
    """No such pregnancy *for this actor* (another hospital's is not found, not forbidden)."""

    code = "pregnancy-not-found"


@dataclass(frozen=True)
class Actor:
    """An authenticated caller: an integrator (API key) or a staff member, of one hospital."""

    hospital_id: str
    kind: str  # "integrator" or "staff"
    id: str
    remote_addr: str | None = None

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.id}"


def owned(statement: S, model: Any, actor: Actor) -> S:
    """``statement`` limited to rows of the actor's own hospital (what they may change)."""
    return statement.where(model.hospital_id == actor.hospital_id)


def granted_patients(actor: Actor, now: datetime) -> Select[Any]:
    """Ids of the other hospitals' patients granted to the actor's hospital (and not revoked)."""
    return select(PatientGrant.patient_id).where(
        PatientGrant.grantee_hospital_id == actor.hospital_id,
        or_(PatientGrant.revoked_at.is_(None), PatientGrant.revoked_at > now),
    )


def visible_patients(actor: Actor, now: datetime) -> Select[Any]:
    """Patients the actor may read: their hospital's, and those granted to it."""
    granted = granted_patients(actor, now)
    return select(Patient).where(or_(Patient.hospital_id == actor.hospital_id, Patient.id.in_(granted)))


def audit_row(
    actor: Actor,
    action: str,
    now: datetime,
    detail: str,
    *,
    patient_id: int | None = None,
    pregnancy_id: str | None = None,
) -> dict[str, Any]:
    """One audit row's columns, each cut to its column's length (``audit``, ``audit_now`` and
    ``store/audit.py``'s rows written after a transaction all build it here)."""
    return {
        "hospital_id": actor.hospital_id,
        "actor": actor.label[:120],
        "action": action[:20],
        "patient_id": patient_id,
        "pregnancy_id": pregnancy_id,
        "detail": detail[:AUDIT_DETAIL_LIMIT],
        "remote_addr": (actor.remote_addr or "")[:64] or None,
        "at": now,
        "count": 1,
    }


#: The longest ``detail`` kept (the column is text; a refusal names a path, not a document).
AUDIT_DETAIL_LIMIT = 2000


def audit(
    session: Session,
    actor: Actor,
    action: str,
    now: datetime,
    detail: str,
    *,
    patient_id: int | None = None,
    pregnancy_id: str | None = None,
) -> None:
    """Record a read or change of patient data (kept at least six months)."""
    session.add(
        AuditEntry(**audit_row(actor, action, now, detail, patient_id=patient_id, pregnancy_id=pregnancy_id))
    )


def audit_now(
    session: Session,
    actor: Actor,
    action: str,
    now: datetime,
    detail: str,
    *,
    patient_id: int | None = None,
    pregnancy_id: str | None = None,
) -> None:
    """``audit``'s row, sent now as one Core INSERT built once instead of waiting for the flush
    (issue 22: an HIS event's only object for the unit of work; without it the commit has
    nothing to flush). The same row, in the same transaction."""
    row = audit_row(actor, action, now, detail, patient_id=patient_id, pregnancy_id=pregnancy_id)
    session.execute(_AUDIT_ROW, {**row, "fold_key": None})


_AUDIT_ROW = insert(cast(Table, AuditEntry.__table__))
