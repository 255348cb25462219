"""Her consents and channel bindings: record, withdraw, and read them as the policy needs.

PIPL art. 29 asks for a *separate* consent to process health information; each external
channel needs its own consent too, and she may turn single topics off. Withdrawal is as easy
as giving: one call, effective for the next claim of the dispatcher (which reads consent in
the same transaction that marks a row in flight), so it stops external messages at once.
Phone numbers are sealed with the store's field cipher; openids are pseudonymous per account
and kept plain for lookups from WeChat callbacks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from carepath.store.crypto import FieldCipher
from carepath.store.models import ChannelBinding, Consent

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
) -> ChannelBinding:
    """Bind her on a channel (replacing an earlier binding of the same kind and account)."""
    if kind not in BINDING_ADAPTERS:
        raise ValueError(f"binding kind must be one of {sorted(BINDING_ADAPTERS)}")
    session.execute(
        update(ChannelBinding)
        .where(
            ChannelBinding.patient_id == patient_id,
            ChannelBinding.kind == kind,
            ChannelBinding.account == account,
            ChannelBinding.unbound_at.is_(None),
        )
        .values(unbound_at=at)
        .execution_options(synchronize_session=False)
    )
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


def consent_view(
    rows: Iterable[Consent], pregnancy_id: str
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
    rows = session.scalars(
        select(ChannelBinding)
        .where(
            ChannelBinding.patient_id.in_(ids),
            ChannelBinding.unbound_at.is_(None),
            ChannelBinding.blocked_at.is_(None),  # she blocked the account: fall back
        )
        .order_by(ChannelBinding.id)
    )
    for row in rows:
        for adapter in BINDING_ADAPTERS[row.kind]:
            wanted = (accounts or {}).get(adapter)
            if wanted is not None and row.account != wanted:
                continue
            if row.kind == "phone" and row.value_sealed:
                phone = cipher.open(row.value_sealed)
                found[row.patient_id][adapter] = phone if phone.startswith("+") else f"+86{phone}"
            elif row.value:
                found[row.patient_id][adapter] = row.value
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
