"""Her requests about her data (issue 19 item 4, PIPL arts. 46-47) and her contact changes (0022).

``her_requests``: what she asked of the hospital about her data from her pages (我的数据) — a
``deletion`` or a ``correction`` of something she cannot change herself — and what became of
it. Staff handle them in a queue (issue 21, permission ``deletion.handle``); the service is
``store/her_requests.py``. Its life: ``received`` → ``in_review`` (someone took it up) →
``done`` or ``refused``, each decision with its reason (``decision``, shown to her), who
decided (``decided_by``, an actor label) and when. What she wrote is sealed like her other
fields: it may name anything about her health. ``retention_notice`` is the hospital's text she
was shown when she asked (what the law makes it keep), kept as it was then. ``open_key`` is set
while the request is open and emptied when it is decided: its unique index is what keeps a
second identical request (a double tap, two tabs) from becoming a second row.

``contact_changes``: each change of her contact details, old and new value sealed, how it was
proved (``h5:sms-code``: a code to the new phone) and by whom; the history she and staff see.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from carepath.store.models import Base, BigId


class HerRequest(Base):
    __tablename__ = "her_requests"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # deletion, correction
    status: Mapped[str] = mapped_column(String(12))  # received, in_review, done, refused
    text_sealed: Mapped[str | None] = mapped_column(Text)  # her words (sealed); None: she wrote none
    retention_notice: Mapped[str] = mapped_column(Text)  # the hospital's text she was shown
    open_key: Mapped[str | None] = mapped_column(String(200), unique=True)  # set while open
    received_at: Mapped[datetime]
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    review_started_at: Mapped[datetime | None]
    review_started_by: Mapped[str | None] = mapped_column(String(120))  # "staff:12"
    decision: Mapped[str | None] = mapped_column(Text)  # the reply she reads (why done or refused)
    decided_by: Mapped[str | None] = mapped_column(String(120))  # "staff:12"
    decided_at: Mapped[datetime | None]
    __table_args__ = (Index("ix_her_requests_open", "hospital_id", "status", "received_at"),)


class ContactChange(Base):
    __tablename__ = "contact_changes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    field: Mapped[str] = mapped_column(String(20))  # phone
    old_sealed: Mapped[str | None] = mapped_column(Text)
    new_sealed: Mapped[str] = mapped_column(Text)
    how: Mapped[str] = mapped_column(String(40))  # h5:sms-code
    changed_by: Mapped[str] = mapped_column(String(120))  # "patient:7"
    changed_at: Mapped[datetime]
