"""On-call routing of urgent staff tasks (issue 17 item 1): who is told, when, and who
acknowledged.

An *urgent* task (priority ``urgent``) created outside the hospital's working hours (hospital
settings ``working_hours`` in its ``timezone``; a weekday left out is closed) goes at once to the
on-call contact: the first person on the roster (settings ``on_call``). Unacknowledged by the
task's due time, it goes to the next person on the roster, and every ``ESCALATE_EVERY`` after
that to the next, the team lead last (roster entries whose role is ``lead``, ``ROSTER_LEAD``:
a word of the roster setting, not a staff member's job title). A notice that could not be sent (a
landline, a refused number) passes the task on to the next person at once. Never two notices to
the same person for the same task: the table is unique on (task, phone) as well as (task, step).

One notice per woman (one bad report can open several urgent tasks, e.g. ``severe-bp`` and
``danger-symptoms``). The rows stay one per task and person, so each task keeps its own ladder,
but what goes over the wire is grouped:

- the rows *due* for the same person about the same pregnancy when a run claims them go out as
  ONE message with one link (``claim``: the lowest row carries the token, the others ride with
  it and share its outcome);
- a task that becomes due for a person who already holds a sent, unopened, unexpired notice
  about the same woman, whose task is still waiting (open, unclaimed), *joins* that notice: its
  row is written as sent with the carrier's expiry and no message goes out (``plan``);
- opening the link acknowledges every task of hers whose notice to that person was sent and
  not yet opened (one audit entry per task), and the page lists all her open urgent tasks.

Escalation stays per task: a task acknowledged stops; each unacknowledged one goes on down the
roster from its own due time (tasks with the same due time go to the next person together, as
one notice); a task for her that is due after the person's link was opened (or after its task
was claimed or closed, or the link expired) is not covered and gets a notice of its own.

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

#: A roster entry (hospital settings ``on_call``) with this role is told last.
ROSTER_LEAD = "lead"

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
    return [e for e in roster if e.role != ROSTER_LEAD] + [e for e in roster if e.role == ROSTER_LEAD]


def same_person(phone: str) -> str:
    """A roster phone compared as digits (``+86 138-0000-0000`` is ``13800000000``)."""
    digits = "".join(c for c in phone if c.isdigit())
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else digits


def _joinable(session: Session, task: StaffTask, phone: str, now: datetime) -> OnCallNotice | None:
    """A sent, unopened, unexpired notice to the same person about the same woman whose task
    is still waiting: a new task of hers due for that person rides on it (no new message)."""
    rows = session.execute(
        select(OnCallNotice, StaffTask)
        .join(StaffTask, StaffTask.id == OnCallNotice.task_id)
        .where(
            StaffTask.pregnancy_id == task.pregnancy_id,
            StaffTask.hospital_id == task.hospital_id,
            StaffTask.id != task.id,
            StaffTask.status == "open",
            StaffTask.claimed_by.is_(None),
            OnCallNotice.status == SENT,
            OnCallNotice.opened_at.is_(None),
            OnCallNotice.token_hash.is_not(None),
            OnCallNotice.expires_at > now,
        )
        .order_by(OnCallNotice.id)
    ).all()
    for notice, _ in rows:
        if same_person(notice.phone) == same_person(phone):
            return notice
    return None


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
    """Write the notices due at ``now`` (status ``due``, or joined to a notice she already has:
    see the module's docstring); returns how many rows were written due (``claim`` makes one
    message of those for the same woman and person). ``channel_for``
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
                carrier = _joinable(session, task, person.phone, now)
                row = OnCallNotice(
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
                how = f"on-call notice to {person.role} {person.name} (roster step {step})"
                if carrier is not None:  # rides on the notice she already holds: no new message
                    row.channel, row.status, row.sent_at = carrier.channel, SENT, now
                    row.expires_at, row.provider_message_id = carrier.expires_at, carrier.provider_message_id
                    how += f", joined to her unacknowledged notice {carrier.id}"
                else:
                    written += 1
                session.add(row)
                why = "created outside working hours" if not notices else "not acknowledged"
                audit(
                    session,
                    Actor(task.hospital_id, ROUTER, "on-call"),
                    "change",
                    now,
                    f"task {task.id} ({why}): {how}",
                    pregnancy_id=task.pregnancy_id,
                )
                session.flush()  # the next task of hers this run sees this row
                break
    return written


@dataclass(frozen=True)
class Outgoing:
    """One message to send: its carrying row, the rows that ride with it (other tasks of the
    same woman for the same person), the roster phone, the text and the one-time link."""

    notice_id: int
    hospital_id: str
    task_id: int
    step: int
    channel: str
    phone: str
    text: str
    link: str
    covers: tuple[int, ...] = ()


def claim(db: Database, now: datetime) -> list[Outgoing]:
    """Mark the due notices in flight, one message per woman and person with a fresh one-time
    token (only its hash is stored, on the carrying row); commits before any provider call."""
    out: list[Outgoing] = []
    with db.transaction() as session:
        due = session.execute(
            select(OnCallNotice, StaffTask.pregnancy_id)
            .join(StaffTask, StaffTask.id == OnCallNotice.task_id)
            .where(OnCallNotice.status == DUE)
            .order_by(OnCallNotice.id)
        ).all()
        groups: dict[tuple[str, str, str, str], list[OnCallNotice]] = {}
        for notice, pregnancy_id in due:
            key = (notice.hospital_id, pregnancy_id, same_person(notice.phone), notice.channel)
            groups.setdefault(key, []).append(notice)
        for group in groups.values():
            carrier, riders = group[0], group[1:]
            token = secrets.token_urlsafe(32)
            carrier.token_hash = token_hash(token)
            for notice in group:
                notice.expires_at = now + LINK_TTL
                notice.status = IN_FLIGHT
                notice.in_flight_at = now
                notice.attempts = (notice.attempts or 0) + 1
            base = hospital_settings.current(session, carrier.hospital_id).public_base_url
            link = f"{base.rstrip('/')}{LINK_PATH}{token}" if base else ""
            out.append(
                Outgoing(
                    carrier.id,
                    carrier.hospital_id,
                    carrier.task_id,
                    carrier.step,
                    carrier.channel,
                    carrier.phone,
                    NOTICE_TEXT,
                    link,
                    tuple(n.id for n in riders),
                )
            )
    return out


@dataclass(frozen=True)
class Outcome:
    """What a send did: ``sent`` (with the provider's id), ``retry`` (nothing reached the
    provider: try again), or failed with ``error`` (refused, or an unknown outcome: never
    repeated, the next person is told instead). ``covers``: the rows that rode with it."""

    notice_id: int
    sent: bool = False
    provider_message_id: str = ""
    retry: bool = False
    error: str = ""
    covers: tuple[int, ...] = ()


def record(db: Database, now: datetime, outcomes: Sequence[Outcome]) -> None:
    """The outcomes of the calls, in one transaction; a sent notice is audited."""
    if not outcomes:
        return
    with db.transaction() as session:
        for outcome in outcomes:
            carrier = outcome.notice_id
            for notice_id in (carrier, *outcome.covers):
                notice = session.get(OnCallNotice, notice_id)
                if notice is None or notice.status != IN_FLIGHT:
                    continue
                if outcome.sent:
                    notice.status, notice.sent_at = SENT, now
                    notice.provider_message_id = outcome.provider_message_id[:128]
                    notice.last_error = None
                    detail = f"on-call notice {notice.id} of task {notice.task_id} sent by {notice.channel}"
                    if notice_id != carrier:
                        detail += f" in the message of notice {carrier}"
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
    the first opening acknowledges every task of hers whose notice to that person was sent and
    not yet opened (the ones this message carried or that joined it; audited per task); returns
    the carrying task's id. An unknown, expired or other hospital's link raises
    ``OnCallLinkError``."""
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
            task = session.get(StaffTask, notice.task_id)
            pregnancy_id = task.pregnancy_id if task else None
            rows = session.execute(
                select(OnCallNotice)
                .join(StaffTask, StaffTask.id == OnCallNotice.task_id)
                .where(
                    StaffTask.pregnancy_id == pregnancy_id,
                    OnCallNotice.hospital_id == notice.hospital_id,
                    OnCallNotice.status == SENT,
                    OnCallNotice.opened_at.is_(None),
                )
                .order_by(OnCallNotice.id)
            ).scalars()
            covered = [
                n for n in rows if n.id != notice.id and same_person(n.phone) == same_person(notice.phone)
            ]
            for row in (notice, *covered):
                row.opened_at, row.opened_by = now, actor.label
                audit(
                    session,
                    actor,
                    "change",
                    now,
                    f"task {row.task_id} acknowledged: on-call link of notice {notice.id} opened",
                    pregnancy_id=pregnancy_id,
                )
        return notice.task_id


def her_urgent_tasks(db: Database, actor: Actor, task_id: int) -> list[int]:
    """The ids of her open urgent tasks in ``actor``'s hospital, ``task_id``'s first (if it is
    one of them): what the on-call page lists and its 已知晓 acknowledges."""
    with db.reading() as session:
        task = session.get(StaffTask, task_id)
        if task is None or task.hospital_id != actor.hospital_id:
            return []
        ids = list(
            session.scalars(
                select(StaffTask.id)
                .where(
                    StaffTask.hospital_id == actor.hospital_id,
                    StaffTask.pregnancy_id == task.pregnancy_id,
                    StaffTask.priority == "urgent",
                    StaffTask.status == "open",
                    StaffTask.id != task_id,
                )
                .order_by(StaffTask.created_at, StaffTask.id)
            )
        )
        return ([task_id] if task.status == "open" and task.priority == "urgent" else []) + ids


def _why(session: Session, task_id: int) -> str | None:
    dedupe_key = session.scalar(select(StaffTask.dedupe_key).where(StaffTask.id == task_id))
    return session.scalar(select(OutboxRow.why).where(OutboxRow.dedupe_key == dedupe_key))


def _page_view(session: Session, view: dict[str, Any], task_id: int) -> dict[str, Any]:
    view["due_time"] = datetime.fromisoformat(view["due_at"]) if view["due_at"] else None
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


def task_page(db: Database, cipher: FieldCipher, actor: Actor, task_id: int, now: datetime) -> dict[str, Any]:
    """The task as the on-call page shows it (the reads are audited; another hospital's task
    is not found): the task's view, why it was opened, and its notices; under ``her_tasks``
    the same for each of her open urgent tasks, this one first."""
    view = tasks.get_task(db, cipher, actor, task_id, now)
    others = [
        tasks.get_task(db, cipher, actor, other, now)
        for other in her_urgent_tasks(db, actor, task_id)
        if other != task_id
    ]
    with db.reading() as session:
        _page_view(session, view, task_id)
        view["her_tasks"] = [view, *(_page_view(session, o, o["id"]) for o in others)]
    return view
