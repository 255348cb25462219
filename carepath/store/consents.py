"""Her consents and channel bindings: record, withdraw, and read them as the policy needs.

PIPL art. 29 asks for a *separate* consent to process health information; each external
channel needs its own consent too, and she may turn single topics off. Withdrawal is as easy
as giving: one call, effective for the next claim of the dispatcher (which reads consent in
the same transaction that marks a row in flight), so it stops external messages at once.
Phone numbers are sealed with the store's field cipher; openids are pseudonymous per account
and kept plain for lookups from WeChat callbacks.

The intake API's functions (``give``, ``withdraw``, ``current``, ``put_binding``,
``delete_binding``) each own one transaction, find her only in the caller's own hospital
(``scope.owned``: another hospital's patient is not found) and write every change, and every
read, to the audit log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store.crypto import FieldCipher, mask_phone
from carepath.store.db import Database
from carepath.store.models import ChannelBinding, Consent, Patient, Pregnancy
from carepath.store.outbox_batch import among
from carepath.store.patients import PatientNotFoundError
from carepath.store.scope import Actor, audit, owned

#: The separate opt-in to processing health information (PIPL art. 29).
HEALTH_INFORMATION = "health-information"
ANY = "*"

#: Binding kinds -> the adapters that use them.
BINDING_ADAPTERS = {
    "wechat_oa": ("wechat_template",),
    "wechat_mp": ("wechat_subscribe",),
    "phone": ("sms_tencent", "sms_aliyun"),
}


def record_consent(
    session: Session,
    *,
    hospital_id: str,
    patient_id: int,
    channel: str,
    topic: str,
    notice_version: str,
    source: str,
    at: datetime,
    granted: bool = True,
    pregnancy_id: str | None = None,
) -> Consent:
    """Record a consent given (``granted``) or a topic refused; an earlier active row for the
    same channel and topic is withdrawn, so the latest word is the one that counts."""
    withdraw_consent(session, patient_id=patient_id, channel=channel, topic=topic, at=at)
    row = Consent(
        hospital_id=hospital_id,
        patient_id=patient_id,
        pregnancy_id=pregnancy_id,
        channel=channel,
        topic=topic,
        granted=granted,
        notice_version=notice_version,
        source=source,
        given_at=at,
    )
    session.add(row)
    session.flush()
    return row


def withdraw_consent(
    session: Session, *, patient_id: int, at: datetime, channel: str | None = None, topic: str | None = None
) -> int:
    """Withdraw her active consents (all of them, or one channel and/or topic); the number
    withdrawn. Withdrawing the health-information consent stops every external message."""
    statement = update(Consent).where(Consent.patient_id == patient_id, Consent.withdrawn_at.is_(None))
    if channel is not None:
        statement = statement.where(Consent.channel == channel)
    if topic is not None:
        statement = statement.where(Consent.topic == topic)
    result = session.execute(statement.values(withdrawn_at=at).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def bind(
    session: Session,
    cipher: FieldCipher,
    *,
    hospital_id: str,
    patient_id: int,
    kind: str,
    value: str,
    at: datetime,
    account: str = "",
    first: bool = False,
) -> ChannelBinding:
    """Bind her on a channel (replacing an earlier binding of the same kind and account).
    ``first``: her patient row was made in this transaction, so there is none to replace."""
    if kind not in BINDING_ADAPTERS:
        raise ValueError(f"binding kind must be one of {sorted(BINDING_ADAPTERS)}")
    if not first:
        unbind(session, patient_id, kind, account, at)
    row = ChannelBinding(
        hospital_id=hospital_id, patient_id=patient_id, kind=kind, account=account, bound_at=at
    )
    if kind == "phone":
        row.value_sealed = cipher.seal(value)
        row.value_hash = cipher.lookup_hash("phone", value)
    else:
        row.value = value
    session.add(row)
    session.flush()
    return row


def _active_binding(patient_id: int, kind: str, account: str) -> tuple[Any, ...]:
    return (
        ChannelBinding.patient_id == patient_id,
        ChannelBinding.kind == kind,
        ChannelBinding.account == account,
        ChannelBinding.unbound_at.is_(None),
    )


def unbind(session: Session, patient_id: int, kind: str, account: str, at: datetime) -> int:
    """End her active binding of one kind and account; the number ended (0 or 1)."""
    result = session.execute(
        update(ChannelBinding)
        .where(*_active_binding(patient_id, kind, account))
        .values(unbound_at=at)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def active_consents(session: Session, patient_ids: Iterable[int]) -> dict[int, list[Consent]]:
    ids = list(set(patient_ids))
    found: dict[int, list[Consent]] = defaultdict(list)
    if not ids:
        return found
    rows = session.scalars(
        select(Consent)
        .where(Consent.patient_id.in_(ids), Consent.withdrawn_at.is_(None))
        .order_by(Consent.id)
    )
    for row in rows:
        found[row.patient_id].append(row)
    return found


def consent_terms(session: Session, patient_ids: Iterable[int]) -> dict[int, list[Any]]:
    """``active_consents`` as the columns ``consent_view`` reads (rows, not objects: the
    dispatcher reads a batch's consents at every claim)."""
    ids = list(set(patient_ids))
    found: dict[int, list[Any]] = defaultdict(list)
    if not ids:
        return found
    rows = session.execute(
        select(Consent.patient_id, Consent.pregnancy_id, Consent.channel, Consent.topic, Consent.granted)
        .where(among(session, Consent.patient_id, ids), Consent.withdrawn_at.is_(None))
        .order_by(Consent.id)
    )
    for row in rows:
        found[row.patient_id].append(row)
    return found


def consent_view(
    rows: Iterable[Any], pregnancy_id: str
) -> tuple[bool, frozenset[str], frozenset[str], frozenset[tuple[str, str]]]:
    """(health information, channels, refused topics, refused (channel, topic)) for one
    pregnancy from her active rows (a row for another pregnancy does not count)."""
    health = False
    channels: set[str] = set()
    refused_topics: set[str] = set()
    refused: set[tuple[str, str]] = set()
    for row in rows:
        if row.pregnancy_id not in (None, pregnancy_id):
            continue
        if row.topic == HEALTH_INFORMATION:
            health = health or row.granted
        elif row.granted and row.topic == ANY:
            channels.add(row.channel)
        elif not row.granted and row.channel == ANY:
            refused_topics.add(row.topic)
        elif not row.granted:
            refused.add((row.channel, row.topic))
    return health, frozenset(channels), frozenset(refused_topics), frozenset(refused)


def active_bindings(
    session: Session, cipher: FieldCipher, patient_ids: Iterable[int], accounts: dict[str, str] | None = None
) -> dict[int, dict[str, str]]:
    """patient id -> {adapter: recipient}. ``accounts`` maps an adapter to the appid whose
    openid it needs (an openid belongs to one account); phones are opened and given ``+86``."""
    ids = list(set(patient_ids))
    found: dict[int, dict[str, str]] = defaultdict(dict)
    if not ids:
        return found
    # Columns, not objects: the dispatcher reads a batch's bindings at every claim.
    rows = session.execute(
        select(
            ChannelBinding.patient_id,
            ChannelBinding.kind,
            ChannelBinding.account,
            ChannelBinding.value,
            ChannelBinding.value_sealed,
        )
        .where(
            among(session, ChannelBinding.patient_id, ids),
            ChannelBinding.unbound_at.is_(None),
            ChannelBinding.blocked_at.is_(None),  # she blocked the account: fall back
            ChannelBinding.unsubscribed_at.is_(None),  # she unfollowed it: fall back (0023)
        )
        .order_by(ChannelBinding.id)
    )
    for row in rows.all():
        recipient = row.value
        if row.kind == "phone" and row.value_sealed:  # opened once, for every SMS vendor
            phone = cipher.open(row.value_sealed)
            recipient = phone if phone.startswith("+") else f"+86{phone}"
        if not recipient:
            continue
        for adapter in BINDING_ADAPTERS[row.kind]:
            wanted = (accounts or {}).get(adapter)
            if wanted is None or row.account == wanted:
                found[row.patient_id][adapter] = recipient
    return found


def mark_blocked(
    session: Session, *, patient_id: int, kind: str, account: str, value: str, at: datetime
) -> bool:
    """The provider reported that she blocked this account's messages: her active binding with
    this openid stops counting (until she is bound again); False when none was active."""
    result = session.execute(
        update(ChannelBinding)
        .where(
            ChannelBinding.patient_id == patient_id,
            ChannelBinding.kind == kind,
            ChannelBinding.account == account,
            ChannelBinding.value == value,
            ChannelBinding.unbound_at.is_(None),
            ChannelBinding.blocked_at.is_(None),
        )
        .values(blocked_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def unbind_all(session: Session, patient_id: int, at: datetime, kinds: Iterable[str] | None = None) -> None:
    statement = update(ChannelBinding).where(
        ChannelBinding.patient_id == patient_id, ChannelBinding.unbound_at.is_(None)
    )
    if kinds is not None:
        statement = statement.where(or_(*(ChannelBinding.kind == k for k in kinds)))
    session.execute(statement.values(unbound_at=at).execution_options(synchronize_session=False))


# --- the intake API: her consents and bindings as the mini-program backend and the HIS give them


#: Channels a consent may name: ``*`` (the health-information opt-in, or a topic refused
#: everywhere) and the external adapters. The inbox and the console need no consent.
CONSENT_CHANNELS = ("*", "wechat_template", "wechat_subscribe", "sms_tencent", "sms_aliyun", "webhook")


@dataclass(frozen=True)
class PatientRef:
    """How a caller names her: carepath's patient id or her HIS patient id."""

    patient_id: int | None = None
    his_id: str | None = None

    def __str__(self) -> str:
        return f"patient {self.patient_id}" if self.patient_id is not None else f"his_id {self.his_id!r}"


class InvalidConsentError(CarepathError):
    """A consent or binding that cannot be recorded; ``errors`` lists each field."""

    code = "invalid-consent"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        super().__init__(f"{errors[0]['path']}: {errors[0]['message']}")


def _her(session: Session, actor: Actor, ref: PatientRef) -> Patient:
    """Her row in the actor's own hospital (consent is the owning hospital's: grants never count)."""
    statement = owned(select(Patient), Patient, actor)
    if ref.patient_id is not None:
        statement = statement.where(Patient.id == ref.patient_id)
    else:
        statement = statement.where(Patient.his_patient_id == ref.his_id)
    patient = session.scalar(statement.with_for_update())
    if patient is None:
        raise PatientNotFoundError(f"no {ref} in hospital {actor.hospital_id}")
    return patient


def _check_pregnancy(session: Session, patient: Patient, pregnancy_id: str | None) -> None:
    if pregnancy_id is None:
        return
    found = session.scalar(
        select(Pregnancy.id).where(Pregnancy.id == pregnancy_id, Pregnancy.patient_id == patient.id)
    )
    if found is None:
        raise InvalidConsentError(
            [{"path": "pregnancy", "code": "unknown-pregnancy", "message": "not a pregnancy of hers"}]
        )


def consent_json(row: Consent) -> dict[str, Any]:
    return {
        "id": row.id,
        "channel": row.channel,
        "topic": row.topic,
        "granted": row.granted,
        "pregnancy": row.pregnancy_id,
        "notice_version": row.notice_version,
        "source": row.source,
        "given_at": row.given_at.isoformat(),
        "withdrawn_at": row.withdrawn_at.isoformat() if row.withdrawn_at else None,
    }


def binding_json(cipher: FieldCipher, row: ChannelBinding) -> dict[str, Any]:
    """A binding with its value masked: a phone as 138****5678, an openid by its first 6."""
    if row.kind == "phone" and row.value_sealed:
        shown = mask_phone(cipher.open(row.value_sealed))
    else:
        shown = f"{(row.value or '')[:6]}…"
    return {"kind": row.kind, "account": row.account, "value": shown, "bound_at": row.bound_at.isoformat()}


def give(
    db: Database,
    actor: Actor,
    ref: PatientRef,
    *,
    channel: str,
    topic: str,
    granted: bool,
    notice_version: str,
    source: str,
    at: datetime,
    now: datetime,
    pregnancy_id: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Record her word on one channel and topic; (the consent, True when it changed anything).

    The same word again (same granted, notice version, source and pregnancy) changes nothing,
    so a retry is harmless; a different one replaces the earlier row (withdrawn at ``at``)."""
    with db.transaction() as session:
        patient = _her(session, actor, ref)
        _check_pregnancy(session, patient, pregnancy_id)
        current = session.scalar(
            select(Consent).where(
                Consent.patient_id == patient.id,
                Consent.channel == channel,
                Consent.topic == topic,
                Consent.withdrawn_at.is_(None),
            )
        )
        if current is not None and (
            current.granted,
            current.notice_version,
            current.source,
            current.pregnancy_id,
        ) == (granted, notice_version, source, pregnancy_id):
            return consent_json(current), False
        row = record_consent(
            session,
            hospital_id=patient.hospital_id,
            patient_id=patient.id,
            channel=channel,
            topic=topic,
            notice_version=notice_version,
            source=source,
            at=at,
            granted=granted,
            pregnancy_id=pregnancy_id,
        )
        word = "given" if granted else "refused"
        audit(
            session,
            actor,
            "change",
            now,
            f"consent {word}: channel {channel} topic {topic} notice {notice_version} source {source}",
            patient_id=patient.id,
            pregnancy_id=pregnancy_id,
        )
        return consent_json(row), True


def withdraw(
    db: Database, actor: Actor, ref: PatientRef, *, now: datetime, channel: str | None, topic: str | None
) -> int:
    """Withdraw her active consents (of one channel and/or topic, or all); effective for the
    dispatcher's next claim. The number withdrawn (0 when there was nothing to withdraw)."""
    with db.transaction() as session:
        patient = _her(session, actor, ref)
        count = withdraw_consent(session, patient_id=patient.id, at=now, channel=channel, topic=topic)
        audit(
            session,
            actor,
            "change",
            now,
            f"consent withdrawn: channel {channel or 'any'} topic {topic or 'any'} ({count} row(s))",
            patient_id=patient.id,
        )
        return count


def current(
    db: Database, cipher: FieldCipher, actor: Actor, ref: PatientRef, now: datetime
) -> dict[str, Any]:
    """Her active consents, what they allow, and her bindings (masked); the read is audited."""
    with db.transaction() as session:
        patient = _her(session, actor, ref)
        rows = active_consents(session, [patient.id]).get(patient.id, [])
        # What holds for every pregnancy of hers (rows naming one pregnancy are listed below).
        health, channels, refused_topics, refused = consent_view(rows, "")
        bindings = session.scalars(
            select(ChannelBinding)
            .where(ChannelBinding.patient_id == patient.id, ChannelBinding.unbound_at.is_(None))
            .order_by(ChannelBinding.id)
        )
        audit(session, actor, "read", now, "consents and bindings", patient_id=patient.id)
        return {
            "patient": patient.id,
            "his_id": patient.his_patient_id,
            "health_information": health,
            "channels": sorted(channels),
            "refused_topics": sorted(refused_topics),
            "refused": [{"channel": c, "topic": t} for c, t in sorted(refused)],
            "consents": [consent_json(r) for r in rows],
            "bindings": [binding_json(cipher, b) for b in bindings],
        }


def put_binding(
    db: Database,
    cipher: FieldCipher,
    actor: Actor,
    ref: PatientRef,
    *,
    kind: str,
    account: str,
    value: str,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """Bind her on a channel (one per kind and account); (the binding, True when it changed).
    The same value again changes nothing; another value replaces the earlier binding."""
    with db.transaction() as session:
        patient = _her(session, actor, ref)
        active = session.scalar(select(ChannelBinding).where(*_active_binding(patient.id, kind, account)))
        # A binding the provider reported blocked (``blocked_at``, migration 0004 on main) is
        # bound again even with the same value: her binding it anew is the way back.
        # So is one whose account she unfollowed (``unsubscribed_at``, 0023).
        blocked = active is not None and (active.blocked_at or active.unsubscribed_at) is not None
        if (
            active is not None
            and not blocked
            and (
                active.value_hash == cipher.lookup_hash("phone", value)
                if kind == "phone"
                else active.value == value
            )
        ):
            return binding_json(cipher, active), False
        row = bind(
            session, cipher, hospital_id=patient.hospital_id, patient_id=patient.id, kind=kind, value=value,
            at=now, account=account,
        )  # fmt: skip
        audit(session, actor, "change", now, f"bound {kind} {account or '-'}", patient_id=patient.id)
        return binding_json(cipher, row), True


def delete_binding(
    db: Database, actor: Actor, ref: PatientRef, *, kind: str, account: str, now: datetime
) -> int:
    """Unbind her on one channel at once (the dispatcher stops using it at its next claim)."""
    with db.transaction() as session:
        patient = _her(session, actor, ref)
        count = unbind(session, patient.id, kind, account, now)
        audit(
            session, actor, "change", now, f"unbound {kind} {account or '-'} ({count})", patient_id=patient.id
        )
        return count
