"""Her sign-in (0016): her sessions and the one-time SMS codes she signs in with.

Kept apart from ``models.py`` (staff sessions are there): a woman is not staff, and her
session carries no role. ``alembic``'s env and the services below import this module.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from carepath.store.models import Base, BigId


class PatientSession(Base):
    """One signed-in browser of hers. ``id`` is the SHA-256 of the random token her cookie
    carries (the token itself is never stored); ``how``: ``wechat``, ``sms``, ``registration``
    or ``demo``. Deleted at sign-out, when idle too long, or past its absolute life."""

    __tablename__ = "patient_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    how: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    remote_addr: Mapped[str | None] = mapped_column(String(64))


class SignInCode(Base):
    """A 6-digit code sent by SMS to a phone. ``phone_hash`` is the store's keyed lookup hash of
    the number (the number itself is not kept here), ``code_hash`` a keyed hash of the code with
    this row's salt; ``attempts`` counts wrong guesses; ``spent_at`` is set when it signed her
    in, was guessed wrong too often, or a newer code replaced it. Rows also count the codes
    sent per phone and per address (the rate limits)."""

    __tablename__ = "sign_in_codes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    remote_addr: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    spent_at: Mapped[datetime | None]
