"""Step 1 of ``dispatcher.py``, the claim: due rows decided and marked in flight, in one
transaction.

Rows whose content no reviewer approved are held — except urgent safety advice, for which
she is sent the hospital's emergency notice instead (``emergency_notice.py``); for each
pregnancy the policy sees her consent, bindings and the external messages already sent
today, and the hospital's window, cap, kill switches and spent quotas. Every item's inbox copy is filed here
(``inbox_copies.py``); the rows to send externally become jobs, marked ``in_flight`` before
the transaction commits.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, time
from types import MappingProxyType
from typing import Any

from sqlalchemy import Integer, String, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from carepath.channels.base import Message, Receipt
from carepath.delivery import emergency_notice
from carepath.delivery import policy as pol
from carepath.delivery.dispatch_settings import ChannelsForHospital, DispatchSettings, HospitalDelivery
from carepath.delivery.inbox_copies import Filed, InboxCopies
from carepath.delivery.items import NOTIFICATION_KINDS, due_item
from carepath.delivery.outcomes import (
    DEDUPING_CHANNELS,
    IN_FLIGHT,
    DispatchReport,
    Job,
    mark_dead,
    mark_failed_unknown,
    mark_sent,
)
from carepath.delivery.rendering import RenderedItem
from carepath.store import approvals, consents, delivery_state, held_content, hospital_settings, outbox_batch
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.models import Patient, Pregnancy
from carepath.store.outbox_batch import BatchRow


def _params(channel: str, summary: str, link: str) -> dict[str, str]:
    """Template fields: an SMS carries the summary and the link to her item (``{1}``, ``{2}``:
    a text message has no link field of its own); WeChat's link is the template's ``url``."""
    if channel.startswith("sms_"):
        return {"1": summary, "2": link} if link else {"1": summary}
    if channel.startswith("wechat_"):
        return {"thing1": summary}
    return {}


#: Her item's page under a hospital's ``public_base_url`` (``webapi/h5/inbox.py``).
ITEM_PATH = "/h5/inbox"


def links_of(hospital: HospitalDelivery, public_base_url: str | None) -> HospitalDelivery:
    """Links to her items are absolute HTTPS links on the hospital's public base URL (a
    setting, https only) when it has one; else the channels file's ``link_base``."""
    if not public_base_url:
        return hospital
    return dataclasses.replace(hospital, link_base=public_base_url.rstrip("/") + ITEM_PATH)


#: Holds whose row is claimed early, once, to file her inbox copy (issue 16 item 11).
FILED_WHILE_HELD = (pol.OUTSIDE_WINDOW, pol.DAILY_CAP, pol.QUOTA)


@functools.cache
def _claimable(dialect: str) -> Any:
    """Lock and return up to ``:batch`` rows due at ``:now`` in one statement: ``UPDATE … WHERE
    id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`` on PostgreSQL, so that several
    dispatchers share one outbox (each row is claimed by one of them); the same without the lock
    on SQLite, whose ``BEGIN IMMEDIATE`` makes the claim single-writer. Every claimed row gets
    ``updated_at`` (the decision below writes the rest). Built once per dialect: building the
    expression was a share of every claim's CPU."""
    table = outbox_batch.TABLE
    now = bindparam("now", type_=table.c.due_at.type)
    due = (
        select(table.c.id)
        .where(
            table.c.status == "due",
            table.c.due_at <= now,
            (table.c.next_attempt_at.is_(None))
            | (table.c.next_attempt_at <= now)
            # fired, but its notice waits: claimed once to file her inbox copy now
            | (table.c.inbox_item_id.is_(None) & table.c.status_reason.in_(FILED_WHILE_HELD)),
        )
        .order_by(table.c.due_at, table.c.id)
        .limit(bindparam("batch", type_=Integer))
    )
    if dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    return update(table).where(table.c.id.in_(due)).values(updated_at=now).returning(*outbox_batch.COLUMNS)


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
        pregnancies=frozenset(t for s, t in paused if s == "pregnancy"),
    )
    return dataclasses.replace(
        hospital.policy,
        window=settings.window,
        daily_cap=settings.daily_cap,
        kill=kill,
        quota_until=MappingProxyType(delivery_state.quotas(session, hospital_id, now)),
    )


