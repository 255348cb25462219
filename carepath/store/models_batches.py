"""Batch actions on a cohort (issue 21 item 4, 自动化患者管理): one row per batch a staff member
confirmed. ``store/cohort_batches.py`` runs it; this row is all a runner needs to go on after a
crash: the filter (``cohort_filter``, re-read page by page through ``search.cohort``), the
action, and where it stopped (``cursor``: the last pregnancy id done, in the cohort's order).

``done``, ``skipped`` and ``failed`` are written in the same transaction as each page's work, so
they never disagree with what was done. ``claimed_by`` / ``claimed_until``: the runner working
on it and until when its claim holds (renewed with each page); an expired claim is taken over.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from carepath.store.models import Base, BigId


class CohortBatch(Base):
    """``action``: ``tag`` (``target`` the tag), ``enrol`` (the pathway id) or ``push`` (the
    content item; ``content_version`` the approved text's version at confirmation).
    ``state``: running, done, failed. ``request``: the confirm form's one-time token (unique):
    a double click confirms one batch."""

    __tablename__ = "cohort_batches"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    request: Mapped[str] = mapped_column(String(64), unique=True)
    action: Mapped[str] = mapped_column(String(12))
    target: Mapped[str] = mapped_column(String(100))
    content_version: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    cohort_filter: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(12))
    total: Mapped[int] = mapped_column(Integer)
    #: women the confirm screen counted as having the item already (a push), for the record
    already: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    cursor: Mapped[str | None] = mapped_column(String(80))
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    __table_args__ = (Index("ix_cohort_batches_hospital", "hospital_id", "created_at"),)
