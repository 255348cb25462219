"""The outbox dispatcher: claim due rows, decide, mark in flight, commit, send, record.

One round of ``dispatch_once`` repeats, until nothing is left to do at ``now``:

1. **Claim** (one transaction): up to ``batch`` rows that are ``due`` at ``now`` (and whose
   ``next_attempt_at`` has come), locked with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so that
   several dispatchers share one outbox; on SQLite the transaction is ``BEGIN IMMEDIATE``, so
   claims are single-writer. A row whose content item or form no reviewer approved is held
   (``store/approvals.py``, ``held_content.py``) unless the hospital allows drafts; the others
   record the content version they are filed with. For each pregnancy the policy (``policy.decide``) sees her
   consent, bindings, the external messages already sent today, the hospital's window, cap,
   kill switches and spent quotas. Every item's inbox copy (the full text) is filed here,
   idempotently; an inbox-only item is then simply sent. Items to send externally are marked
   ``in_flight`` (channel, ``in_flight_at``, attempt); the transaction COMMITS.
2. **Send**, outside any transaction: one provider call per row, ``concurrency`` at a time
   (a small thread pool; the adapters share the process's pooled HTTP client). While a batch's
   calls are on the wire, the next batch is claimed (step 1), so at most two batches are in
   flight at once; what a batch learns (a spent quota) reaches the claims after its record.
3. **Record** (one transaction, one query to read the batch back, a few executemany
   UPDATEs at commit): a receipt makes the row ``sent``; an error becomes the step
   ``retry.after_failure`` gives — back off with jitter within the budget, fall back to her
   next channel, quota spent until tomorrow, or dead-letter with the reason.

Cancelled and replaced rows are never ``due``, so they are never claimed; the engine's
cancellation only touches ``due`` rows, so a row once in flight is not cancelled under us.

**Guarantee** (README, "Delivery guarantee"): every due row ends ``sent``, ``skipped``
(reason), ``dead`` (reason) or ``failed`` with ``outcome-unknown`` (for staff); its inbox copy
is filed exactly once. A provider receives a row's message *at most once as she sees it*: a
call whose outcome is unknown (a lost reply, or a crash between in flight and recorded) is
repeated only through ``wechat_template`` with the same ``client_msg_id`` while the first such
call is younger than ``dedupe_window`` — WeChat drops the repeat — and never falls back to
another external channel; any other unknown outcome ends ``failed``/``outcome-unknown``.
An error before the provider call (no token, a request not built, a connection refused) sent
nothing: it is a ``RetryableError`` (``channels.base.before_the_call``), never an unknown outcome.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from time import monotonic, perf_counter, sleep
from types import MappingProxyType
from typing import Any

from sqlalchemy import String, cast, func, insert, literal, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from carepath.channels.base import (
    Channel,
    ChannelError,
    Message,
    Receipt,
    before_the_call,
    brief_error,
)
from carepath.delivery import policy as pol
from carepath.delivery.items import DEFAULT_ADAPTERS, NOTIFICATION_KINDS, due_item
from carepath.delivery.rendering import build_safe_facts, generic_message, render_action
from carepath.delivery.retry import ChannelFailed, QuotaSpent, RetryAt, RetryBudget, after_failure
from carepath.store import approvals, authoring, consents, delivery_state, held_content, hospital_settings
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.models import InboxItem, OutboxRow, Patient, Pregnancy

logger = logging.getLogger("carepath.delivery")

#: Channels whose provider drops a repeated call (WeChat template messages, ``client_msg_id``).
DEDUPING_CHANNELS = frozenset({"wechat_template"})
OUTCOME_UNKNOWN = "outcome-unknown"
IN_FLIGHT = "in_flight"


@dataclass(frozen=True)
class DispatchSettings:
    """``dedupe_window``: how long after a call with an unknown outcome a repeat with the same
    ``client_msg_id`` is still dropped by WeChat (keep it below what WeChat honours).
    ``stale_after``: a row in flight longer than this has lost its dispatcher (longer than any
    provider call can take with the adapters' timeouts). ``pause_recheck``: how often rows held
    by a kill switch are looked at again (``resume`` releases them at once anyway)."""

    retry: RetryBudget = field(default_factory=RetryBudget)
    dedupe_window: timedelta = timedelta(minutes=5)
    stale_after: timedelta = timedelta(minutes=2)
    pause_recheck: timedelta = timedelta(minutes=1)


@dataclass(frozen=True)
class HospitalDelivery:
    """What one hospital delivers with: its channels (adapter name -> adapter), its policy
    (fallback order, inbox-only priorities; the window and the daily cap come from the
    hospital's settings in the database), the pathway-language -> adapter map, the WeChat
    appid per adapter (an openid belongs to one account) and the base of the links external
    messages carry to her inbox."""

    channels: Mapping[str, Channel]
    policy: pol.HospitalPolicy = field(default_factory=pol.HospitalPolicy)
    adapters: Mapping[str, str] = field(default_factory=lambda: DEFAULT_ADAPTERS)
    accounts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    link_base: str = "/inbox"


ChannelsForHospital = Callable[[str], HospitalDelivery]


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    held: int = 0
    skipped: int = 0
    dead: int = 0
    retrying: int = 0
    failed: int = 0  # outcome unknown, for staff
    recovered: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    #: (rows claimed, seconds from claim to recorded) per round: a row's latency is its round's.
    rounds: list[tuple[int, float]] = field(default_factory=list)

    def add(self, other: DispatchReport) -> None:
        for name in ("claimed", "sent", "held", "skipped", "dead", "retrying", "failed", "recovered"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.reasons.update(other.reasons)
        self.rounds.extend(other.rounds)


@dataclass(frozen=True)
class _Job:
    row_id: int
    hospital_id: str
    channel: str
    in_flight_at: datetime
    message: Message


# --- rendering ----------------------------------------------------------------------------------


def render(row: OutboxRow, today: Any, content: Mapping[str, Any]) -> tuple[str, str, str]:
    """(title, neutral summary, body) of an outbox item from ``content`` (the hospital's
    education library: shipped items, each replaced by its own published version). The body
    goes to the inbox only; an item without content of its own (a checkup reminder) gets the
    generic wording of its kind."""
    params = row.params if isinstance(row.params, dict) else {}
    try:
        rendered = render_action(row.kind, params, content, build_safe_facts(first_name="", today=today))
    except Exception:  # a template lint missed: the inbox still gets the generic wording
        logger.exception("rendering %s for %s failed", params.get("content"), row.dedupe_key)
        rendered = generic_message(row.kind)
    return rendered.title, rendered.summary, rendered.body


def _params(channel: str, summary: str) -> dict[str, str]:
    if channel.startswith("sms_"):
        return {"1": summary}
    if channel.startswith("wechat_"):
        return {"thing1": summary}
    return {}


# --- claiming -----------------------------------------------------------------------------------


def _claimable(now: datetime, dialect: str, batch: int) -> Any:
    statement = (
        select(OutboxRow)
        .where(
            OutboxRow.status == "due",
            OutboxRow.due_at <= now,
            (OutboxRow.next_attempt_at.is_(None)) | (OutboxRow.next_attempt_at <= now),
        )
        .order_by(OutboxRow.due_at, OutboxRow.id)
        .limit(batch)
    )
    if dialect == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return statement


def _hospital_policy(
    session: Session, hospital: HospitalDelivery, hospital_id: str, now: datetime
) -> pol.HospitalPolicy:
    """The hospital's policy at ``now``: its send window and daily cap from its settings (at
    most ``hospital_settings.CACHE_SECONDS`` old), the kill switches and spent quotas."""
    settings = hospital_settings.current(session, hospital_id)
    paused = delivery_state.pauses(session, hospital_id)
    kill = pol.KillSwitches(
        all=any(scope == "all" for scope, _ in paused),
        pathways=frozenset(t for s, t in paused if s == "pathway"),
        channels=frozenset(t for s, t in paused if s == "channel"),
    )
    return dataclasses.replace(
        hospital.policy,
        window=settings.window,
        daily_cap=settings.daily_cap,
        kill=kill,
        quota_until=MappingProxyType(delivery_state.quotas(session, hospital_id, now)),
    )


def _sent_today(session: Session, pregnancy_ids: Sequence[str], since: datetime) -> dict[str, int]:
    when = func.coalesce(OutboxRow.sent_at, OutboxRow.in_flight_at)
    rows = session.execute(
        select(OutboxRow.pregnancy_id, func.count())
        .where(
            OutboxRow.pregnancy_id.in_(pregnancy_ids),
            OutboxRow.status.in_(("sent", IN_FLIGHT)),
            OutboxRow.channel.not_in(tuple(pol.INTERNAL_CHANNELS)),
            when >= since,
        )
        .group_by(OutboxRow.pregnancy_id)
    )
    return {pregnancy: int(count) for pregnancy, count in rows}


@dataclass
class _Filed:
    """An item's inbox copy as external messages need it (``id`` and ``link`` once inserted)."""

    title: str
    summary: str
    id: int = 0
    link: str = ""


class _Inbox:
    """The inbox copies of one claimed batch: the existing ones read in one query, the new ones
    inserted in one statement (ids returned) and their links set in one more per link base."""

    def __init__(self, session: Session, rows: Sequence[OutboxRow]) -> None:
        self._session = session
        keys = [row.dedupe_key for row in rows]
        found = session.execute(
            select(
                InboxItem.dedupe_key, InboxItem.id, InboxItem.title, InboxItem.summary, InboxItem.link
            ).where(InboxItem.dedupe_key.in_(keys))
        )
        self.items = {
            key: _Filed(title, summary, id_, link or "") for key, id_, title, summary, link in found
        }
        self._new: dict[str, tuple[_Filed, dict[str, Any], str]] = {}
        self._filed: list[tuple[OutboxRow, _Filed]] = []
        self._libraries: dict[str, Mapping[str, Any]] = {}

    def _library(self, hospital_id: str) -> Mapping[str, Any]:
        """The hospital's education library, read once per batch."""
        library = self._libraries.get(hospital_id)
        if library is None:
            library = self._libraries[hospital_id] = authoring.content_items(self._session, hospital_id)
        return library

    def file(self, row: OutboxRow, now: datetime, link_base: str, version: str | None) -> _Filed:
        """File the inbox copy once (idempotent on the dedupe key), recording on the row the
        content ``version`` it was rendered from; ``id`` and ``link`` are set by ``flush``."""
        filed = self.items.get(row.dedupe_key)
        if filed is None:
            row.content_version = version
            title, summary, body = render(row, now.date(), self._library(row.hospital_id))
            filed = self.items[row.dedupe_key] = _Filed(title, summary)
            values = {"hospital_id": row.hospital_id, "pregnancy_id": row.pregnancy_id,
                      "dedupe_key": row.dedupe_key, "kind": row.kind, "title": title, "summary": summary,
                      "body": body, "filed_at": now}  # fmt: skip
            self._new[row.dedupe_key] = (filed, values, link_base.rstrip("/") + "/")
        self._filed.append((row, filed))
        return filed

    def flush(self) -> None:
        if self._new:
            new = list(self._new.values())
            statement = insert(InboxItem).returning(InboxItem.id, sort_by_parameter_order=True)
            with self._session.no_autoflush:  # the batch's outbox changes are flushed at commit, once
                ids = self._session.scalars(statement, [values for _, values, _ in new]).all()
                by_base: dict[str, list[int]] = defaultdict(list)
                for (filed, _, base), id_ in zip(new, ids, strict=True):
                    filed.id, filed.link = id_, f"{base}{id_}"
                    by_base[base].append(id_)
                for base, base_ids in by_base.items():
                    self._session.execute(
                        update(InboxItem)
                        .where(InboxItem.id.in_(base_ids))
                        .values(link=literal(base) + cast(InboxItem.id, String))
                        .execution_options(synchronize_session=False)
                    )
        for row, filed in self._filed:
            row.inbox_item_id = filed.id
        self._new.clear()
        self._filed.clear()


def _claim(
    db: Database,
    *,
    now: datetime,
    channels_for_hospital: ChannelsForHospital,
    batch: int,
    cipher: FieldCipher,
    settings: DispatchSettings,
    report: DispatchReport,
) -> tuple[int, list[_Job]]:
    jobs: list[_Job] = []
    with db.transaction() as session:
        rows = list(session.scalars(_claimable(now, db.engine.dialect.name, batch)))
        if not rows:
            return 0, jobs
        report.claimed += len(rows)
        inbox = _Inbox(session, rows)
        sends: list[tuple[OutboxRow, pol.Send, _Filed]] = []
        by_hospital: dict[str, list[OutboxRow]] = defaultdict(list)
        for row in rows:
            by_hospital[row.hospital_id].append(row)
        for hospital_id, claimed_rows in by_hospital.items():
            hospital = channels_for_hospital(hospital_id)
            policy = _hospital_policy(session, hospital, hospital_id, now)
            hospital_rows, versions, held = approvals.gate(  # approved content only
                claimed_rows,
                approvals.approvals(session, hospital_id),
                drafts_allowed=hospital_settings.current(session, hospital_id).drafts_allowed,
                now=now,
            )
            report.held += held
            report.reasons[held_content.UNAPPROVED] += held
            if not hospital_rows:
                continue
            window = policy.window
            midnight = datetime.combine(window.local_date(now), time(0), window.zone)
            pregnancy_ids = sorted({r.pregnancy_id for r in hospital_rows})
            found = session.execute(
                select(Pregnancy.id, Pregnancy.patient_id, Patient.his_patient_id)
                .join(Patient, Patient.id == Pregnancy.patient_id)
                .where(Pregnancy.id.in_(pregnancy_ids))
            ).all()
            patients = {pregnancy: patient for pregnancy, patient, _ in found}
            consent_rows = consents.active_consents(session, patients.values())
            bindings = consents.active_bindings(session, cipher, patients.values(), dict(hospital.accounts))
            if "webhook" in hospital.channels:  # the hospital's own system knows her by her HIS id
                for _, patient, his_id in found:
                    if his_id:
                        bindings[patient].setdefault("webhook", his_id)
            sent_today = _sent_today(session, pregnancy_ids, midnight)
            by_pregnancy: dict[str, list[OutboxRow]] = defaultdict(list)
            for row in hospital_rows:
                by_pregnancy[row.pregnancy_id].append(row)
            for pregnancy_id, items in by_pregnancy.items():
                patient_id = patients[pregnancy_id]
                health, channels, refused_topics, refused = consents.consent_view(
                    consent_rows.get(patient_id, []), pregnancy_id
                )
                her = pol.Recipient(
                    consent=pol.Consent(health, channels, refused_topics, refused),
                    bindings=MappingProxyType(dict(bindings.get(patient_id, {}))),
                    sent_today=sent_today.get(pregnancy_id, 0),
                )
                _decide_rows(
                    items,
                    versions=versions,
                    her=her,
                    policy=policy,
                    hospital=hospital,
                    now=now,
                    settings=settings,
                    report=report,
                    inbox=inbox,
                    sends=sends,
                )
        inbox.flush()  # the new inbox copies get their ids and links
        for row, decision, item in sends:
            if decision.channel == "inbox":
                _sent(row, Receipt("inbox", f"inbox-{item.id}", now, "filed"), now, report)
                continue
            message = Message(
                dedupe_key=row.dedupe_key,
                hospital_id=row.hospital_id,
                kind=NOTIFICATION_KINDS.get(row.kind, row.kind),
                recipient=decision.recipient or row.pregnancy_id,
                summary=item.summary,
                link=item.link or "",
                params=MappingProxyType(_params(decision.channel, item.summary)),
                title=item.title,
            )
            jobs.append(_Job(row.id, row.hospital_id, decision.channel, now, message))
    return len(rows), jobs


def _decide_rows(
    rows: list[OutboxRow],
    *,
    versions: Mapping[str, str | None],
    her: pol.Recipient,
    policy: pol.HospitalPolicy,
    hospital: HospitalDelivery,
    now: datetime,
    settings: DispatchSettings,
    report: DispatchReport,
    inbox: _Inbox,
    sends: list[tuple[OutboxRow, pol.Send, _Filed]],
) -> None:
    items: dict[str, OutboxRow] = {}
    due_items = []
    for row in rows:
        try:
            item = due_item(
                dedupe_key=row.dedupe_key,
                kind=row.kind,
                params=row.params or {},
                pathway=row.pathway_id,
                due_at=row.due_at,
                channels=[str(c) for c in row.channels or []],
                failed=frozenset(row.failed_channels or []),
                adapters=hospital.adapters,
            )
        except ValueError as exc:
            _dead(row, f"bad-item: {exc}", now, report)
            continue
        items[row.dedupe_key] = row
        due_items.append(item)
    for item, decision in pol.decide(due_items, her, policy, now):
        row = items[item.dedupe_key]
        row.updated_at = now
        if row.unknown_since is not None:
            # A call through row.channel may have reached her: repeat only that call, deduped.
            deduped = row.channel in DEDUPING_CHANNELS and now < row.unknown_since + settings.dedupe_window
            if isinstance(decision, pol.Hold) and deduped:
                pass
            elif not (isinstance(decision, pol.Send) and decision.channel == row.channel and deduped):
                _failed_unknown(row, now, report)
                continue
        if isinstance(decision, pol.Send):
            filed = inbox.file(row, now, hospital.link_base, versions.get(row.dedupe_key))
            if decision.channel != "inbox" and decision.channel not in hospital.channels:
                row.failed_channels = [*(row.failed_channels or []), decision.channel]
                row.last_error = f"{decision.channel}: not configured for this hospital"
                row.next_attempt_at = now
                report.retrying += 1
                continue
            if decision.channel != "inbox":
                row.status = IN_FLIGHT
                row.channel = decision.channel
                row.in_flight_at = now
                row.attempts = (row.attempts or 0) + 1
                row.first_attempt_at = row.first_attempt_at or now
                row.next_attempt_at = None
            sends.append((row, decision, filed))
        elif isinstance(decision, pol.Hold):
            row.next_attempt_at = decision.until or now + settings.pause_recheck
            row.status_reason = decision.reason
            report.held += 1
            report.reasons[decision.reason.split(":", maxsplit=1)[0]] += 1
        elif isinstance(decision, pol.Skip):
            if decision.reason in (pol.NO_CONSENT, pol.NO_BINDING, pol.NO_CHANNEL):
                inbox.file(
                    row, now, hospital.link_base, versions.get(row.dedupe_key)
                )  # she sees it in the app
            row.status = "skipped"
            row.status_reason = decision.reason
            report.skipped += 1
            report.reasons[decision.reason] += 1
        else:
            _dead(row, decision.reason, now, report)


def _sent(row: OutboxRow, receipt: Receipt, now: datetime, report: DispatchReport) -> None:
    """Sent at the dispatcher's ``now`` (the clock the daily cap counts by), not the adapter's."""
    row.status = "sent"
    row.channel = receipt.channel
    row.provider_message_id = receipt.provider_message_id[:128]
    row.sent_at = now
    row.status_reason = None
    row.next_attempt_at = None
    report.sent += 1


def _dead(row: OutboxRow, reason: str, now: datetime, report: DispatchReport) -> None:
    row.status = "dead"
    row.dead_reason = reason
    row.status_reason = reason
    row.updated_at = now
    report.dead += 1
    report.reasons[reason.split(":", maxsplit=1)[0]] += 1


def _failed_unknown(row: OutboxRow, now: datetime, report: DispatchReport) -> None:
    """Her message may or may not have reached her through ``row.channel``: staff decide."""
    row.status = "failed"
    row.status_reason = OUTCOME_UNKNOWN
    row.dead_reason = f"{OUTCOME_UNKNOWN}: {row.channel}"
    row.updated_at = now
    report.failed += 1
    report.reasons[OUTCOME_UNKNOWN] += 1


# --- sending and recording ----------------------------------------------------------------------


def _send(job: _Job, channels_for_hospital: ChannelsForHospital) -> Receipt | ChannelError | Exception:
    try:
        with before_the_call(job.channel, "finding the channel"):
            channel = channels_for_hospital(job.hospital_id).channels[job.channel]
        return channel.send(job.message)
    except Exception as exc:  # every outcome is recorded; the adapter's bug must not stop the batch
        return exc


Outcome = Receipt | Exception


@dataclass
class _Sending:
    """A batch whose provider calls are on the wire (or, without a pool, already made)."""

    claimed: int
    started: float
    jobs: list[_Job]
    calls: list[Future[Outcome]] | list[Outcome]

    def results(self) -> list[tuple[_Job, Outcome]]:
        """Every call's outcome, once all have ended."""
        outcomes = [c.result() if isinstance(c, Future) else c for c in self.calls]
        return list(zip(self.jobs, outcomes, strict=True))


def _start_sending(
    claimed: int,
    started: float,
    jobs: list[_Job],
    channels_for_hospital: ChannelsForHospital,
    pool: ThreadPoolExecutor | None,
) -> _Sending:
    """A batch's provider calls, at most ``concurrency`` at a time (the adapters share one
    pooled HTTP client); without a pool, one after the other before this returns."""
    if pool is None:
        return _Sending(claimed, started, jobs, [_send(job, channels_for_hospital) for job in jobs])
    return _Sending(claimed, started, jobs, [pool.submit(_send, job, channels_for_hospital) for job in jobs])


def _record(
    db: Database,
    results: list[tuple[_Job, Receipt | Exception]],
    *,
    now: datetime,
    channels_for_hospital: ChannelsForHospital,
    settings: DispatchSettings,
    rng: random.Random,
    report: DispatchReport,
) -> None:
    with db.transaction() as session:
        # One query reads (and on PostgreSQL locks) the batch's rows; the changes are flushed
        # at commit as a few executemany UPDATEs (one per set of columns changed).
        statement = (
            select(OutboxRow)
            .where(OutboxRow.id.in_([job.row_id for job, _ in results]))
            .order_by(OutboxRow.id)
        )
        if db.engine.dialect.name == "postgresql":
            statement = statement.with_for_update()
        found = {row.id: row for row in session.scalars(statement)}
        for job, result in results:
            row = found.get(job.row_id)
            if row is None or row.status != IN_FLIGHT or row.in_flight_at != job.in_flight_at:
                continue  # recovered meanwhile as stale: the recovery's decision stands
            row.updated_at = now
            if isinstance(result, Receipt):
                _sent(row, result, now, report)
                continue
            if not isinstance(result, ChannelError):
                # An adapter's bug may strike after the request went out: the outcome is unknown.
                logger.error("%s: %s raised %r", row.dedupe_key, job.channel, result)
                row.unknown_since = row.unknown_since or job.in_flight_at
            row.last_error = f"{job.channel}: {result}"[:2000]
            window = hospital_settings.current(session, job.hospital_id).window
            outcome = after_failure(
                result if isinstance(result, ChannelError) else ChannelError(str(result)),
                channel=job.channel,
                attempt=row.attempts,
                first_try=row.first_attempt_at or now,
                now=now,
                window=window,
                rng=rng,
                budget=settings.retry,
            )
            if isinstance(outcome, RetryAt) and outcome.outcome_unknown:
                row.unknown_since = row.unknown_since or job.in_flight_at
            if row.unknown_since is not None:
                if isinstance(outcome, QuotaSpent):
                    delivery_state.quota_spent(session, job.hospital_id, outcome.channel, outcome.until)
                deadline = row.unknown_since + settings.dedupe_window
                if isinstance(outcome, RetryAt) and job.channel in DEDUPING_CHANNELS and now < deadline:
                    row.status = "due"
                    row.next_attempt_at = min(outcome.at, now + (deadline - now) / 2)
                    report.retrying += 1
                else:
                    _failed_unknown(row, now, report)
                continue
            row.status = "due"
            if isinstance(outcome, RetryAt):
                row.next_attempt_at = outcome.at
                report.retrying += 1
            elif isinstance(outcome, ChannelFailed):
                row.failed_channels = [*(row.failed_channels or []), outcome.channel]
                row.next_attempt_at = now
                if outcome.staff_attention:
                    row.status_reason = f"staff: {outcome.channel}: {outcome.reason}"
                report.retrying += 1
            else:
                delivery_state.quota_spent(session, job.hospital_id, outcome.channel, outcome.until)
                row.next_attempt_at = now
                report.retrying += 1
                report.reasons[pol.QUOTA] += 1


def _record_patiently(
    db: Database,
    results: list[tuple[_Job, Receipt | Exception]],
    *,
    now: datetime,
    channels_for_hospital: ChannelsForHospital,
    settings: DispatchSettings,
    rng: random.Random,
    report: DispatchReport,
) -> None:
    """``_record``, waiting out a lost database connection (a restart, a failover) for up to
    ``settings.stale_after``: the batch's outcomes — receipts, and refusals that sent nothing —
    are known only in this process, and a row left in flight is later recovered as possibly
    sent. Past that, or on any other error, the rows are left to ``recover_in_flight``, as if
    this process had died; a row recovered meanwhile is skipped by ``_record`` itself."""
    deadline = monotonic() + settings.stale_after.total_seconds()
    pause = 0.25
    while True:
        attempt = DispatchReport()  # counted once, when the record commits
        try:
            _record(
                db,
                results,
                now=now,
                channels_for_hospital=channels_for_hospital,
                settings=settings,
                rng=rng,
                report=attempt,
            )
        except DBAPIError as exc:
            lost = isinstance(exc, OperationalError) or exc.connection_invalidated
            if not lost or monotonic() + pause > deadline:
                raise
            logger.warning(
                "recording %d outcomes failed (%s); trying again in %.2f s",
                len(results),
                brief_error(exc),
                pause,
            )
            sleep(pause)
            pause = min(pause * 2, 5.0)
            continue
        report.add(attempt)
        return


def dispatch_once(
    db: Database,
    now: datetime,
    channels_for_hospital: ChannelsForHospital,
    batch: int = 100,
    *,
    cipher: FieldCipher,
    settings: DispatchSettings = DispatchSettings(),
    rng: random.Random | None = None,
    max_rounds: int = 10_000,
    concurrency: int = 8,
) -> DispatchReport:
    """Deliver everything that can go out at ``now`` (see the module docstring): rounds of
    ``batch`` rows, each round's provider calls ``concurrency`` at a time."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if concurrency < 1 or batch < 1:
        raise ValueError("batch and concurrency must be at least 1")
    rng = rng or random.Random()
    approvals.recheck_held(db, now, _drafts_allowed)  # what was approved since it was held
    pool = ThreadPoolExecutor(concurrency, thread_name_prefix="dispatch") if concurrency > 1 else None
    try:
        return _rounds(db, now, channels_for_hospital, batch, cipher, settings, rng, max_rounds, pool)
    finally:
        if pool is not None:
            pool.shutdown()


def _drafts_allowed(session: Session, hospital_id: str) -> bool:
    return hospital_settings.current(session, hospital_id).drafts_allowed


def _rounds(  # noqa: PLR0917 - dispatch_once's arguments, passed on
    db: Database,
    now: datetime,
    channels_for_hospital: ChannelsForHospital,
    batch: int,
    cipher: FieldCipher,
    settings: DispatchSettings,
    rng: random.Random,
    max_rounds: int,
    pool: ThreadPoolExecutor | None,
) -> DispatchReport:
    report = DispatchReport()

    def finish(done: _Sending) -> None:
        results = done.results()
        if results:
            _record_patiently(
                db,
                results,
                now=now,
                channels_for_hospital=channels_for_hospital,
                settings=settings,
                rng=rng,
                report=report,
            )
        report.rounds.append((done.claimed, perf_counter() - done.started))

    sending: _Sending | None = None
    for _ in range(max_rounds):
        started = perf_counter()
        try:  # while the previous batch's calls are on the wire
            claimed, jobs = _claim(
                db,
                now=now,
                channels_for_hospital=channels_for_hospital,
                batch=batch,
                cipher=cipher,
                settings=settings,
                report=report,
            )
        except BaseException:
            if sending is not None:  # its outcomes are known: record them before giving up
                finish(sending)
            raise
        if sending is not None:
            finish(sending)
            sending = None
            if not claimed:
                continue  # what it recorded (a fallback to the next channel) may be due at once
        if not claimed:
            break
        sending = _start_sending(claimed, started, jobs, channels_for_hospital, pool)
    if sending is not None:
        finish(sending)
    return report


def recover_in_flight(
    db: Database,
    now: datetime,
    *,
    settings: DispatchSettings = DispatchSettings(),
    stale_after: timedelta | None = None,
) -> DispatchReport:
    """Rows left ``in_flight`` longer than ``stale_after`` lost their dispatcher between the
    call and its record: the provider may or may not have the message. A WeChat template row
    still inside ``dedupe_window`` of that call becomes due again (the next round repeats the
    call with the same ``client_msg_id``, which WeChat drops if the first arrived); any other
    becomes ``failed`` with reason ``outcome-unknown`` for staff — never re-sent blindly.
    ``stale_after`` 0 is right at the start of the only dispatcher."""
    stale = settings.stale_after if stale_after is None else stale_after
    report = DispatchReport()
    with db.transaction() as session:
        statement = select(OutboxRow).where(
            OutboxRow.status == IN_FLIGHT, OutboxRow.in_flight_at <= now - stale
        )
        if db.engine.dialect.name == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        for row in session.scalars(statement):
            unknown_since = row.unknown_since or row.in_flight_at
            assert unknown_since is not None  # selected in flight, so in_flight_at is set
            row.unknown_since = unknown_since
            report.recovered += 1
            if row.channel in DEDUPING_CHANNELS and now < unknown_since + settings.dedupe_window:
                row.status = "due"
                row.status_reason = "recovered: repeat with the same client_msg_id"
                row.next_attempt_at = None
                row.updated_at = now
            else:
                _failed_unknown(row, now, report)
    return report
