"""What carepath holds about her, as she sees, downloads and prints it (我的数据, PIPL art. 45).

``held(db, cipher, hospital_id, patient_id, now, purpose)`` gathers, in one transaction and
only from rows of hers in her hospital: her identity and contact details (unmasked: they are
hers, and only she is signed in), her registration and where she came from, each pregnancy
(status, EDD and gestational age, dating records, diagnoses, the tags on it, her risk colour),
every consent with its history, her channel bindings, the messages sent to her (her inbox, and
how each was carried), her answers to forms, her contact changes and her requests. The result
is plain JSON (``FORMAT``; fields in docs/privacy.md) that the page, the download and the
printable page all show. The read is audited: ``read`` for her page, ``export`` (with its
format) for a download or a print.

What is not in it, deliberately (docs/privacy.md, "What she can see"): staff's working notes
(task titles, call outcomes, who claimed what), the rules' reasons for a tag or a message, and
a congratulation withdrawn after a lost baby. The first two are the care team's working
records, not information she gave or about her beyond what is shown (each tag and diagnosis
is shown); she may ask for a copy of her medical records through the hospital. The third was
taken back from her on purpose.

Her consent per channel: ``set_channel`` withdraws or gives again, through ``consents``'
``withdraw_consent`` / ``record_consent``, so the dispatcher's next claim sees it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from carepath.engine.clock import format_gestational_age, gestational_days
from carepath.store import consents, form_answers, her_requests, hospital_settings
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.models import (
    ChannelBinding,
    Consent,
    DatingRecord,
    Department,
    Diagnosis,
    Hospital,
    InboxItem,
    OutboxRow,
    Patient,
    Pregnancy,
    QuestionnaireResponse,
    Staff,
)
from carepath.store.models_registration import Registration
from carepath.store.models_requests import ContactChange
from carepath.store.models_sources import Source
from carepath.store.scope import Actor, audit
from carepath.store.state_codec import stored_colour

#: The download's format name; a change of its fields that drops or renames one bumps it.
FORMAT = "carepath-her-data/1"

#: The channels she may stop and start on her page: what each withdraws, and what giving
#: again records (the same adapters as her registration form: ``registration_records``).
CHANNELS: dict[str, tuple[str, ...]] = {
    "wechat": ("wechat_template", "wechat_subscribe"),
    "sms": ("sms_tencent", "sms_aliyun"),
}
GIVE: dict[str, tuple[str, ...]] = {"wechat": ("wechat_template",), "sms": ("sms_tencent", "sms_aliyun")}
CHANNEL_ZH = {"wechat": "微信消息", "sms": "短信"}
#: Her notice version for a consent given again on her data page.
NOTICE_VERSION = "h5-my-data-2026-12"

ADAPTER_ZH = {
    "*": "全部渠道",
    "wechat_template": "微信公众号消息",
    "wechat_subscribe": "微信小程序订阅消息",
    "sms_tencent": "短信",
    "sms_aliyun": "短信",
    "webhook": "医院系统转发",
    "inbox": "孕期助手消息",
    "console": "孕期助手消息",
}
TOPIC_ZH = {
    "health-information": "处理我的健康信息（单独同意）",
    "privacy-notice": "已阅读隐私说明",
    "guardian": "监护人同意",
    "*": "接收消息",
}
BINDING_ZH = {"wechat_oa": "微信公众号", "wechat_mp": "微信小程序", "phone": "手机短信"}
STATUS_ZH = {"pregnant": "孕期中", "delivered": "已分娩", "ended": "已结束"}
COLOUR_ZH = {"green": "绿色（低风险）", "yellow": "黄色（一般风险）", "orange": "橙色（较高风险）",
             "red": "红色（高风险）", "purple": "紫色（传染性疾病）"}  # fmt: skip
DATING_ZH = {"lmp": "末次月经", "ultrasound": "B超", "ivf": "试管移植", "edd": "预产期"}
#: Tags that begin so are the care team's open questions (to assess, to confirm), not findings.
PROVISIONAL = ("待", "需")


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value else None


def _today(session: Session, hospital_id: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(hospital_settings.current(session, hospital_id).timezone)).date()


def _her(session: Session, hospital_id: str, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None or patient.hospital_id != hospital_id:
        raise her_requests.HerRequestNotFoundError(f"no patient {patient_id} in hospital {hospital_id}")
    return patient


def _identity(cipher: FieldCipher, patient: Patient) -> dict[str, Any]:
    def opened(value: str | None) -> str | None:
        return cipher.open(value) if value else None

    return {
        "name": opened(patient.name_sealed),
        "id_number": opened(patient.id_number_sealed),
        "phone": opened(patient.phone_sealed),
        "hospital_patient_number": patient.his_patient_id,
        "on_file_since": _iso(patient.created_at),
    }


def _registrations(session: Session, patient: Patient) -> list[dict[str, Any]]:
    found = []
    rows = session.scalars(
        select(Registration)
        .where(Registration.patient_id == patient.id, Registration.status == "done")
        .order_by(Registration.created_at)
    )
    for row in rows:
        source = session.scalar(select(Source).where(Source.code == row.source)) if row.source else None
        came: dict[str, Any] | None = None
        if source is not None and source.hospital_id == patient.hospital_id:
            department = session.get(Department, source.department_id) if source.department_id else None
            doctor = session.get(Staff, source.staff_id) if source.staff_id else None
            came = {
                "department": department.name if department else None,
                "doctor": doctor.name if doctor else None,
                "campaign": source.campaign,
            }
        found.append(
            {
                "reference": row.reference,
                "how": "h5",
                "submitted_at": _iso(row.created_at),
                "completed_at": _iso(row.completed_at),
                "source": came,
            }
        )
    return found


def _pregnancies(session: Session, patient: Patient, today: date) -> list[dict[str, Any]]:
    found = []
    rows = session.scalars(
        select(Pregnancy).where(Pregnancy.patient_id == patient.id).order_by(Pregnancy.number)
    )
    for pregnancy in rows:
        facts = pregnancy.state.get("facts", {}) if isinstance(pregnancy.state, dict) else {}
        text = pregnancy.state.get("edd") if isinstance(pregnancy.state, dict) else None
        edd = date.fromisoformat(text) if isinstance(text, str) else None
        days = gestational_days(edd, today) if edd is not None and pregnancy.status == "pregnant" else None
        colour = stored_colour(facts)
        dating = session.scalars(
            select(DatingRecord)
            .where(DatingRecord.pregnancy_id == pregnancy.id)
            .order_by(DatingRecord.recorded_at)
        )
        diagnoses = session.scalars(
            select(Diagnosis).where(Diagnosis.pregnancy_id == pregnancy.id).order_by(Diagnosis.added_at)
        )
        found.append(
            {
                "id": pregnancy.id,
                "number": pregnancy.number,
                "status": pregnancy.status,
                "status_zh": STATUS_ZH.get(pregnancy.status, pregnancy.status),
                "edd": _iso(edd),
                "gestational_age": format_gestational_age(days) if days is not None and days >= 0 else None,
                "dating": [
                    {
                        "method": d.method,
                        "method_zh": DATING_ZH.get(d.method, d.method),
                        "data": d.data,
                        "recorded_at": _iso(d.recorded_at),
                    }
                    for d in dating
                ],
                "diagnoses": [
                    {
                        "code": d.code,
                        "name": d.name,
                        "added_at": _iso(d.added_at),
                        "removed_at": _iso(d.removed_at),
                    }
                    for d in diagnoses
                ],
                "tags": [
                    {"tag": str(tag), "provisional": str(tag).startswith(PROVISIONAL)}
                    for tag in facts.get("tags", [])
                ],
                "risk_colour": colour["risk_colour"],
                "risk_colour_zh": COLOUR_ZH.get(colour["risk_colour"] or ""),
                "risk_colour_status": colour["risk_colour_status"],
                "created_at": _iso(pregnancy.created_at),
            }
        )
    return found


def _consents(session: Session, patient: Patient) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Consent).where(Consent.patient_id == patient.id).order_by(Consent.given_at, Consent.id)
    )
    return [
        {
            "channel": row.channel,
            "channel_zh": ADAPTER_ZH.get(row.channel, row.channel),
            "topic": row.topic,
            "topic_zh": TOPIC_ZH.get(row.topic, f"主题：{row.topic}"),
            "granted": row.granted,
            "notice_version": row.notice_version,
            "source": row.source,
            "given_at": _iso(row.given_at),
            "withdrawn_at": _iso(row.withdrawn_at),
        }
        for row in rows
    ]


def channel_states(session: Session, patient_id: int) -> dict[str, bool]:
    """For each channel of her page: does an active consent allow messages through it now?"""
    active = consents.active_consents(session, [patient_id]).get(patient_id, [])
    allowed = {r.channel for r in active if r.granted and r.topic == consents.ANY and r.pregnancy_id is None}
    return {name: any(a in allowed for a in adapters) for name, adapters in CHANNELS.items()}


def _bindings(session: Session, cipher: FieldCipher, patient: Patient) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(ChannelBinding)
        .where(ChannelBinding.patient_id == patient.id)
        .order_by(ChannelBinding.bound_at, ChannelBinding.id)
    )
    return [
        {
            "kind": row.kind,
            "kind_zh": BINDING_ZH.get(row.kind, row.kind),
            "value": cipher.open(row.value_sealed) if row.value_sealed else row.value,
            "bound_at": _iso(row.bound_at),
            "unbound_at": _iso(row.unbound_at),
            "blocked_at": _iso(row.blocked_at),
        }
        for row in rows
    ]


def _messages(session: Session, patient: Patient) -> list[dict[str, Any]]:
    rows = session.execute(
        select(InboxItem, OutboxRow.channel, OutboxRow.sent_at)
        .join(Pregnancy, Pregnancy.id == InboxItem.pregnancy_id)
        .outerjoin(OutboxRow, OutboxRow.dedupe_key == InboxItem.dedupe_key)
        .where(
            Pregnancy.patient_id == patient.id,
            InboxItem.hospital_id == patient.hospital_id,
            InboxItem.withdrawn_at.is_(None),
        )
        .order_by(InboxItem.filed_at, InboxItem.id)
    ).all()
    return [
        {
            "id": item.id,
            "title": item.title,
            "summary": item.summary,
            "body": item.body,
            "filed_at": _iso(item.filed_at),
            "read_at": _iso(item.read_at),
            "carried_by": channel,
            "carried_by_zh": ADAPTER_ZH.get(channel or "inbox", channel),
            "sent_at": _iso(sent_at),
        }
        for item, channel, sent_at in rows
    ]


def _answer_text(form: Any, item_id: str, value: Any) -> tuple[str, str]:
    """(the question, the answer) as she reads them: labels, not ids."""
    item = next((i for i in form.items if i.id == item_id), None) if form is not None else None
    if item is None:
        return item_id, str(value)
    if item.type == "date" and isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return item.label, value
        return item.label, f"{day.year}年{day.month}月{day.day}日"
    labels = {c.value: c.label for c in item.choices}
    values = value if isinstance(value, list) else [value]
    shown = "、".join(labels.get(str(v), str(v)) for v in values)
    if item.unit and not labels:
        shown = f"{shown} {item.unit}"
    return item.label, shown


def _answers(session: Session, patient: Patient) -> list[dict[str, Any]]:
    forms = form_answers.forms()
    rows = session.scalars(
        select(QuestionnaireResponse)
        .join(Pregnancy, Pregnancy.id == QuestionnaireResponse.pregnancy_id)
        .where(Pregnancy.patient_id == patient.id, QuestionnaireResponse.hospital_id == patient.hospital_id)
        .order_by(QuestionnaireResponse.submitted_at, QuestionnaireResponse.id)
    )
    found = []
    for row in rows:
        form = forms.get(row.form)
        shown = [
            dict(
                zip(("question", "answer"), _answer_text(form, key, value), strict=True),
                item=key,
                value=value,
            )
            for key, value in (row.answers or {}).items()
        ]
        score = row.score or {}
        found.append(
            {
                "id": row.id,
                "form": row.form,
                "title": form.title if form is not None else row.form,
                "pregnancy": row.pregnancy_id,
                "submitted_at": _iso(row.submitted_at),
                "answers": shown,
                "score": {"total": score.get("total"), "band": score.get("band")} if score else None,
            }
        )
    return found


def _contact_changes(session: Session, cipher: FieldCipher, patient: Patient) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(ContactChange)
        .where(ContactChange.patient_id == patient.id)
        .order_by(ContactChange.changed_at, ContactChange.id)
    )
    return [
        {
            "field": row.field,
            "old": cipher.open(row.old_sealed) if row.old_sealed else None,
            "new": cipher.open(row.new_sealed),
            "how": row.how,
            "changed_at": _iso(row.changed_at),
        }
        for row in rows
    ]


def held(
    db: Database,
    cipher: FieldCipher,
    hospital_id: str,
    patient_id: int,
    now: datetime,
    *,
    purpose: str = "page",
    remote_addr: str | None = None,
) -> dict[str, Any]:
    """Everything held about her (see the module), audited as ``read`` (``purpose`` ``page``)
    or ``export`` (``json``, ``print``)."""
    actor = Actor(hospital_id, "patient", str(patient_id), remote_addr)
    with db.transaction() as session:
        patient = _her(session, hospital_id, patient_id)
        hospital = session.get(Hospital, hospital_id)
        today = _today(session, hospital_id, now)
        found = {
            "format": FORMAT,
            "generated_at": now.isoformat(),
            "hospital": {"id": hospital_id, "name": hospital.name if hospital else hospital_id},
            "identity": _identity(cipher, patient),
            "registrations": _registrations(session, patient),
            "pregnancies": _pregnancies(session, patient, today),
            "consents": _consents(session, patient),
            "channels": channel_states(session, patient.id),
            "bindings": _bindings(session, cipher, patient),
            "messages": _messages(session, patient),
            "answers": _answers(session, patient),
            "contact_changes": _contact_changes(session, cipher, patient),
            "requests": [
                r.as_json() for r in her_requests.for_patient(session, cipher, hospital_id, patient.id)
            ],
            "retention_notice": her_requests.retention_notice(session, hospital_id),
        }
        if purpose == "page":
            audit(session, actor, "read", now, "her data page", patient_id=patient.id)
        else:
            counts = f"{len(found['messages'])} message(s), {len(found['answers'])} answer(s)"
            audit(session, actor, "export", now, f"her data, {purpose}: {counts}", patient_id=patient.id)
        return found


def set_channel(
    db: Database,
    *,
    hospital_id: str,
    patient_id: int,
    channel: str,
    give: bool,
    now: datetime,
    remote_addr: str | None = None,
) -> int:
    """Withdraw (``give`` False) or give again her consent to messages through ``channel``
    (``wechat`` or ``sms``); effective for the dispatcher's next claim. The rows changed."""
    if channel not in CHANNELS:
        raise KeyError(channel)
    actor = Actor(hospital_id, "patient", str(patient_id), remote_addr)
    with db.transaction() as session:
        # her row locked: two taps at once (two tabs) give one active consent, not two
        patient = session.scalar(
            select(Patient)
            .where(Patient.id == patient_id, Patient.hospital_id == hospital_id)
            .with_for_update()
        )
        if patient is None:
            raise her_requests.HerRequestNotFoundError(f"no patient {patient_id} in hospital {hospital_id}")
        changed = 0
        if give:
            active = {
                r.channel
                for r in consents.active_consents(session, [patient.id]).get(patient.id, [])
                if r.granted and r.topic == consents.ANY and r.pregnancy_id is None
            }
            for adapter in GIVE[channel]:
                if adapter in active:
                    continue
                consents.record_consent(
                    session, hospital_id=hospital_id, patient_id=patient.id, channel=adapter,
                    topic=consents.ANY, notice_version=NOTICE_VERSION, source="h5:my-data", at=now,
                )  # fmt: skip
                changed += 1
        else:
            for adapter in CHANNELS[channel]:
                changed += consents.withdraw_consent(
                    session, patient_id=patient.id, at=now, channel=adapter, topic=consents.ANY
                )
        word = "given" if give else "withdrawn"
        audit(
            session, actor, "change", now, f"consent {word} on her data page: {channel} ({changed} row(s))",
            patient_id=patient.id,
        )  # fmt: skip
        return changed
