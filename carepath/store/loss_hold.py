"""A suspected loss in the store (issue 16 item 7, ``engine/loss.py``): the per-pregnancy hold
on every message to her, its end with the pregnancy, and its lifting.

Written in the transaction of the event that changed it (``evaluation.persist_many``, before
that evaluation's own rows are inserted, so a rule on the event is neither cancelled nor
skipped by it):

- ``held``: a ``pregnancy`` delivery pause (``delivery_state``) for her; the dispatcher holds
  every row of hers (reason ``paused:pregnancy``) and files no inbox copy for it;
- ``confirmed``: every unsent row of hers (``due``, or ``held`` for unapproved content) ends
  ``cancelled`` (reason ``loss-confirmed``), and the pause is removed;
- ``lifted``: the pause is removed; unsent rows whose moment (``due_at``, when the message
  fires) has not come are released (due as planned), the others end ``skipped`` with reason
  ``stale-after-hold`` — a message about a moment that passed during the hold is never sent late.

A row already claimed (``in_flight``) when the event commits is on the wire and is not touched.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, update
from sqlalchemy.orm import Session

from carepath.engine import loss
from carepath.store import delivery_state, held_content
from carepath.store.models import DeliveryPause, OutboxRow, Pregnancy

SCOPE = "pregnancy"
#: The dispatcher's reason for a row it holds for her pregnancy (``delivery/policy.py``).
PAUSED = "paused:pregnancy"
CANCELLED_REASON = "loss-confirmed"
UNSENT = ("due", held_content.HELD)


def apply(session: Session, pregnancy: Pregnancy, change: str, now: datetime) -> int:
    """Record ``change`` (``engine/loss.py``: held, confirmed, lifted) for ``pregnancy``; the
    number of rows it cancelled, released or skipped."""
    if change == loss.HELD:
        delivery_state.pause(
            session,
            scope=SCOPE,
            target=pregnancy.id,
            hospital_id=pregnancy.hospital_id,
            by=loss.SUSPECTED,
            at=now,
        )
        return 0
    _lift(session, pregnancy)
    unsent = (OutboxRow.pregnancy_id == pregnancy.id) & OutboxRow.status.in_(UNSENT)
    if change == loss.CONFIRMED:
        return _update(session, unsent, status="cancelled", status_reason=CANCELLED_REASON, updated_at=now)
    skipped = _update(
        session,
        unsent & (OutboxRow.due_at <= now),
        status="skipped",
        status_reason=loss.STALE_AFTER_HOLD,
        updated_at=now,
    )
    released = _update(
        session,
        unsent & (OutboxRow.due_at > now) & (OutboxRow.status_reason == PAUSED),
        next_attempt_at=None,
        status_reason=None,
        updated_at=now,
    )
    return skipped + released


def _lift(session: Session, pregnancy: Pregnancy) -> None:
    session.execute(
        delete(DeliveryPause).where(
            DeliveryPause.hospital_id == pregnancy.hospital_id,
            DeliveryPause.scope == SCOPE,
            DeliveryPause.target == pregnancy.id,
        )
    )


def _update(session: Session, where: ColumnElement[bool], **values: object) -> int:
    result = session.execute(
        update(OutboxRow).where(where).values(**values).execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
