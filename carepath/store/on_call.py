"""On-call routing of urgent staff tasks (issue 17 item 1): who is told, when, and who
acknowledged.

An *urgent* task (priority ``urgent``) created outside the hospital's working hours (hospital
settings ``working_hours`` in its ``timezone``; a weekday left out is closed) goes at once to the
on-call contact: the first person on the roster (settings ``on_call``). Unacknowledged by the
task's due time, it goes to the next person on the roster, and every ``ESCALATE_EVERY`` after
that to the next, the team lead last (roster entries whose role is ``lead``, the staff role
that receives escalations, ``tasks.TEAM_LEAD_ROLE``). A notice that could not be sent (a
landline, a refused number) passes the task on to the next person at once. Never two notices to
the same person for the same task: the table is unique on (task, phone) as well as (task, step).

The task counts as acknowledged when someone opened a notice's link after logging in (the
acknowledgement, audited), claimed it or closed it; then nobody else is told. Only tasks
created in the last ``LOOKBACK`` are routed, so that turning routing on does not page anyone
about last month's tasks.

The scheduler's ``on_call`` job calls, in order, ``recover`` (notices left in flight by a dead
process), ``plan`` (the notices due now), ``claim`` (each gets a fresh one-time token; only its
SHA-256 is stored, the token itself is in the message alone) and, after the provider calls made
by ``delivery/on_call.py``, ``record``. Each is one transaction; ``plan`` decides from the
rows, so running it any number of times writes each notice once.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store import hospital_settings, tasks
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.hospital_settings import HospitalSettings
from carepath.store.models import OutboxRow, StaffTask
from carepath.store.models_on_call import OnCallNotice
from carepath.store.scope import Actor, audit
from carepath.store.setting_values import WEEKDAYS, OnCall

#: The next person is told this long after the one before, from the task's due time on.
ESCALATE_EVERY = timedelta(minutes=30)
#: How long a notice's link works.
LINK_TTL = timedelta(hours=24)
#: Tasks older than this are not routed.
LOOKBACK = timedelta(days=1)
#: A notice in flight longer than this lost its process (longer than any provider call).
STALE_AFTER = timedelta(minutes=2)
#: Attempts of a notice whose calls never reached the provider (connection refused, 5xx).
MAX_ATTEMPTS = 3
#: The text every notice carries: neutral, no patient, no diagnosis.
NOTICE_TEXT = "有一项紧急随访任务，请点击处理"
#: Where the link leads (``webapi/staff/on_call.py``), under the hospital's public base URL.
LINK_PATH = "/staff/on-call/"

DUE, IN_FLIGHT, SENT, FAILED = "due", "in_flight", "sent", "failed"
ROUTER = "scheduler"


#: Which adapter carries a hospital's notices (None: it has no SMS and no webhook).
ChannelFor = Callable[[str], str | None]


class OnCallLinkError(CarepathError):
    """A link that is unknown, expired or another hospital's (they answer alike)."""

    code = "on-call-link-invalid"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def outside_working_hours(settings: HospitalSettings, at: datetime) -> bool:
    """Whether ``at`` falls outside the hospital's working hours (local time)."""
    local = at.astimezone(settings.window.zone)
    hours = settings.working_hours.get(WEEKDAYS[local.weekday()])
    return hours is None or not hours.opens <= local.time() < hours.closes


def ladder(settings: HospitalSettings) -> list[OnCall]:
    """Who is told, in order: the roster as written, the team lead(s) last."""
    roster = list(settings.on_call)
    return [e for e in roster if e.role != tasks.TEAM_LEAD_ROLE] + [
        e for e in roster if e.role == tasks.TEAM_LEAD_ROLE
    ]


def same_person(phone: str) -> str:
    """A roster phone compared as digits (``+86 138-0000-0000`` is ``13800000000``)."""
    digits = "".join(c for c in phone if c.isdigit())
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def _acknowledged(task: StaffTask, notices: Sequence[OnCallNotice]) -> bool:
    return task.status != "open" or task.claimed_by is not None or any(n.opened_at for n in notices)


