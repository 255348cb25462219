"""What her channels tell us about her, applied to her bindings and consents (issue 19 items 5
and 6), each logged once in ``binding_events`` (``models_binding_events.py``).

The official account (its callback: ``delivery/account_events.py``):

- ``unsubscribe``: she unfollowed. Her binding with that openid gets ``unsubscribed_at``; the
  policy no longer sees it (``consents.active_bindings``), so her next message falls back to
  the next channel of her order. Her customer-service window closes with it.
- ``subscribe`` of an openid she is bound with: she followed again; ``unsubscribed_at`` is
  cleared and WeChat carries her messages again. A follow that is older than her unfollow (a
  late delivery) changes nothing.
- The customer-service window (客服消息, docs/channels.md): her message to the account allows 5
  messages within 48 hours; a follow, a scan or a menu click (``CLICK``) 3 within 1 minute.
  The window is kept per binding (``service_window_until``, ``service_window_left``; a new
  one replaces the old only when it lasts longer), and ``use_service_message`` spends one
  message atomically. No adapter sends customer-service messages yet: this is what one will
  ask before each send (WeChat answers 45015 outside the window).
- ``CLICK`` and ``VIEW`` of the menu are logged with their key; ``VIEW`` (a link) opens no window.

SMS replies (``delivery/sms_replies.py``): a reply that is one of the hospital's opt-out
keywords (``hospital_settings.sms_opt_out_keywords``; the whole reply, compared in
``setting_values.reply_form``) withdraws her SMS consent on every SMS vendor, recorded through
``consents.record_consent`` with source ``sms-reply`` and audited. A reply from a number no
woman of the hospital is bound with is logged (its hash), nothing else.

Every event is logged with a dedupe key (WeChat: the openid's hash, ``CreateTime`` and the
event; SMS: the vendor's sequence id, or the phone's hash, the time and a hash of the text), and
its effect is applied only by the transaction that logged it: a provider's retry changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from carepath.store import consents
from carepath.store.models import ChannelBinding, Consent
from carepath.store.models_binding_events import BindingEvent
from carepath.store.scope import Actor, audit
from carepath.store.setting_values import reply_form

OFFICIAL_ACCOUNT = "wechat_template"
WECHAT_OA = "wechat_oa"
#: Her SMS consent is one consent to her: a reply withdraws it on every vendor.
SMS_CHANNELS = ("sms_tencent", "sms_aliyun")
SMS_REPLY_SOURCE = "sms-reply"

# Kinds of events, as logged.
UNSUBSCRIBE, SUBSCRIBE, SCAN, CLICK, VIEW, MESSAGE, SMS_REPLY = (
    "unsubscribe", "subscribe", "scan", "click", "view", "message", "sms-reply",
)  # fmt: skip

# Outcomes, as logged and returned (stable: tests and logs read them).
REPEAT = "repeat"
UNKNOWN_SENDER = "unknown-sender"
BINDING_INACTIVE = "binding-inactive"
BINDING_ACTIVE = "binding-active"
STALE = "stale"  # a follow or unfollow older than the binding's last change
RECORDED = "recorded"
SMS_WITHDRAWN = "sms-withdrawn"
ALREADY_WITHDRAWN = "already-withdrawn"
NO_KEYWORD = "no-keyword"


@dataclass(frozen=True)
class ServiceQuota:
    """Customer-service messages an interaction allows: ``messages`` within ``lasting``."""

    messages: int
    lasting: timedelta


#: docs/channels.md, since June 2023: her message -> 5 within 48 h; a follow, scan or click -> 3 within 1 min.
AFTER_HER_MESSAGE = ServiceQuota(5, timedelta(hours=48))
AFTER_AN_EVENT = ServiceQuota(3, timedelta(minutes=1))
QUOTA_OF = {
    MESSAGE: AFTER_HER_MESSAGE, SUBSCRIBE: AFTER_AN_EVENT, SCAN: AFTER_AN_EVENT, CLICK: AFTER_AN_EVENT,
}  # fmt: skip


def _log(session: Session, **values: object) -> int | None:
    """Append one event; its id, or None when its dedupe key is already there (a repeat)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(BindingEvent).values(**values).on_conflict_do_nothing().returning(BindingEvent.id)
    found = session.execute(statement).first()
    return None if found is None else int(found[0])


def _set_outcome(session: Session, event_id: int, outcome: str) -> None:
    session.execute(update(BindingEvent).where(BindingEvent.id == event_id).values(outcome=outcome[:200]))


