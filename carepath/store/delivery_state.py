"""Delivery's own state in the store: kill switches (``carepath delivery pause|resume``) and
the channels whose provider quota is spent. The policy reads both before every claim."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carepath.store.models import ChannelQuota, DeliveryPause, OutboxRow

EVERY_HOSPITAL = "*"
SCOPES = ("all", "pathway", "channel", "pregnancy")


def pause(
    session: Session,
    *,
    scope: str,
    target: str = "*",
    hospital_id: str = EVERY_HOSPITAL,
    by: str,
    at: datetime,
) -> bool:
    """Pause sending for ``scope`` (``all``, one ``pathway``, one ``channel`` or one
    ``pregnancy``: a suspected loss, ``store/loss_hold.py``); False when it was paused already."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}")
    target = "*" if scope == "all" else target
    existing = session.scalar(
        select(DeliveryPause.id).where(
            DeliveryPause.hospital_id == hospital_id,
            DeliveryPause.scope == scope,
            DeliveryPause.target == target,
        )
    )
    if existing is not None:
        return False
    session.add(
        DeliveryPause(hospital_id=hospital_id, scope=scope, target=target, paused_by=by, paused_at=at)
    )
    session.flush()
    return True


def resume(session: Session, *, scope: str, target: str = "*", hospital_id: str = EVERY_HOSPITAL) -> int:
    """Lift a pause; rows it held become due at once (not after the next re-check)."""
    target = "*" if scope == "all" else target
    removed = session.execute(
        delete(DeliveryPause).where(
            DeliveryPause.hospital_id == hospital_id,
            DeliveryPause.scope == scope,
            DeliveryPause.target == target,
        )
    ).rowcount  # type: ignore[attr-defined]
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.status == "due", OutboxRow.status_reason.like("paused%"))
        .values(next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(removed or 0)


def pauses(session: Session, hospital_id: str) -> list[tuple[str, str]]:
    """(scope, target) of every pause that applies to ``hospital_id``."""
    rows = session.execute(
        select(DeliveryPause.scope, DeliveryPause.target).where(
            or_(DeliveryPause.hospital_id == hospital_id, DeliveryPause.hospital_id == EVERY_HOSPITAL)
        )
    )
    return [(scope, target) for scope, target in rows]


def quotas(session: Session, hospital_id: str, now: datetime) -> dict[str, datetime]:
    rows = session.execute(
        select(ChannelQuota.channel, ChannelQuota.until).where(
            ChannelQuota.hospital_id == hospital_id, ChannelQuota.until > now
        )
    )
    return {channel: until for channel, until in rows}


def quota_spent(session: Session, hospital_id: str, channel: str, until: datetime) -> None:
    """Record that ``channel``'s quota is spent until ``until`` (two dispatchers may race)."""
    row = session.get(ChannelQuota, (hospital_id, channel))
    if row is None:
        try:
            with session.begin_nested():
                session.add(ChannelQuota(hospital_id=hospital_id, channel=channel, until=until))
            return
        except IntegrityError:
            row = session.get(ChannelQuota, (hospital_id, channel), populate_existing=True)
            if row is None:
                return
    row.until = max(row.until, until)
    session.flush()
