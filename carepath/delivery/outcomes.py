"""What becomes of a claimed row: the outcomes the dispatcher records, and its report.

Step 3 of ``dispatcher.py``: a receipt makes the row ``sent``; an error becomes the step
``retry.after_failure`` gives (back off, fall back to her next channel, quota spent, dead
letter), and a call whose outcome is unknown is repeated only where the provider drops the
repeat (``DEDUPING_CHANNELS``), else ends ``failed``/``outcome-unknown`` for staff. The claim
(``claiming.py``) and the recovery of stale rows mark rows with the same helpers.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from time import monotonic, sleep

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError

from carepath.channels.base import ChannelError, Message, Receipt, brief_error
from carepath.delivery import policy as pol
from carepath.delivery.dispatch_settings import ChannelsForHospital, DispatchSettings
from carepath.delivery.retry import ChannelFailed, QuotaSpent, RetryAt, after_failure
from carepath.store import delivery_state, hospital_settings, outbox_batch
from carepath.store.db import Database
from carepath.store.models import OutboxRow
from carepath.store.outbox_batch import OutboxLike

logger = logging.getLogger("carepath.delivery")

#: Channels whose provider drops a repeated call (WeChat template messages, ``client_msg_id``).
DEDUPING_CHANNELS = frozenset({"wechat_template"})
OUTCOME_UNKNOWN = "outcome-unknown"
IN_FLIGHT = "in_flight"


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
class Job:
    """One provider call of a claimed batch: made by the dispatcher, its outcome recorded here."""

    row_id: int
    hospital_id: str
    channel: str
    in_flight_at: datetime
    message: Message


def mark_sent(row: OutboxLike, receipt: Receipt, now: datetime, report: DispatchReport) -> None:
    """Sent at the dispatcher's ``now`` (the clock the daily cap counts by), not the adapter's."""
    row.status = "sent"
    row.channel = receipt.channel
    row.provider_message_id = receipt.provider_message_id[:128]
    row.sent_at = now
    row.status_reason = None
    row.next_attempt_at = None
    report.sent += 1


def mark_dead(row: OutboxLike, reason: str, now: datetime, report: DispatchReport) -> None:
    row.status = "dead"
    row.dead_reason = reason
    row.status_reason = reason
    row.updated_at = now
    report.dead += 1
    report.reasons[reason.split(":", maxsplit=1)[0]] += 1


def mark_failed_unknown(row: OutboxLike, now: datetime, report: DispatchReport) -> None:
    """Her message may or may not have reached her through ``row.channel``: staff decide."""
    row.status = "failed"
    row.status_reason = OUTCOME_UNKNOWN
    row.dead_reason = f"{OUTCOME_UNKNOWN}: {row.channel}"
    row.updated_at = now
    report.failed += 1
    report.reasons[OUTCOME_UNKNOWN] += 1


def _record(
    db: Database,
    results: list[tuple[Job, Receipt | Exception]],
    *,
    now: datetime,
    channels_for_hospital: ChannelsForHospital,
    settings: DispatchSettings,
    rng: random.Random,
    report: DispatchReport,
) -> None:
    with db.transaction() as session:
        # One statement reads (and on PostgreSQL locks) the batch's rows; their changes are
        # written before the commit as one executemany UPDATE per set of columns changed
        # (the sent rows share one).
        statement = (
            select(*outbox_batch.RECORDED)
            .where(outbox_batch.among(session, OutboxRow.id, [job.row_id for job, _ in results]))
            .order_by(OutboxRow.id)
        )
        if db.engine.dialect.name == "postgresql":
            statement = statement.with_for_update()
        found = {row.id: row for row in outbox_batch.rows_of(session.execute(statement))}
        for job, result in results:
            row = found.get(job.row_id)
            if row is None or row.status != IN_FLIGHT or row.in_flight_at != job.in_flight_at:
                continue  # recovered meanwhile as stale: the recovery's decision stands
            row.updated_at = now
            if isinstance(result, Receipt):
                mark_sent(row, result, now, report)
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
                    mark_failed_unknown(row, now, report)
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
        outbox_batch.write(session, found.values())


def record_patiently(
    db: Database,
    results: list[tuple[Job, Receipt | Exception]],
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
