"""Her registrations from her pages (issue 18 item 4, 自动化建档): one row per form submitted.

The row is the submission's idempotency and its memory while she proves who she is:

- ``token`` is the form's one-time token (from her session): a second submit of the same form
  finds the row and answers as the first did, so a double tap never registers twice;
- ``status`` ``pending``: her ID number matched a woman already on file, so nothing of hers is
  changed until she proves it (an SMS code to the phone on file, or a nurse at the desk);
  ``done``: her pregnancy exists (``pregnancy_id``), and she may be signed in as ``patient_id``;
- ``form_sealed`` is the checked form (JSON, sealed with the field cipher) kept only while
  pending, and emptied once the registration is done (what it held is in her record then);
- ``reference`` is the short number a nurse asks for at the desk (``R`` and six digits);
- ``remote_addr`` counts the forms from one address that waited for a proof: an ID number on file
  tells whoever typed it that she is registered at a maternity hospital, so one address may ask
  that only a few times an hour (``registration.PROOFS_PER_ADDRESS``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carepath.store.models import Base, BigId


class Registration(Base):
    __tablename__ = "registrations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    reference: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(12))  # pending, done
    id_number_hash: Mapped[str] = mapped_column(String(64))
    form_sealed: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(64))  # the source code she came from
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    pregnancy_id: Mapped[str | None] = mapped_column(ForeignKey("pregnancies.id"))
    proven_by: Mapped[str | None] = mapped_column(String(64))  # new, sms, signed-in, staff:<id>
    remote_addr: Mapped[str | None] = mapped_column(String(64))  # where the form came from
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    __table_args__ = (
        UniqueConstraint("hospital_id", "reference"),
        Index("ix_registrations_patient", "patient_id"),
        Index("ix_registrations_address", "remote_addr", "created_at"),
    )
