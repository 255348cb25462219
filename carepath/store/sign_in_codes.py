"""One-time SMS codes she signs in with outside WeChat: issued, rate-limited, checked.

A code is 6 random digits (``secrets``), alive 5 minutes, 5 wrong tries at most. It is stored
as ``HMAC-SHA256(lookup key, "sign-in-code:<salt>:<code>")`` with a random salt per row, never in
clear: a copy of the database alone does not give a live code (the key is not in it). Not
argon2: with a million possible codes a slow hash adds nothing once the key is known, and
the real defence is the 5 tries and the 5 minutes; HMAC keeps the check cheap.

Rate limits (``CodeLimits``): one code per phone a minute, ``per_phone`` an hour, and
``per_address`` an hour from one address (someone walking through numbers), counted on the
rows themselves. A new code for a phone spends the older ones. Codes are sent to any mainland
mobile number, registered or not: only the phone's owner learns whether it is registered
(after the code), so the page never reveals it to someone typing numbers.

Each public function is one transaction.
"""

from __future__ import annotations

import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.models import ChannelBinding, Patient
from carepath.store.models_sign_in import SignInCode

#: A mainland mobile number: 11 digits from 13x to 19x (a +86, 86 or 0086 prefix is dropped).
MOBILE = re.compile(r"1[3-9]\d{9}")
DIGITS = 6


@dataclass(frozen=True)
class CodeLimits:
    life: timedelta = timedelta(minutes=5)
    tries: int = 5
    resend_after: timedelta = timedelta(seconds=60)
    per_phone: int = 5  # codes an hour to one phone
    per_address: int = 20  # codes an hour from one address
    window: timedelta = timedelta(hours=1)


