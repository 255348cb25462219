"""The on-call notices of urgent staff tasks (issue 17 item 1, migration 0015).

One row per person a task's notice went (or goes) to: the step on the hospital's roster, who
(their role, name and phone as the roster had them: staff contact data, never a patient's),
the channel, the hash of the one-time link's token (the token itself is only in the message)
and when it expires, the send's status, and the acknowledgement (who opened the link after
login, and when). Unique per (task, step) and per (task, phone): never two notices to the same
person for the same task. ``store/on_call.py`` owns the table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from carepath.store.models import Base, BigId


class OnCallNotice(Base):
    __tablename__ = "on_call_notices"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("staff_tasks.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)  # 0: the on-call contact; then down the roster
    role: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(40))  # the SMS adapter, or webhook
    status: Mapped[str] = mapped_column(String(12))  # due, in_flight, sent, failed
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)  # SHA-256 hex
    expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    in_flight_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    opened_at: Mapped[datetime | None]  # the acknowledgement: the link opened after login
    opened_by: Mapped[str | None] = mapped_column(String(120))  # "staff:12"
    __table_args__ = (
        UniqueConstraint("task_id", "step", name="uq_on_call_notices_task_step"),
        UniqueConstraint("task_id", "phone", name="uq_on_call_notices_task_phone"),
    )