def _next_due(task: StaffTask, notices: Sequence[OnCallNotice]) -> datetime | None:
    """When the next notice of ``task`` is due (None: wait for the one under way)."""
    if not notices:
        return task.created_at
    last = notices[-1]
    if last.status in (DUE, IN_FLIGHT):
        return None
    if last.status == FAILED:
        return last.sent_at or last.created_at  # could not reach them: the next one now
    first = task.due_at or task.created_at + ESCALATE_EVERY
    return first + ESCALATE_EVERY * (len(notices) - 1)


def plan(db: Database, now: datetime, channel_for: ChannelFor) -> int:
    """Write the notices due at ``now`` (status ``due``); returns how many. ``channel_for``
    names the adapter that carries a hospital's notices (its SMS vendor, or webhook; None:
    the hospital has neither, and nothing is written)."""
    written = 0
    with db.transaction() as session:
        candidates = session.scalars(
            select(StaffTask)
            .where(
                StaffTask.priority == "urgent",
                StaffTask.status == "open",
                StaffTask.claimed_by.is_(None),
                StaffTask.created_at >= now - LOOKBACK,
            )
            .order_by(StaffTask.created_at, StaffTask.id)
        ).all()
        for task in candidates:
            settings = hospital_settings.current(session, task.hospital_id)
            if not outside_working_hours(settings, task.created_at):
                continue
            channel = channel_for(task.hospital_id)
            if channel is None:
                continue
            notices = list(
                session.scalars(
                    select(OnCallNotice).where(OnCallNotice.task_id == task.id).order_by(OnCallNotice.id)
                )
            )
            if _acknowledged(task, notices):
                continue
            due = _next_due(task, notices)
            if due is None or now < due:
                continue
            told = {same_person(n.phone) for n in notices}
            after = notices[-1].step if notices else -1
            people = ladder(settings)
            for step in range(after + 1, len(people)):
                person = people[step]
                if same_person(person.phone) in told:
                    continue
                session.add(
                    OnCallNotice(
                        hospital_id=task.hospital_id,
                        task_id=task.id,
                        step=step,
                        role=person.role,
                        name=person.name,
                        phone=person.phone,
                        channel=channel,
                        status=DUE,
                        attempts=0,
                        created_at=now,
                    )
                )
                why = "created outside working hours" if not notices else "not acknowledged"
                audit(
                    session,
                    Actor(task.hospital_id, ROUTER, "on-call"),
                    "change",
                    now,
                    f"task {task.id} ({why}): on-call notice to {person.role} {person.name} "
                    f"(roster step {step})",
                    pregnancy_id=task.pregnancy_id,
                )
                written += 1
                break
    return written


@dataclass(frozen=True)
class Outgoing:
    """One notice to send: its row, the roster phone, the text and the one-time link."""

    notice_id: int
    hospital_id: str
    task_id: int
    step: int
    channel: str
    phone: str
    text: str
    link: str


def claim(db: Database, now: datetime) -> list[Outgoing]:
    """Mark the due notices in flight, each with a fresh one-time token (only its hash is
    stored); commits before any provider call."""
    out: list[Outgoing] = []
    with db.transaction() as session:
        notices = session.scalars(
            select(OnCallNotice).where(OnCallNotice.status == DUE).order_by(OnCallNotice.id)
        ).all()
        for notice in notices:
            token = secrets.token_urlsafe(32)
            notice.token_hash = token_hash(token)
            notice.expires_at = now + LINK_TTL
            notice.status = IN_FLIGHT
            notice.in_flight_at = now
            notice.attempts = (notice.attempts or 0) + 1
            base = hospital_settings.current(session, notice.hospital_id).public_base_url
            link = f"{base.rstrip('/')}{LINK_PATH}{token}" if base else ""
            out.append(
                Outgoing(
                    notice.id,
                    notice.hospital_id,
                    notice.task_id,
                    notice.step,
                    notice.channel,
                    notice.phone,
                    NOTICE_TEXT,
                    link,
                )
            )
    return out


@dataclass(frozen=True)
class Outcome:
    """What a send did: ``sent`` (with the provider's id), ``retry`` (nothing reached the
    provider: try again), or failed with ``error`` (refused, or an unknown outcome: never
    repeated, the next person is told instead)."""

    notice_id: int
    sent: bool = False
    provider_message_id: str = ""
    retry: bool = False
    error: str = ""