def _sent_today(session: Session, pregnancy_ids: Sequence[str], since: datetime) -> dict[str, int]:
    """External messages sent (or in flight) since ``since``; urgent ones do not use her cap."""
    statement = _sent_since("postgresql" if outbox_batch.is_postgresql(session) else "sqlite")
    rows = session.execute(statement, {"pregnancies": list(pregnancy_ids), "since": since})
    return {pregnancy: int(count) for pregnancy, count in rows if count}


@functools.cache
def _sent_since(dialect: str) -> Any:
    """``_sent_today``'s statement, built once per dialect.

    On PostgreSQL, one count per pregnancy of the batch, each through her own rows
    (``ix_outbox_pregnancy_id``). The plain ``pregnancy_id = ANY(:ids) … GROUP BY`` let the
    planner take ``ix_outbox_status_due`` for ``status IN ('sent', 'in_flight')`` whenever its
    statistics said few rows were sent — as they do during a day of sending on a server whose
    statistics lag (autovacuum off, or behind) — and then it filtered every sent row of the
    table: 118 ms a batch at 250k pregnancies (60k sent rows), against 2 ms this way
    (docs/scale.md, the dispatcher's second pass)."""
    table = outbox_batch.TABLE
    when = func.coalesce(table.c.sent_at, table.c.in_flight_at)
    urgent = table.c.params["urgent"].as_boolean()
    counted = (
        table.c.status.in_(("sent", IN_FLIGHT)),
        table.c.channel.not_in(tuple(pol.INTERNAL_CHANNELS)),
        when >= bindparam("since", type_=table.c.sent_at.type),
        urgent.is_(None) | urgent.is_(False),
    )
    if dialect != "postgresql":
        ids = bindparam("pregnancies", expanding=True, type_=table.c.pregnancy_id.type)
        return (
            select(table.c.pregnancy_id, func.count())
            .where(table.c.pregnancy_id.in_(ids), *counted)
            .group_by(table.c.pregnancy_id)
        )
    her = (
        func.unnest(bindparam("pregnancies", type_=ARRAY(String)))
        .table_valued("pregnancy_id")
        .render_derived(name="her")
    )
    count = select(func.count()).where(table.c.pregnancy_id == her.c.pregnancy_id, *counted).scalar_subquery()
    return select(her.c.pregnancy_id, count)