def _wechat_binding(session: Session, hospital_id: str, appid: str, openid: str) -> ChannelBinding | None:
    """Her current binding with this openid on this account (the latest, if ever two)."""
    return session.scalars(
        select(ChannelBinding)
        .where(
            ChannelBinding.hospital_id == hospital_id,
            ChannelBinding.kind == WECHAT_OA,
            ChannelBinding.account == appid,
            ChannelBinding.value == openid,
            ChannelBinding.unbound_at.is_(None),
        )
        .order_by(ChannelBinding.id.desc())
        .limit(1)
        .with_for_update()
    ).first()


def account_event(
    session: Session,
    *,
    hospital_id: str,
    appid: str,
    openid: str,
    openid_hash: str,
    kind: str,
    detail: str,
    occurrence: str,
    at: datetime,
    now: datetime,
) -> str:
    """Log one event of the official account about her and apply it (module docstring); the
    outcome (``repeat`` when WeChat sent it before)."""
    binding = _wechat_binding(session, hospital_id, appid, openid)
    event_id = _log(
        session,
        hospital_id=hospital_id, channel=OFFICIAL_ACCOUNT, account=appid, kind=kind, detail=detail[:200],
        value_hash=openid_hash, patient_id=binding.patient_id if binding else None, at=at,
        recorded_at=now, outcome="", dedupe_key=f"wx:{appid}:{openid_hash}:{occurrence}:{kind}"[:200],
    )  # fmt: skip
    if event_id is None:
        return REPEAT
    if binding is None:
        outcome = UNKNOWN_SENDER
    else:
        followed = _last_follow(session, hospital_id, appid, openid_hash) if kind == UNSUBSCRIBE else None
        outcome = _apply(binding, kind, at, followed)
    _set_outcome(session, event_id, outcome)
    return outcome


def _last_follow(session: Session, hospital_id: str, appid: str, openid_hash: str) -> datetime | None:
    """When she last followed the account (as logged), so that an unfollow WeChat delivers
    after a later follow (out of order) does not stop a binding she is using."""
    return session.scalar(
        select(func.max(BindingEvent.at)).where(
            BindingEvent.hospital_id == hospital_id,
            BindingEvent.account == appid,
            BindingEvent.value_hash == openid_hash,
            BindingEvent.kind == SUBSCRIBE,
        )
    )


def _apply(binding: ChannelBinding, kind: str, at: datetime, followed: datetime | None = None) -> str:
    last_change = binding.unsubscribed_at or binding.bound_at
    if kind == UNSUBSCRIBE:
        if binding.unsubscribed_at is not None or at < binding.bound_at or (followed and at < followed):
            return STALE
        binding.unsubscribed_at = at
        binding.service_window_until, binding.service_window_left = None, None
        return BINDING_INACTIVE
    outcome = RECORDED
    if kind == SUBSCRIBE and binding.unsubscribed_at is not None:
        if at < last_change:
            return STALE
        binding.unsubscribed_at = None
        outcome = BINDING_ACTIVE
    quota = QUOTA_OF.get(kind)
    if quota is not None and binding.unsubscribed_at is None:
        _open_window(binding, quota, at)
    return outcome


def _open_window(binding: ChannelBinding, quota: ServiceQuota, at: datetime) -> None:
    until = at + quota.lasting
    current = binding.service_window_until
    if current is None or until >= current or not binding.service_window_left:
        binding.service_window_until, binding.service_window_left = until, quota.messages


def service_messages_left(binding: ChannelBinding, now: datetime) -> int:
    """How many customer-service messages her binding's window still allows at ``now``."""
    if binding.service_window_until is None or binding.service_window_until <= now:
        return 0
    return binding.service_window_left or 0