def record(db: Database, now: datetime, outcomes: Sequence[Outcome]) -> None:
    """The outcomes of the calls, in one transaction; a sent notice is audited."""
    if not outcomes:
        return
    with db.transaction() as session:
        for outcome in outcomes:
            notice = session.get(OnCallNotice, outcome.notice_id)
            if notice is None or notice.status != IN_FLIGHT:
                continue
            if outcome.sent:
                notice.status, notice.sent_at = SENT, now
                notice.provider_message_id = outcome.provider_message_id[:128]
                notice.last_error = None
                detail = f"on-call notice {notice.id} of task {notice.task_id} sent by {notice.channel}"
                audit(session, Actor(notice.hospital_id, ROUTER, "on-call"), "change", now, detail)
            elif outcome.retry and notice.attempts < MAX_ATTEMPTS:
                notice.status, notice.token_hash, notice.last_error = DUE, None, outcome.error[:500]
            else:
                notice.status, notice.sent_at, notice.last_error = FAILED, now, outcome.error[:500]
                notice.token_hash = None  # its link, if it went out, no longer works


def recover(db: Database, now: datetime) -> int:
    """Notices in flight longer than ``STALE_AFTER`` lost their process: the call may have
    reached them, so they are never repeated (``failed``, outcome unknown) and the next
    person is told; returns how many."""
    with db.transaction() as session:
        stale = session.scalars(
            select(OnCallNotice).where(
                OnCallNotice.status == IN_FLIGHT, OnCallNotice.in_flight_at < now - STALE_AFTER
            )
        ).all()
        for notice in stale:
            notice.status, notice.sent_at, notice.last_error = FAILED, now, "outcome-unknown"
        return len(stale)


# --- the link and the page ------------------------------------------------------------------


def open_link(db: Database, actor: Actor, token: str, now: datetime) -> int:
    """The staff member ``actor`` (logged in, allowed to work tasks) opened a notice's link:
    the first opening acknowledges the task (audited); returns the task's id. An unknown,
    expired or other hospital's link raises ``OnCallLinkError``."""
    with db.transaction() as session:
        notice = session.scalar(select(OnCallNotice).where(OnCallNotice.token_hash == token_hash(token)))
        if (
            notice is None
            or notice.hospital_id != actor.hospital_id
            or notice.expires_at is None
            or notice.expires_at <= now
        ):
            raise OnCallLinkError("this on-call link is unknown or has expired")
        if notice.opened_at is None:
            notice.opened_at, notice.opened_by = now, actor.label
            task = session.get(StaffTask, notice.task_id)
            audit(
                session,
                actor,
                "change",
                now,
                f"task {notice.task_id} acknowledged: on-call link of notice {notice.id} opened",
                pregnancy_id=task.pregnancy_id if task else None,
            )
        return notice.task_id


def _why(session: Session, task_id: int) -> str | None:
    dedupe_key = session.scalar(select(StaffTask.dedupe_key).where(StaffTask.id == task_id))
    return session.scalar(select(OutboxRow.why).where(OutboxRow.dedupe_key == dedupe_key))


def task_page(db: Database, cipher: FieldCipher, actor: Actor, task_id: int, now: datetime) -> dict[str, Any]:
    """The task as the on-call page shows it (the read is audited; another hospital's task is
    not found): the task's view, why it was opened, and its notices."""
    view = tasks.get_task(db, cipher, actor, task_id, now)
    view["due_time"] = datetime.fromisoformat(view["due_at"]) if view["due_at"] else None
    with db.reading() as session:
        view["why"] = _why(session, task_id)
        view["notices"] = [
            {
                "step": n.step,
                "role": n.role,
                "name": n.name,
                "status": n.status,
                "sent_at": n.sent_at,
                "opened_at": n.opened_at,
                "opened_by": n.opened_by,
            }
            for n in session.scalars(
                select(OnCallNotice).where(OnCallNotice.task_id == task_id).order_by(OnCallNotice.id)
            )
        ]
    return view
