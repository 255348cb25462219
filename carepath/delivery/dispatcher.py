"""The outbox dispatcher: claim due rows, decide, mark in flight, commit, send, record.

One round of ``dispatch_once`` repeats, until nothing is left to do at ``now``:

1. **Claim** (one transaction): up to ``batch`` rows that are ``due`` at ``now`` (and whose
   ``next_attempt_at`` has come), taken by one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE
   SKIP LOCKED) RETURNING`` on PostgreSQL so that several dispatchers (threads or processes)
   share one outbox; on SQLite the transaction is ``BEGIN IMMEDIATE``, so claims are
   single-writer. The rows are plain batch rows (``store/outbox_batch.py``), not ORM objects,
   and their decisions are written before the commit in one statement per set of columns
   changed. A row whose content item or form no reviewer approved is held
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
3. **Record** (one transaction: one query reads the batch back and locks it, and one
   statement per set of columns changed writes it — all the sent rows in one): a receipt
   makes the row ``sent``; an error becomes the step ``retry.after_failure`` gives — back off
   with jitter within the budget, fall back to her
   next channel, quota spent until tomorrow, or dead-letter with the reason.

Cancelled and replaced rows are never ``due``, so they are never claimed; the engine's
cancellation only touches ``due`` rows, so a row once in flight is not cancelled under us.

**Guarantee** (docs/delivery.md, "Delivery guarantee"): every due row ends ``sent``, ``skipped``
(reason), ``dead`` (reason) or ``failed`` with ``outcome-unknown`` (for staff); its inbox copy
is filed exactly once. A provider receives a row's message *at most once as she sees it*: a
call whose outcome is unknown (a lost reply, or a crash between in flight and recorded) is
repeated only through ``wechat_template`` with the same ``client_msg_id`` while the first such
call is younger than ``dedupe_window`` — WeChat drops the repeat — and never falls back to
another external channel; any other unknown outcome ends ``failed``/``outcome-unknown``.
An error before the provider call (no token, a request not built, a connection refused) sent
nothing: it is a ``RetryableError`` (``channels.base.before_the_call``), never an unknown outcome.

Step 1 is ``claiming.py`` (the inbox copies: ``inbox_copies.py``), step 3 ``outcomes.py``; this
module sends, runs the rounds and recovers the rows left in flight.
"""

from __future__ import annotations

import random
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import perf_counter

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from carepath.channels.base import ChannelError, Receipt, before_the_call
from carepath.delivery.claiming import claim
from carepath.delivery.dispatch_settings import ChannelsForHospital, DispatchSettings
from carepath.delivery.outcomes import (
    DEDUPING_CHANNELS,
    IN_FLIGHT,
    DispatchReport,
    Job,
    mark_failed_unknown,
    record_patiently,
)
from carepath.store import approvals, hospital_settings
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.models import OutboxRow

DEFAULT_SETTINGS = DispatchSettings()


def _send(job: Job, channels_for_hospital: ChannelsForHospital) -> Receipt | ChannelError | Exception:
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
    jobs: list[Job]
    calls: list[Future[Outcome]] | list[Outcome]

    def results(self) -> list[tuple[Job, Outcome]]:
        """Every call's outcome, once all have ended."""
        outcomes = [c.result() if isinstance(c, Future) else c for c in self.calls]
        return list(zip(self.jobs, outcomes, strict=True))


def _start_sending(
    claimed: int,
    started: float,
    jobs: list[Job],
    channels_for_hospital: ChannelsForHospital,
    pool: ThreadPoolExecutor | None,
) -> _Sending:
    """A batch's provider calls, at most ``concurrency`` at a time (the adapters share one
    pooled HTTP client); without a pool, one after the other before this returns."""
    if pool is None:
        return _Sending(claimed, started, jobs, [_send(job, channels_for_hospital) for job in jobs])
    return _Sending(claimed, started, jobs, [pool.submit(_send, job, channels_for_hospital) for job in jobs])


def dispatch_once(
    db: Database,
    now: datetime,
    channels_for_hospital: ChannelsForHospital,
    batch: int = 100,
    *,
    cipher: FieldCipher,
    settings: DispatchSettings = DEFAULT_SETTINGS,
    rng: random.Random | None = None,
    max_rounds: int = 10_000,
    concurrency: int = 8,
    claimant: str | None = None,
) -> DispatchReport:
    """Deliver everything that can go out at ``now`` (see the module docstring): rounds of
    ``batch`` rows, each round's provider calls ``concurrency`` at a time. ``claimant``: the
    worker task doing it, written on the rows it puts in flight (``recover_in_flight``)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if concurrency < 1 or batch < 1:
        raise ValueError("batch and concurrency must be at least 1")
    rng = rng or random.Random()
    approvals.recheck_held(db, now, _drafts_allowed)  # what was approved since it was held
    pool = ThreadPoolExecutor(concurrency, thread_name_prefix="dispatch") if concurrency > 1 else None
    try:
        return _rounds(
            db, now, channels_for_hospital, batch, cipher, settings, rng, max_rounds, pool, claimant
        )
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
    claimant: str | None,
) -> DispatchReport:
    report = DispatchReport()

    def finish(done: _Sending) -> None:
        results = done.results()
        if results:
            record_patiently(
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
            claimed, jobs = claim(
                db,
                now=now,
                channels_for_hospital=channels_for_hospital,
                batch=batch,
                cipher=cipher,
                settings=settings,
                report=report,
                claimant=claimant,
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
    settings: DispatchSettings = DEFAULT_SETTINGS,
    stale_after: timedelta | None = None,
    claimant: str | None = None,
) -> DispatchReport:
    """Rows left ``in_flight`` longer than ``stale_after`` lost their dispatcher between the
    call and its record: the provider may or may not have the message. A WeChat template row
    still inside ``dedupe_window`` of that call becomes due again (the next round repeats the
    call with the same ``client_msg_id``, which WeChat drops if the first arrived); any other
    becomes ``failed`` with reason ``outcome-unknown`` for staff — never re-sent blindly.
    ``stale_after`` 0 is right at the start of the only dispatcher.

    ``claimant``: a worker task delivered again after its worker died (acks late: the broker
    puts it back only once that worker's connection is gone) recovers the rows it put in flight
    itself, whatever their age — at once, not ``stale_after`` later. A first delivery finds none."""
    stale = settings.stale_after if stale_after is None else stale_after
    report = DispatchReport()
    with db.transaction() as session:
        lost = OutboxRow.in_flight_at <= now - stale
        if claimant is not None:
            lost = or_(lost, OutboxRow.claimed_by == claimant)
        statement = select(OutboxRow).where(OutboxRow.status == IN_FLIGHT, lost)
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
                mark_failed_unknown(row, now, report)
    return report
