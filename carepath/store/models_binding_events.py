"""What her channels told us about her, besides delivery reports: the official account's own
events (unfollow, follow again, menu clicks, her messages) and her replies to SMS (issue 19
items 5 and 6). One append-only log, ``binding_events``; ``store/binding_events.py`` writes it
and applies what each event means to her binding and her consent.

A row never holds what she typed: an SMS reply is kept as the opt-out keyword it matched (or
nothing), a WeChat message as its type. ``value_hash`` is the keyed hash of the openid
(``<appid>:<openid>``, as ``sources.openid_hash``) or of the phone (as her phone binding's),
so a row of a woman carepath does not know is kept without her number or openid.
``dedupe_key`` is unique: WeChat and the SMS vendors repeat a callback they did not see
answered, and a repeat must change nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from carepath.store.models import Base, BigId


class BindingEvent(Base):
    """One event of one channel about one woman (``patient_id`` when she is known).

    ``channel``: ``wechat_template`` (the official account) or the SMS vendor
    (``sms_tencent``, ``sms_aliyun``); ``account`` the appid, "" for SMS. ``kind``:
    ``unsubscribe``, ``subscribe``, ``scan``, ``click``, ``view``, ``message`` (WeChat) or
    ``sms-reply``. ``detail``: the menu key, the message type or the keyword matched (never her
    text). ``outcome``: what carepath did (``binding-inactive``, ``binding-active``,
    ``sms-withdrawn``, ``unknown-sender``, ``no-keyword`` …; ``confirmation-sent`` or
    ``confirmation-failed: …`` after the opt-out's confirmation)."""

    __tablename__ = "binding_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    channel: Mapped[str] = mapped_column(String(40))
    account: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(String(200))
    value_hash: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    at: Mapped[datetime]  # when the provider says it happened
    recorded_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(200))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    __table_args__ = (
        Index("ix_binding_events_patient", "patient_id", "at"),
        Index("ix_binding_events_value", "hospital_id", "value_hash"),
    )