class SignInCodeError(CarepathError):
    """Why a code is refused: ``code`` is one of ``bad-phone``, ``rate-limited``, ``no-code``,
    ``wrong-code`` (``remaining`` tries left), ``expired``, ``too-many-tries``."""

    def __init__(self, code: str, message: str, *, remaining: int = 0, retry_after: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.remaining = remaining
        self.retry_after = retry_after


def mainland_mobile(text: str) -> str | None:
    """Her number as 11 digits, or None when it is not a mainland mobile number."""
    plain = re.sub(r"[\s\-()]", "", text or "")
    for prefix in ("+86", "0086", "86"):
        if plain.startswith(prefix) and len(plain) == len(prefix) + 11:
            plain = plain[len(prefix) :]
            break
    return plain if MOBILE.fullmatch(plain) else None


def phone_hash(cipher: FieldCipher, phone: str) -> str:
    return cipher.lookup_hash("phone", phone)


def _code_hash(cipher: FieldCipher, salt: str, code: str) -> str:
    return cipher.lookup_hash("sign-in-code", f"{salt}:{code}")


def issue(
    db: Database,
    cipher: FieldCipher,
    hospital_id: str,
    phone: str,
    now: datetime,
    *,
    remote_addr: str | None = None,
    limits: CodeLimits | None = None,
) -> str:
    """A new code for ``phone`` (11 digits, checked by the caller with ``mainland_mobile``);
    the code, to be sent by SMS. Raises ``SignInCodeError`` (``rate-limited``)."""
    limits = limits or CodeLimits()
    digest = phone_hash(cipher, phone)
    address = (remote_addr or "")[:64] or None
    with db.transaction() as session:
        since = now - limits.window
        recent = session.scalars(
            select(SignInCode.created_at)
            .where(SignInCode.phone_hash == digest, SignInCode.created_at > since)
            .order_by(SignInCode.created_at.desc())
        ).all()
        if recent and recent[0] + limits.resend_after > now:
            wait = math.ceil((recent[0] + limits.resend_after - now).total_seconds())
            raise SignInCodeError(
                "rate-limited", "a code was sent to this phone a moment ago", retry_after=wait
            )
        if len(recent) >= limits.per_phone:
            wait = math.ceil((min(recent) + limits.window - now).total_seconds())
            raise SignInCodeError("rate-limited", "too many codes to this phone this hour", retry_after=wait)
        if address is not None:
            from_here = session.scalar(
                select(func.count())
                .select_from(SignInCode)
                .where(SignInCode.remote_addr == address, SignInCode.created_at > since)
            )
            if (from_here or 0) >= limits.per_address:
                raise SignInCodeError(
                    "rate-limited", "too many codes from this address this hour", retry_after=600
                )
        _spend_earlier(session, hospital_id, digest, now)
        code = f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"
        salt = secrets.token_hex(16)
        session.add(
            SignInCode(
                hospital_id=hospital_id,
                phone_hash=digest,
                salt=salt,
                code_hash=_code_hash(cipher, salt, code),
                remote_addr=address,
                created_at=now,
                expires_at=now + limits.life,
                attempts=0,
            )
        )
    return code


def _spend_earlier(session: Session, hospital_id: str, digest: str, now: datetime) -> None:
    session.execute(
        update(SignInCode)
        .where(
            SignInCode.hospital_id == hospital_id,
            SignInCode.phone_hash == digest,
            SignInCode.spent_at.is_(None),
        )
        .values(spent_at=now)
        .execution_options(synchronize_session=False)
    )


def verify(
    db: Database,
    cipher: FieldCipher,
    hospital_id: str,
    phone: str,
    *,
    code: str,
    now: datetime,
    limits: CodeLimits | None = None,
) -> int | None:
    """Check her code: the patient of this hospital with that phone (None: nobody, so she may
    register with a phone she has just proved). Spends the code. Raises ``SignInCodeError``:
    ``no-code``, ``expired``, ``too-many-tries`` or ``wrong-code`` (a wrong try is counted,
    committed even though it raises)."""
    limits = limits or CodeLimits()
    digest = phone_hash(cipher, phone)
    error: SignInCodeError | None = None
    found: int | None = None
    with db.transaction() as session:
        row = session.scalar(
            select(SignInCode)
            .where(SignInCode.hospital_id == hospital_id, SignInCode.phone_hash == digest)
            .order_by(SignInCode.created_at.desc(), SignInCode.id.desc())
            .limit(1)
            .with_for_update()
        )
        if row is None:
            raise SignInCodeError("no-code", "no code was sent to this phone")
        if row.attempts >= limits.tries:
            raise SignInCodeError("too-many-tries", "this code was guessed wrong too often")
        if row.spent_at is not None:
            raise SignInCodeError("no-code", "this code was used or replaced")
        if row.expires_at <= now:
            raise SignInCodeError("expired", "the code expired")
        typed = re.sub(r"\s", "", code or "")
        if not hmac.compare_digest(_code_hash(cipher, row.salt, typed), row.code_hash):
            row.attempts += 1
            if row.attempts >= limits.tries:
                row.spent_at = now
                error = SignInCodeError("too-many-tries", "this code was guessed wrong too often")
            else:
                error = SignInCodeError("wrong-code", "wrong code", remaining=limits.tries - row.attempts)
        else:
            row.spent_at = now
            found = _patient_with_phone(session, cipher, hospital_id, phone)
    if error is not None:
        raise error
    return found


def _patient_with_phone(session: Session, cipher: FieldCipher, hospital_id: str, phone: str) -> int | None:
    """The woman of this hospital whose phone on file (or bound for SMS) is ``phone``; with two
    (a shared family phone), the one registered last."""
    digests = [phone_hash(cipher, form) for form in (phone, f"+86{phone}")]
    bound = select(ChannelBinding.patient_id).where(
        ChannelBinding.hospital_id == hospital_id,
        ChannelBinding.kind == "phone",
        ChannelBinding.unbound_at.is_(None),
        ChannelBinding.value_hash.in_(digests),
    )
    found = session.scalar(
        select(Patient.id)
        .where(
            Patient.hospital_id == hospital_id, or_(Patient.phone_hash.in_(digests), Patient.id.in_(bound))
        )
        .order_by(Patient.created_at.desc(), Patient.id.desc())
        .limit(1)
    )
    return int(found) if found is not None else None
