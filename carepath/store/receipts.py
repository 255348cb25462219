"""Receipts: what a provider reported after it accepted a message, and one summary of each
outbox row's delivery (sent, delivered, read, failed) for timelines and exports.

A provider report (WeChat's ``TEMPLATESENDJOBFINISH`` or ``subscribe_msg_sent_event``, parsed
by ``channels/wechat_events.py``) names the message by the id the provider gave when it accepted
it, which the dispatcher stored as ``OutboxRow.provider_message_id``. ``record_reports`` applies
reports to rows:

- only rows of the account's hospital and channel, and only when the report's recipient is an
  openid she was bound with on that account: a report can never touch another hospital's or
  another account's row;
- idempotently: the first report for a row is the one kept; the same report again (WeChat
  repeats a callback it did not see answered) changes nothing, and a different later one is
  logged and ignored;
- an unknown message id is logged and counted, never an error (the callback is acknowledged);
- ``blocked`` (she blocked the account's messages) also marks her binding blocked, so the policy
  no longer sees it and her next message through that channel falls back to the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from carepath.store import consents
from carepath.store.models import ChannelBinding, OutboxRow, Pregnancy

logger = logging.getLogger("carepath.receipts")

DELIVERED = "delivered"
BLOCKED = "blocked"
FAILED = "failed"
RECEIPT_STATUSES = frozenset({DELIVERED, BLOCKED, FAILED})

#: Adapters whose receipts come from provider callbacks, and the binding kind of their openids.
BINDING_KINDS = {"wechat_template": "wechat_oa", "wechat_subscribe": "wechat_mp"}
#: Channels where "sent" is "delivered": the inbox files the item in her app at once.
DELIVERED_ON_SEND = frozenset({"inbox"})


class ProviderReport(Protocol):
    """A provider's delivery report (``channels.wechat_events.DeliveryReport`` is one)."""

    @property
    def provider_message_id(self) -> str: ...

    @property
    def recipient(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def raw_status(self) -> str: ...

    @property
    def at(self) -> datetime: ...


@dataclass(frozen=True)
class ReportAccount:
    """Whose callback this is: one hospital's account (appid) behind one adapter."""

    hospital_id: str
    channel: str  # wechat_template | wechat_subscribe
    appid: str


@dataclass
class RecordResult:
    """What ``record_reports`` did with a callback's reports."""

    applied: int = 0
    unchanged: int = 0  # a repeat, or a later report for a row that already has one
    unknown: int = 0  # no row of this hospital and channel has that message id
    mismatched: int = 0  # a row has the id, but she was never bound with that openid here
    blocked_bindings: int = 0


def record_reports(
    session: Session, account: ReportAccount, reports: Iterable[ProviderReport], now: datetime
) -> RecordResult:
    """Apply provider reports to the outbox rows they name (see the module docstring)."""
    kind = BINDING_KINDS.get(account.channel)
    if kind is None:
        raise ValueError(f"{account.channel!r} has no provider receipts")
    result = RecordResult()
    for report in reports:
        if report.status not in RECEIPT_STATUSES:
            raise ValueError(f"unknown receipt status {report.status!r}")
        # Whether the report's recipient is (or was) her openid on this account: it is about her.
        bound = (
            select(ChannelBinding.id)
            .where(
                ChannelBinding.patient_id == Pregnancy.patient_id,
                ChannelBinding.kind == kind,
                ChannelBinding.account == account.appid,
                ChannelBinding.value == report.recipient,
            )
            .exists()
        )
        found = (
            session.execute(
                select(OutboxRow, Pregnancy.patient_id, bound)
                .join(Pregnancy, Pregnancy.id == OutboxRow.pregnancy_id)
                .where(
                    OutboxRow.hospital_id == account.hospital_id,
                    OutboxRow.channel == account.channel,
                    OutboxRow.provider_message_id == report.provider_message_id,
                )
            ).all()
            if report.provider_message_id
            else []
        )
        if not found:
            logger.info(
                "%s %s: report for unknown message id %r (%s) acknowledged",
                account.hospital_id,
                account.appid,
                report.provider_message_id,
                report.status,
            )
            result.unknown += 1
            continue
        for row, patient_id, was_bound in found:
            if not (report.recipient and was_bound):
                logger.warning(
                    "%s %s: report for message %r names a recipient outbox row %d was never bound "
                    "with: not applied",
                    account.hospital_id,
                    account.appid,
                    report.provider_message_id,
                    row.id,
                )
                result.mismatched += 1
                continue
            if row.receipt_status is not None:
                if row.receipt_status != report.status:
                    logger.warning(
                        "outbox row %d: %s report ignored, %s was reported first",
                        row.id,
                        report.status,
                        row.receipt_status,
                    )
                result.unchanged += 1
                continue
            row.receipt_status = report.status
            row.receipt_detail = report.raw_status[:200]
            row.receipt_at = report.at
            if report.status == DELIVERED:
                row.delivered_at = report.at
            row.updated_at = now
            result.applied += 1
            if report.status == BLOCKED and consents.mark_blocked(
                session,
                patient_id=patient_id,
                kind=kind,
                account=account.appid,
                value=report.recipient,
                at=report.at,
            ):
                result.blocked_bindings += 1
    session.flush()
    return result


# --- the summary of one row's delivery ------------------------------------------------------


@dataclass(frozen=True)
class DeliverySummary:
    """One outbox row's delivery, as a timeline or an export shows it.

    ``status``: ``read`` (she opened its inbox item), ``delivered`` (the provider reported it
    delivered, or it was filed in her inbox), ``blocked`` or ``failed`` (the provider's report
    after accepting it, or the dispatcher gave up: ``failed`` is also an unknown outcome), and
    otherwise the row's own status: ``due``, ``in_flight``, ``sent``, ``skipped``, ``dead``,
    ``cancelled``, ``replaced``, ``applied``. ``reason`` says why when it did not arrive (or is
    held: ``outside-window``, ``daily-cap`` ...); ``failed_at`` is when it was known.
    """

    status: str
    channel: str | None
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None
    reason: str | None

    def as_json(self) -> dict[str, str | None]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "status": self.status,
            "channel": self.channel,
            "sent_at": iso(self.sent_at),
            "delivered_at": iso(self.delivered_at),
            "read_at": iso(self.read_at),
            "failed_at": iso(self.failed_at),
            "reason": self.reason,
        }


def delivery_summary(row: OutboxRow) -> DeliverySummary:
    """The delivery summary of one outbox row (pure: reads only the row)."""
    delivered_at = row.delivered_at
    if delivered_at is None and row.status == "sent" and row.channel in DELIVERED_ON_SEND:
        delivered_at = row.sent_at
    failed_at: datetime | None = None
    reason: str | None = None
    status = row.status
    if row.receipt_status in (BLOCKED, FAILED):
        status, failed_at, reason = row.receipt_status, row.receipt_at, row.receipt_detail
    elif row.status in ("dead", "failed"):
        failed_at, reason = row.updated_at, row.dead_reason or row.status_reason
    elif delivered_at is not None:
        status = DELIVERED
    else:
        reason = row.status_reason
    if row.read_at is not None:
        status = "read"
    return DeliverySummary(
        status=status,
        channel=row.channel,
        sent_at=row.sent_at,
        delivered_at=delivered_at,
        read_at=row.read_at,
        failed_at=failed_at,
        reason=reason,
    )
