"""Her sessions: started when she proves who she is, checked on every page of hers, ended at
sign-out or when idle.

A session is a ``patient_sessions`` row (``models_sign_in.py``) keyed by the SHA-256 of a
random token; the token travels only in her cookie. A row rather than a signed cookie alone,
so that signing out (or staff ending her sessions) takes effect at once in every process and
the idle limit is the server's, not the browser's. Each public function is one transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from carepath.store.db import Database
from carepath.store.models import Patient, Pregnancy
from carepath.store.models_sign_in import PatientSession
from carepath.store.scope import Actor, audit

#: How she proved who she is.
HOW = ("wechat", "sms", "registration", "demo")
#: ``last_seen_at`` is written at most this often (a page view is not a write each time).
TOUCH_EVERY = timedelta(minutes=1)
#: Pregnancy statuses that are no longer "her current pregnancy" (a loss, a closed record;
#: "delivered" stays current: her postpartum care goes on).
ENDED = ("ended",)


@dataclass(frozen=True)
class SessionLimits:
    """``idle``: since her last page; ``absolute``: since she signed in."""

    idle: timedelta = timedelta(days=7)
    absolute: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class PatientIdentity:
    """Who is signed in: her patient id, her hospital, her current pregnancy (None: none on
    record or the last one ended) and how she signed in."""

    patient_id: int
    hospital_id: str
    pregnancy_id: str | None
    how: str

    def actor(self, remote_addr: str | None = None) -> Actor:
        """The audit log's name for her: ``patient:<id>``."""
        return Actor(self.hospital_id, "patient", str(self.patient_id), remote_addr)


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def current_pregnancy(session: Session, patient_id: int) -> str | None:
    """Her latest pregnancy unless it ended (a loss, a closed record): then None."""
    row = session.execute(
        select(Pregnancy.id, Pregnancy.status)
        .where(Pregnancy.patient_id == patient_id)
        .order_by(Pregnancy.number.desc(), Pregnancy.created_at.desc())
        .limit(1)
    ).first()
    if row is None or row.status in ENDED:
        return None
    return str(row.id)


def start(
    db: Database,
    patient_id: int,
    hospital_id: str,
    how: str,
    now: datetime,
    *,
    remote_addr: str | None = None,
) -> str:
    """A new session for her; the token for her cookie. Refuses a patient of another
    hospital (``ValueError``: a bug in the caller, never her input). Audited as a login."""
    return started(db, patient_id, hospital_id, how, now, remote_addr=remote_addr)[0]


def started(
    db: Database,
    patient_id: int,
    hospital_id: str,
    how: str,
    now: datetime,
    *,
    remote_addr: str | None = None,
) -> tuple[str, PatientIdentity]:
    """``start``, with who the new session is (as ``check`` would say, in the same
    transaction: signing her in reads nothing back)."""
    if how not in HOW:
        raise ValueError(f"how must be one of {HOW}")
    token = secrets.token_urlsafe(32)
    with db.transaction() as session:
        patient = session.get(Patient, patient_id)
        if patient is None or patient.hospital_id != hospital_id:
            raise ValueError(f"no patient {patient_id} in hospital {hospital_id}")
        session.add(
            PatientSession(
                id=token_id(token),
                hospital_id=hospital_id,
                patient_id=patient_id,
                how=how,
                created_at=now,
                last_seen_at=now,
                remote_addr=(remote_addr or "")[:64] or None,
            )
        )
        actor = Actor(hospital_id, "patient", str(patient_id), remote_addr)
        audit(session, actor, "login", now, f"her sign-in ({how})", patient_id=patient_id)
        pregnancy = current_pregnancy(session, patient_id)
    return token, PatientIdentity(patient_id, hospital_id, pregnancy, how)


def check(
    db: Database, token: str, now: datetime, limits: SessionLimits | None = None
) -> PatientIdentity | None:
    """Who the token's session is, or None (unknown, idle too long, too old: the row goes)."""
    limits = limits or SessionLimits()
    with db.transaction() as session:
        row = session.get(PatientSession, token_id(token))
        if row is None:
            return None
        if row.last_seen_at + limits.idle < now or row.created_at + limits.absolute < now:
            session.delete(row)
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
        pregnancy = current_pregnancy(session, row.patient_id)
        return PatientIdentity(row.patient_id, row.hospital_id, pregnancy, row.how)


def end(db: Database, token: str, now: datetime, remote_addr: str | None = None) -> None:
    """Sign-out: the session's row goes (idempotent); audited when there was one."""
    with db.transaction() as session:
        row = session.get(PatientSession, token_id(token))
        if row is None:
            return
        session.delete(row)
        actor = Actor(row.hospital_id, "patient", str(row.patient_id), remote_addr)
        audit(session, actor, "logout", now, "her sign-out", patient_id=row.patient_id)


def end_all(db: Database, hospital_id: str, patient_id: int) -> int:
    """End every session of hers (staff found her account misused); the number ended."""
    with db.transaction() as session:
        result = session.execute(
            delete(PatientSession).where(
                PatientSession.patient_id == patient_id, PatientSession.hospital_id == hospital_id
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
