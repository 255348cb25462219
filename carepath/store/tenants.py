"""Hospitals, integrators and their API keys.

An API key is a public key id (``ck_...``) and a secret. The secret is needed to verify each
signature, so it is stored sealed with the field cipher (never hashed) and shown once, when
created. A revoked key stops working at once in the process that revoked it and
within ``KEY_CACHE_SECONDS`` (5 s) in every other.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.models import ApiKey, Hospital, Integrator


class UnknownHospitalError(CarepathError):
    code = "unknown-hospital"


@dataclass(frozen=True)
class NewKey:
    key_id: str
    secret: str
    hospital_id: str
    integrator: str


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    secret: str
    hospital_id: str
    integrator_id: int
    revoked: bool


def ensure_hospital(session: Session, hospital_id: str, name: str, now: datetime) -> Hospital:
    hospital = session.get(Hospital, hospital_id)
    if hospital is None:
        hospital = Hospital(id=hospital_id, name=name, created_at=now)
        session.add(hospital)
        session.flush()
    return hospital


def create_api_key(
    session: Session, cipher: FieldCipher, hospital_id: str, integrator: str, now: datetime
) -> NewKey:
    """A new key for ``integrator`` of ``hospital_id`` (created if new); the secret is returned once."""
    if session.get(Hospital, hospital_id) is None:
        raise UnknownHospitalError(f"no hospital {hospital_id!r}; create it first")
    row = session.scalar(
        select(Integrator).where(Integrator.hospital_id == hospital_id, Integrator.name == integrator)
    )
    if row is None:
        row = Integrator(hospital_id=hospital_id, name=integrator)
        session.add(row)
        session.flush()
    key_id = "ck_" + secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    session.add(
        ApiKey(
            id=key_id,
            integrator_id=row.id,
            hospital_id=hospital_id,
            secret_sealed=cipher.seal(secret),
            created_at=now,
            revoked_at=None,
        )
    )
    return NewKey(key_id, secret, hospital_id, integrator)


def revoke_api_key(session: Session, key_id: str, now: datetime) -> bool:
    key = session.get(ApiKey, key_id)
    if key is None:
        return False
    key.revoked_at = now
    forget_key(key_id)
    return True


#: Seconds a verified key is remembered per process: a revocation reaches every other
#: worker within this time (at once in the process that revoked it).
KEY_CACHE_SECONDS = 5.0
_known: dict[str, tuple[float, KeyInfo]] = {}
_known_lock = threading.Lock()


def forget_key(key_id: str | None = None) -> None:
    with _known_lock:
        if key_id is None:
            _known.clear()
        else:
            _known.pop(key_id, None)


def cached_key_info(db: Database, cipher: FieldCipher, key_id: str) -> KeyInfo | None:
    """``key_info`` remembered for ``KEY_CACHE_SECONDS`` (saves a transaction per request)."""
    with _known_lock:
        known = _known.get(key_id)
    if known is not None and time.monotonic() - known[0] < KEY_CACHE_SECONDS:
        return known[1]
    with db.reading() as session:
        info = key_info(session, cipher, key_id)
    if info is not None:
        with _known_lock:
            _known[key_id] = (time.monotonic(), info)
    return info


def key_info(session: Session, cipher: FieldCipher, key_id: str) -> KeyInfo | None:
    key = session.get(ApiKey, key_id)
    if key is None:
        return None
    return KeyInfo(
        key.id, cipher.open(key.secret_sealed), key.hospital_id, key.integrator_id, key.revoked_at is not None
    )