def claim(
    db: Database,
    *,
    now: datetime,
    channels_for_hospital: ChannelsForHospital,
    batch: int,
    cipher: FieldCipher,
    settings: DispatchSettings,
    report: DispatchReport,
    claimant: str | None = None,
) -> tuple[int, list[Job]]:
    """Claim up to ``batch`` due rows, decide each, file the inbox copies and mark what goes out
    externally in flight; commits, and returns how many rows were claimed and the calls to make.
    ``claimant``: the worker task claiming them, written on the rows put in flight (a task
    delivered again after its worker died recovers its own rows: ``recover_in_flight``)."""
    jobs: list[Job] = []
    with db.transaction() as session:
        rows = outbox_batch.rows_of(
            session.execute(_claimable(db.engine.dialect.name), {"now": now, "batch": batch})
        )
        if not rows:
            return 0, jobs
        rows.sort(key=lambda r: (r.due_at, r.id))  # RETURNING keeps no order
        report.claimed += len(rows)
        inbox = InboxCopies(session, rows)
        sends: list[tuple[BatchRow, pol.Send, Filed]] = []
        by_hospital: dict[str, list[BatchRow]] = defaultdict(list)
        for row in rows:
            by_hospital[row.hospital_id].append(row)
        for hospital_id, claimed_rows in by_hospital.items():
            hospital = links_of(
                channels_for_hospital(hospital_id),
                hospital_settings.current(session, hospital_id).public_base_url,
            )
            policy = _hospital_policy(session, hospital, hospital_id, now)
            settings_now = hospital_settings.current(session, hospital_id)
            hospital_rows, versions, held, notice_keys = approvals.gate(  # approved content only
                claimed_rows,
                approvals.approvals(session, hospital_id),
                drafts_allowed=settings_now.drafts_allowed,
                now=now,
            )
            report.held += held
            report.reasons[held_content.UNAPPROVED] += held
            notices: dict[str, RenderedItem] = {}
            if notice_keys:  # urgent advice not approved: her hospital's emergency notice instead
                text = emergency_notice.notice(settings_now.emergency_phone, hospital_id)
                notices = dict.fromkeys(notice_keys, text)
            if not hospital_rows:
                continue
            window = policy.window
            midnight = datetime.combine(window.local_date(now), time(0), window.zone)
            pregnancy_ids = sorted({r.pregnancy_id for r in hospital_rows})
            found = session.execute(
                select(Pregnancy.id, Pregnancy.patient_id, Patient.his_patient_id)
                .join(Patient, Patient.id == Pregnancy.patient_id)
                .where(outbox_batch.among(session, Pregnancy.id, pregnancy_ids))
            ).all()
            patients = {pregnancy: patient for pregnancy, patient, _ in found}
            consent_rows = consents.consent_terms(session, patients.values())
            bindings = consents.active_bindings(session, cipher, patients.values(), dict(hospital.accounts))
            if "webhook" in hospital.channels:  # the hospital's own system knows her by her HIS id
                for _, patient, his_id in found:
                    if his_id:
                        bindings[patient].setdefault("webhook", his_id)
            sent_today = _sent_today(session, pregnancy_ids, midnight)
            by_pregnancy: dict[str, list[BatchRow]] = defaultdict(list)
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
                    held=pregnancy_id in policy.kill.pregnancies,
                )
                _decide_rows(
                    items,
                    versions=versions,
                    notices=notices,
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
                mark_sent(row, Receipt("inbox", f"inbox-{item.id}", now, "filed"), now, report)
                continue
            message = Message(
                dedupe_key=row.dedupe_key,
                hospital_id=row.hospital_id,
                kind=NOTIFICATION_KINDS.get(row.kind, row.kind),
                recipient=decision.recipient or row.pregnancy_id,
                summary=item.summary,
                link=item.link or "",
                params=MappingProxyType(_params(decision.channel, item.summary, item.link or "")),
                title=item.title,
            )
            row.claimed_by = claimant  # in flight (set by _decide_rows): whose call this is
            jobs.append(Job(row.id, row.hospital_id, decision.channel, now, message))
        outbox_batch.write(session, rows)
    return len(rows), jobs


def _decide_rows(
    rows: list[BatchRow],
    *,
    versions: Mapping[str, str | None],
    notices: Mapping[str, RenderedItem],
    her: pol.Recipient,
    policy: pol.HospitalPolicy,
    hospital: HospitalDelivery,
    now: datetime,
    settings: DispatchSettings,
    report: DispatchReport,
    inbox: InboxCopies,
    sends: list[tuple[BatchRow, pol.Send, Filed]],
) -> None:
    def file(row: BatchRow) -> Filed:
        notice = notices.get(row.dedupe_key)
        if notice is not None and row.inbox_item_id is None:
            report.reasons[emergency_notice.MARKER] += 1
        return inbox.file(row, now, hospital.link_base, versions.get(row.dedupe_key), notice)

    items: dict[str, BatchRow] = {}
    due_items = []
    for row in rows:
        if row.next_attempt_at is not None and row.next_attempt_at > now:
            _file_early(row, policy, now=now, file=file)
            continue
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
            mark_dead(row, f"bad-item: {exc}", now, report)
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
                mark_failed_unknown(row, now, report)
                continue
        if isinstance(decision, pol.Send):
            filed = file(row)
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
            if decision.reason in FILED_WHILE_HELD:  # she reads it now; only the notice waits
                file(row)
            row.next_attempt_at = decision.until or now + settings.pause_recheck
            row.status_reason = decision.reason
            report.held += 1
            report.reasons[decision.reason.split(":", maxsplit=1)[0]] += 1
        elif isinstance(decision, pol.Skip):
            if decision.reason in (pol.NO_CONSENT, pol.NO_BINDING, pol.NO_CHANNEL):
                file(row)  # she sees it in the app
            row.status = "skipped"
            row.status_reason = decision.reason
            report.skipped += 1
            report.reasons[decision.reason] += 1
        else:
            mark_dead(row, decision.reason, now, report)


def _file_early(
    row: BatchRow,
    policy: pol.HospitalPolicy,
    *,
    now: datetime,
    file: Callable[[BatchRow], Filed],
) -> None:
    """A row that fired while its notice waits (``next_attempt_at``): her inbox copy is filed
    now, the row stays due for its notice. A kill switch or a hold on her pregnancy (a
    suspected loss) holds the copy too."""
    row.updated_at = now
    if row.pregnancy_id in policy.kill.pregnancies:
        row.status_reason = pol.PAUSED_PREGNANCY  # not claimed again before its notice's time
        return
    if policy.kill.all or row.pathway_id in policy.kill.pathways:
        row.status_reason = pol.PAUSED_ALL if policy.kill.all else pol.PAUSED_PATHWAY
        return
    file(row)
