"""Sources: where a woman came from (issue 18). The one model of it — later issues extend it,
never duplicate it (``store/sources.py`` says how).

A *source* is one hospital's printed or shown entry point: a poster in a department, a doctor's
card, a campaign. It has a short ``code`` (the short URL ``/h5/s/<code>`` printed and drawn in
QR codes) and, when the hospital has a WeChat official account, the account's parametric QR
code (``wechat_*``): permanent for posters and cards, temporary (``expires_at``) for campaigns.

What happened through a source is an append-only log, ``source_events``: a scan, a follow of
the account, a registration. Counts are derived from it (``GROUP BY``), never kept in a
counter row (``store/sources.py`` says why).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from carepath.store.models import Base, BigId


class Source(Base):
    """One entry point of one hospital. ``department_id``, ``staff_id`` (a doctor's card) and
    ``campaign`` say what it stands for; any may be empty (a hospital-wide poster has none).
    ``qr_kind``: ``permanent`` (posters, cards; WeChat allows at most 100,000 per account) or
    ``temporary`` (campaigns; WeChat's code lives at most 30 days, until ``expires_at``)."""

    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), index=True)
    #: Unique across hospitals: the short URL does not name the hospital.
    code: Mapped[str] = mapped_column(String(16), unique=True)
    qr_kind: Mapped[str] = mapped_column(String(12))  # permanent | temporary
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # the doctor of a card
    # The care team a woman who registers through it joins (issue 20); empty: the hospital's rule.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("care_teams.id"))
    campaign: Mapped[str | None] = mapped_column(String(100))
    expires_at: Mapped[datetime | None]  # temporary codes: when WeChat's code stops working
    # The official account's parametric QR code (``cgi-bin/qrcode/create``), when one was made:
    wechat_appid: Mapped[str | None] = mapped_column(String(64))
    wechat_ticket: Mapped[str | None] = mapped_column(Text)  # exchanged at showqrcode for the image
    wechat_url: Mapped[str | None] = mapped_column(Text)  # the code's content, drawn by segno
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(120))  # "cli:alice", "staff:12", "demo"
    __table_args__ = (Index("ix_sources_wechat", "wechat_appid", "qr_kind"),)


class SourceEvent(Base):
    """One thing that happened through a source: ``kind`` ``scan``, ``follow`` or
    ``registration``; ``how`` it arrived (``HOWS`` in ``store/sources.py``).

    ``openid_hash`` is the keyed hash of ``<appid>:<openid>`` (``FieldCipher.lookup_hash``) of
    a WeChat scan or follow: enough for registration to find where a woman who followed first
    came from, without keeping the openid of someone who has not registered (and may never).
    ``dedupe_key`` is unique: WeChat repeats a callback it did not see answered, and a double
    submit registers once; events with nothing to de-duplicate leave it empty."""

    __tablename__ = "source_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    kind: Mapped[str] = mapped_column(String(16))
    how: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    openid_hash: Mapped[str | None] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    __table_args__ = (
        Index("ix_source_events_counts", "source_id", "kind"),
        Index("ix_source_events_openid", "hospital_id", "openid_hash"),
    )