def use_service_message(session: Session, binding_id: int, now: datetime) -> bool:
    """Spend one customer-service message of her window (one statement, so two senders never
    spend the same one); False when the window is closed or used up."""
    result = session.execute(
        update(ChannelBinding)
        .where(
            ChannelBinding.id == binding_id,
            ChannelBinding.unsubscribed_at.is_(None),
            ChannelBinding.service_window_until > now,
            ChannelBinding.service_window_left > 0,
        )
        .values(service_window_left=ChannelBinding.service_window_left - 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- SMS replies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmsReplyOutcome:
    """What one reply did: ``outcome`` (``sms-withdrawn``, ``already-withdrawn``,
    ``no-keyword``, ``unknown-sender``, ``repeat``), the event rows written, and whether her
    opt-out should be confirmed (something was withdrawn just now)."""

    outcome: str
    event_ids: tuple[int, ...] = ()
    confirm: bool = False


def opt_out_keyword(text: str, keywords: tuple[str, ...]) -> str | None:
    """The keyword her whole reply is (``reply_form``), or None: "TD", " td。" and "ＴＤ" are;
    "TD是什么意思" is not (a question, not an opt-out)."""
    form = reply_form(text)
    return form if form in keywords else None


def sms_reply(
    session: Session,
    *,
    hospital_id: str,
    channel: str,
    phone_hashes: tuple[str, ...],
    text: str,
    keywords: tuple[str, ...],
    reply_key: str,
    at: datetime,
    now: datetime,
) -> SmsReplyOutcome:
    """Log one SMS reply from the phone whose keyed hashes (as a binding may hold it: 11 digits,
    or with +86) are ``phone_hashes`` and, when it is an opt-out keyword from a woman bound with
    that phone, withdraw her SMS consent."""
    phone_hash = phone_hashes[0]
    keyword = opt_out_keyword(text, keywords)
    patient_ids = list(
        session.scalars(
            select(ChannelBinding.patient_id)
            .where(
                ChannelBinding.hospital_id == hospital_id,
                ChannelBinding.kind == "phone",
                ChannelBinding.value_hash.in_(phone_hashes),
                ChannelBinding.unbound_at.is_(None),
            )
            .distinct()
            .order_by(ChannelBinding.patient_id)
        )
    )
    text_hash = hashlib.sha256(text.encode()).hexdigest()[:16]
    base = f"sms:{channel}:{reply_key or f'{phone_hash}:{int(at.timestamp())}:{text_hash}'}"
    common = {
        "hospital_id": hospital_id, "channel": channel, "account": "", "kind": SMS_REPLY,
        "detail": keyword or "", "value_hash": phone_hash, "at": at, "recorded_at": now,
    }  # fmt: skip
    if not patient_ids:
        event_id = _log(session, **common, patient_id=None, outcome=UNKNOWN_SENDER, dedupe_key=base[:200])
        return SmsReplyOutcome(REPEAT if event_id is None else UNKNOWN_SENDER, _ids(event_id))
    written: list[int] = []
    withdrawn_any = False
    outcome = NO_KEYWORD
    for patient_id in patient_ids:
        key = f"{base}:{patient_id}"[:200]
        event_id = _log(session, **common, patient_id=patient_id, outcome="", dedupe_key=key)
        if event_id is None:
            continue
        written.append(event_id)
        if keyword is None:
            outcome = NO_KEYWORD
        elif _withdraw_sms(
            session, hospital_id, patient_id, channel=channel, keyword=keyword, at=at, now=now
        ):
            outcome, withdrawn_any = SMS_WITHDRAWN, True
        else:
            outcome = ALREADY_WITHDRAWN if not withdrawn_any else SMS_WITHDRAWN
        _set_outcome(session, event_id, outcome)
    if not written:
        return SmsReplyOutcome(REPEAT)
    return SmsReplyOutcome(outcome, tuple(written), confirm=withdrawn_any)


def _ids(event_id: int | None) -> tuple[int, ...]:
    return () if event_id is None else (event_id,)


def _withdraw_sms(
    session: Session,
    hospital_id: str,
    patient_id: int,
    *,
    channel: str,
    keyword: str,
    at: datetime,
    now: datetime,
) -> bool:
    """Record her refusal of SMS on every vendor (source ``sms-reply``); False when she had no
    SMS consent left to withdraw."""
    active = list(
        session.scalars(
            select(Consent).where(
                Consent.patient_id == patient_id,
                Consent.channel.in_(SMS_CHANNELS),
                Consent.topic == consents.ANY,
                Consent.granted.is_(True),
                Consent.withdrawn_at.is_(None),
            )
        )
    )
    if not active:
        return False
    for row in active:
        consents.record_consent(
            session, hospital_id=hospital_id, patient_id=patient_id, channel=row.channel,
            topic=consents.ANY, notice_version=row.notice_version, source=SMS_REPLY_SOURCE, at=at,
            granted=False, pregnancy_id=row.pregnancy_id,
        )  # fmt: skip
    audit(
        session,
        Actor(hospital_id, "sms-reply", channel),
        "change",
        now,
        f"consent withdrawn: SMS ({', '.join(sorted(r.channel for r in active))}) by her reply {keyword!r}",
        patient_id=patient_id,
    )
    return True


def set_confirmation(session: Session, event_ids: tuple[int, ...], result: str) -> None:
    """Add what became of the opt-out's confirmation SMS to its event rows."""
    for event_id in event_ids:
        row = session.get(BindingEvent, event_id)
        if row is not None:
            row.outcome = f"{row.outcome}; {result}"[:200]
