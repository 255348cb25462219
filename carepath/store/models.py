"""The store's tables (SQLAlchemy 2). Every row belongs to a hospital (``hospital_id``).

Facts, enrolments, the outbox and dedupe keys belong to a *pregnancy*, so a woman's second
pregnancy starts clean while her history stays linked through ``patient_id``. ID numbers,
phone numbers and names are stored sealed (``*_sealed``) beside a keyed hash for exact lookup.
"""

from __future__ import annotations

from datetime import UTC as TZ_UTC
from datetime import date, datetime, time
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: BigInteger ids autoincrement on PostgreSQL; SQLite only autoincrements INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (naive UTC text) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a timezone")
        value = value.astimezone(TZ_UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=TZ_UTC) if value.tzinfo is None else value.astimezone(TZ_UTC)


UTC = UtcDateTime()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UTC}


class Hospital(Base):
    __tablename__ = "hospitals"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class HospitalSettingsRow(Base):
    """One hospital's settings (0009); ``store/hospital_settings.py`` owns the table, its
    defaults (a hospital without a row) and its validation. Scalars are typed columns; the
    on-call roster (staff contacts, never patient data) and the working hours are JSON."""

    __tablename__ = "hospital_settings"
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64))
    window_opens: Mapped[time] = mapped_column(Time)
    window_closes: Mapped[time] = mapped_column(Time)
    daily_cap: Mapped[int] = mapped_column(Integer)
    drafts_allowed: Mapped[bool] = mapped_column(default=False, server_default=false())
    emergency_phone: Mapped[str | None] = mapped_column(String(32))
    on_call: Mapped[list[Any]]
    working_hours: Mapped[dict[str, Any]]
    public_base_url: Mapped[str | None] = mapped_column(String(300))
    retention_notice: Mapped[str | None] = mapped_column(Text)  # 0022: what she is told is kept
    #: Replies that withdraw her SMS consent (0023); NULL: the defaults.
    sms_opt_out_keywords: Mapped[list[Any] | None] = mapped_column(JSON)
    id_reader_url: Mapped[str | None] = mapped_column(String(300))  # 0028: the desk's card reader
    version: Mapped[int] = mapped_column(Integer)  # 1 when created, +1 per change
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(120))  # "cli:alice", "staff:12", "import:<file>"


class Department(Base):
    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))


class Staff(Base):
    """A member of a hospital's staff. ``role`` is their job (doctor, nurse, ``lead`` receives
    escalations); ``roles`` are the permission roles of their login (``store/roles.py``).

    A staff member may log in once they have a ``username`` (unique across hospitals, so the
    login form needs no hospital) and a ``password_hash`` (argon2id). Bumping
    ``session_generation`` ends every session they have (password change, disabling).
    ``locked_at`` is set when failed logins from any address reach the account ceiling
    (``login_throttle.py``); only an admin's unlock clears it."""

    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(40))  # nurse, doctor, admin
    # --- logins (0006) ---
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    roles: Mapped[list[Any] | None] = mapped_column(JSON)
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    disabled_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime | None]
    # --- login lockout (0013) ---
    locked_at: Mapped[datetime | None]
    locked_reason: Mapped[str | None] = mapped_column(String(200))


class StaffSession(Base):
    """A browser session of a staff member: the cookie carries the token, this row its hash.

    Valid while ``generation`` equals the staff member's ``session_generation``, it was seen
    within the idle limit and is younger than the absolute limit; logout deletes the row."""

    __tablename__ = "staff_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the token
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    hospital_id: Mapped[str] = mapped_column(String(64))
    generation: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    remote_addr: Mapped[str | None] = mapped_column(String(64))


class LoginThrottle(Base):
    """Failed logins per username from one address (``pair:``), per address (``ip:``) and per
    username from anywhere (``user:``), shared by every process through the database;
    ``locked_until`` set once a limit is reached, ``held_at`` once the username's ceiling is
    (held until an admin unlocks it, whether or not the username exists)."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    first_failure_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    held_at: Mapped[datetime | None]  # 0013


class Integrator(Base):
    """A system that posts events (the HIS); event ids are unique per integrator."""

    __tablename__ = "integrators"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    __table_args__ = (UniqueConstraint("hospital_id", "name"),)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # the public key id
    integrator_id: Mapped[int] = mapped_column(ForeignKey("integrators.id"), index=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), index=True)
    secret_sealed: Mapped[str] = mapped_column(Text)  # needed to verify signatures
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Patient(Base):
    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), index=True)
    his_patient_id: Mapped[str | None] = mapped_column(String(64))
    name_sealed: Mapped[str | None] = mapped_column(Text)
    # keyed hash of the normalised name (``FieldCipher.name_hash``, 0026): find a woman by her
    # exact name with an index; filled for old rows by ``carepath db backfill-lookups``
    name_hash: Mapped[str | None] = mapped_column(String(64))
    id_number_sealed: Mapped[str | None] = mapped_column(Text)
    id_number_hash: Mapped[str | None] = mapped_column(String(64))
    phone_sealed: Mapped[str | None] = mapped_column(Text)
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    __table_args__ = (
        UniqueConstraint("hospital_id", "his_patient_id"),
        # unique (0019): one woman per ID number in a hospital (NULLs never collide)
        Index("ix_patients_id_number", "hospital_id", "id_number_hash", unique=True),
        Index("ix_patients_phone", "hospital_id", "phone_hash"),
        Index("ix_patients_name", "hospital_id", "name_hash"),
    )


class PatientGrant(Base):
    """A medical alliance shares one patient with another hospital only through a logged grant."""

    __tablename__ = "patient_grants"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))  # the owner
    grantee_hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), index=True)
    granted_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Pregnancy(Base):
    """One pregnancy: the engine state (facts, enrolments, pending) as versioned JSON."""

    __tablename__ = "pregnancies"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # her first, second ... pregnancy here
    his_pregnancy_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    state: Mapped[dict[str, Any]]
    # ``state``'s ``facts.risk_colour``, kept beside it on every write (0025): lists count and
    # filter by colour without reading each woman's whole state (docs/workspace-performance.md).
    risk_colour: Mapped[str | None] = mapped_column(String(16))
    # her EDD as her dating gives it now (the state's derived ``edd``), kept beside it on every
    # write (0026) because redating moves it: a week range is an indexed EDD range in SQL
    edd: Mapped[date | None] = mapped_column(Date)
    last_occurred_at: Mapped[datetime | None]  # latest external event applied
    evaluated_at: Mapped[datetime | None]
    next_wakeup: Mapped[datetime | None] = mapped_column(UTC)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    __table_args__ = (
        UniqueConstraint("hospital_id", "his_pregnancy_id"),
        Index("ix_pregnancies_edd", "hospital_id", "edd"),
        # the sweep's page in the index's order: women due at one moment are not sorted (0033)
        Index("ix_pregnancies_next_wakeup", "next_wakeup", "id"),
    )


class DatingRecord(Base):
    __tablename__ = "dating_records"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    pregnancy_id: Mapped[str] = mapped_column(ForeignKey("pregnancies.id"), index=True)
    method: Mapped[str] = mapped_column(String(20))  # lmp, ultrasound, ivf, edd
    data: Mapped[dict[str, Any]]
    recorded_at: Mapped[datetime]
    event_row_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))


class Diagnosis(Base):
    __tablename__ = "diagnoses"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    pregnancy_id: Mapped[str] = mapped_column(ForeignKey("pregnancies.id"), index=True)
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(200))
    who_code: Mapped[str | None] = mapped_column(String(16))  # its WHO code (0005), None: unknown
    added_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]
    event_row_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))


class TagLog(Base):
    """Who or which rule added or removed a tag, when and why."""

    __tablename__ = "tag_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    pregnancy_id: Mapped[str] = mapped_column(ForeignKey("pregnancies.id"), index=True)
    tag: Mapped[str] = mapped_column(String(40))
    operation: Mapped[str] = mapped_column(String(8))  # add | remove
    by: Mapped[str] = mapped_column(String(200))  # "rule gdm@v/welcome" or "event his-..."
    why: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(400), unique=True)
    at: Mapped[datetime]


class EventRecord(Base):
    """An event as received: unique on (integrator, event id); the answer is kept for replays."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), index=True)
    integrator_id: Mapped[int] = mapped_column(ForeignKey("integrators.id"))
    event_id: Mapped[str] = mapped_column(String(128))
    body_hash: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    pregnancy_id: Mapped[str | None] = mapped_column(ForeignKey("pregnancies.id"), index=True)
    data: Mapped[dict[str, Any]]
    answer: Mapped[dict[str, Any]]
    __table_args__ = (UniqueConstraint("integrator_id", "event_id"),)


class PathwayVersion(Base):
    """A pathway version: immutable once published; ``hospital_id`` None means built-in."""

    __tablename__ = "pathway_versions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str | None] = mapped_column(ForeignKey("hospitals.id"), index=True)
    pathway_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # draft, in-review, published, retired
    author: Mapped[str] = mapped_column(String(100))
    reviewer: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    __table_args__ = (UniqueConstraint("hospital_id", "pathway_id", "version"),)


class EnrolmentRecord(Base):
    __tablename__ = "enrolments"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # the engine's enrolment id
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    pregnancy_id: Mapped[str] = mapped_column(ForeignKey("pregnancies.id"), index=True)
    pathway_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(String(200))


class OutboxRow(Base):
    """One action the engine decided; the unique dedupe key makes re-evaluation harmless."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), index=True)
    pregnancy_id: Mapped[str] = mapped_column(ForeignKey("pregnancies.id"), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(400), unique=True)
    pathway_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(80))
    rule_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]]
    due_at: Mapped[datetime]
    slot: Mapped[str | None] = mapped_column(String(64))
    channels: Mapped[list[Any]]
    enrolment_id: Mapped[str] = mapped_column(String(200))
    why: Mapped[str] = mapped_column(Text)
    #: due in_flight sent skipped failed dead cancelled replaced applied held (unapproved content)
    status: Mapped[str] = mapped_column(String(12))
    status_reason: Mapped[str | None] = mapped_column(Text)
    replaced_by: Mapped[str | None] = mapped_column(String(400))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    event_row_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # --- delivery (0002) ---
    channel: Mapped[str | None] = mapped_column(String(40))  # the channel of the last attempt
    in_flight_at: Mapped[datetime | None]  # the provider call of the current attempt began
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # the worker task that put it in flight
    provider_message_id: Mapped[str | None] = mapped_column(String(128))
    sent_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]  # not before (backoff, window, cap, quota)
    first_attempt_at: Mapped[datetime | None]
    unknown_since: Mapped[datetime | None]  # first call whose outcome is unknown
    failed_channels: Mapped[list[Any] | None] = mapped_column(JSON)
    inbox_item_id: Mapped[int | None] = mapped_column(BigId)
    dead_reason: Mapped[str | None] = mapped_column(Text)
    # --- receipts (0004): what the provider reported after accepting it, and her read mark ---
    receipt_status: Mapped[str | None] = mapped_column(String(12))  # delivered | blocked | failed
    receipt_detail: Mapped[str | None] = mapped_column(String(200))  # the provider's own words
    receipt_at: Mapped[datetime | None]  # when the provider's report says it happened
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]  # she opened its inbox item
    # --- approval (0011): the SHA-256 of the content item's (else the form's) text as sent ---
    content_version: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (
        # the dispatcher's batch in the index's order (0033)
        Index("ix_outbox_status_due", "status", "due_at", "id"),
        # A provider callback names the message by its id: found within one hospital's channel.
        Index("ix_outbox_provider_message", "hospital_id", "channel", "provider_message_id"),
    )


class Consent(Base):
    """One consent given (or a topic refused) by her: per purpose and channel, PIPL art. 29.

    ``channel`` is an adapter name, or ``*`` for every channel; ``topic`` is
    ``health-information`` (the separate opt-in to processing health information), ``*`` (all
    messages through ``channel``) or one content item / form she turned off (``granted`` false).
    A row is active until ``withdrawn_at``; withdrawing is one call, and the dispatcher reads
    consent before every claim, so it stops external messages at once.
    """

    __tablename__ = "consents"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    pregnancy_id: Mapped[str | None] = mapped_column(ForeignKey("pregnancies.id"))  # None: all
    channel: Mapped[str] = mapped_column(String(40))
    topic: Mapped[str] = mapped_column(String(64))
    granted: Mapped[bool]
    notice_version: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(40))  # mini-program, paper, his, staff:<id>
    given_at: Mapped[datetime]
    #: How she gave it when staff record it (0028): ``paper`` (signed) or ``tablet`` (at the
    #: desk); NULL when she gave it herself on her pages or the HIS sent it.
    method: Mapped[str | None] = mapped_column(String(20))
    withdrawn_at: Mapped[datetime | None]


class ChannelBinding(Base):
    """How one woman is reached on a channel: an openid per WeChat account, or her phone
    (sealed, with a keyed hash). ``kind``: ``wechat_oa``, ``wechat_mp`` or ``phone``."""

    __tablename__ = "channel_bindings"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    account: Mapped[str] = mapped_column(String(64))  # the appid, or "" for a phone
    value: Mapped[str | None] = mapped_column(String(128))  # openid
    value_sealed: Mapped[str | None] = mapped_column(Text)  # phone
    value_hash: Mapped[str | None] = mapped_column(String(64))
    bound_at: Mapped[datetime]
    unbound_at: Mapped[datetime | None]
    #: The provider reported that she blocked this account's messages (0004): the policy no
    #: longer sees the binding, so her next message falls back to the next channel.
    blocked_at: Mapped[datetime | None]
    # --- the official account's own events (0023, ``store/binding_events.py``) ---
    #: She unfollowed the account (``unsubscribe``): the policy no longer sees the binding and
    #: her next message falls back; a re-follow of the same openid clears it.
    unsubscribed_at: Mapped[datetime | None]
    #: The customer-service messages her last interaction allows (docs/channels.md): how many are
    #: left, until when. Written by the callback; ``binding_events.use_service_message`` spends one.
    service_window_until: Mapped[datetime | None]
    service_window_left: Mapped[int | None] = mapped_column(Integer)


class InboxItem(Base):
    """Her in-app inbox: the full text of every item lives here, behind her login."""

    __tablename__ = "inbox_items"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    pregnancy_id: Mapped[str] = mapped_column(ForeignKey("pregnancies.id"), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(400), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    filed_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
    # A congratulation taken back once a baby of hers was lost (store/congratulations.py): she
    # no longer sees it; staff see it withdrawn, with the reason.
    withdrawn_at: Mapped[datetime | None]
    withdrawn_reason: Mapped[str | None] = mapped_column(String(40))


class DeliveryPause(Base):
    """A kill switch: ``scope`` ``all``, ``pathway``, ``channel`` or ``pregnancy`` (a suspected
    loss holds every message to her, issue 16 item 7; ``target`` names which);
    ``hospital_id`` ``*`` pauses every hospital. The policy reads these before every claim."""

    __tablename__ = "delivery_pauses"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(12))
    target: Mapped[str] = mapped_column(String(64))
    paused_by: Mapped[str] = mapped_column(String(120))
    paused_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("hospital_id", "scope", "target"),)


class ChannelQuota(Base):
    """A channel whose provider quota is spent for a hospital, until ``until``."""

    __tablename__ = "channel_quotas"
    hospital_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(40), primary_key=True)
    until: Mapped[datetime]


class QuestionnaireResponse(Base):
    """Her answers to a form. Posted through ``/api/v1/responses`` it carries the integrator's
    response id (unique per integrator, like event ids) and its score; through a
    ``questionnaire.submitted`` event, neither."""

    __tablename__ = "questionnaire_responses"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    pregnancy_id: Mapped[str] = mapped_column(ForeignKey("pregnancies.id"), index=True)
    form: Mapped[str] = mapped_column(String(64))
    answers: Mapped[dict[str, Any]]
    submitted_at: Mapped[datetime]
    event_row_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    # --- intake (0005) ---
    integrator_id: Mapped[int | None] = mapped_column(ForeignKey("integrators.id"))
    response_id: Mapped[str | None] = mapped_column(String(128))
    score: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # total, band, flags, complete
    __table_args__ = (UniqueConstraint("integrator_id", "response_id"),)


class Icd10Code(Base):
    """A hospital's own ICD-10 catalogue (national clinical edition codes such as ``O24.401``),
    each mapped to the WHO code it extends (``who_code``, None when it extends none)."""

    __tablename__ = "icd10_codes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"))
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    who_code: Mapped[str | None] = mapped_column(String(16))
    imported_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("hospital_id", "code"),)


class StaffTask(Base):
    __tablename__ = "staff_tasks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), index=True)
    pregnancy_id: Mapped[str] = mapped_column(ForeignKey("pregnancies.id"), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(400), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    assign: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))  # open, done, cancelled
    created_at: Mapped[datetime]
    # Work on the task (issue 9 item 6): who claimed it, its outcome, escalation when overdue.
    form: Mapped[str | None] = mapped_column(String(64))  # an outcome form, e.g. a call script's
    script: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(120))
    claimed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(Text)
    outcome_answers: Mapped[str | None] = mapped_column(Text)  # JSON of the outcome form's answers
    done_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    # Resolved when created (issue 20, ``store/care_teams.py``): whose queue, and for whom.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("care_teams.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)


class SchedulerLease(Base):
    """Only one scheduler runs against a database; on SQLite it holds this row (PostgreSQL
    uses an advisory lock), renewed while it runs and taken over only once it has expired."""

    __tablename__ = "scheduler_leases"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))  # host:pid, shown to a second scheduler
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class PipelineHeartbeat(Base):
    """The last run of each scheduler job (``sweep``, ``dispatch``, ``escalate``): one row per
    job, updated once per run by the scheduler holding the lock, read by ``/healthz/pipeline``
    in any process (the scheduler may run beside another process's API)."""

    __tablename__ = "pipeline_heartbeats"
    job: Mapped[str] = mapped_column(String(40), primary_key=True)
    ran_at: Mapped[datetime]  # when the run finished (the scheduler's clock)
    count: Mapped[int] = mapped_column(Integer)  # pregnancies woken, messages sent, tasks escalated
    holder: Mapped[str] = mapped_column(String(200))  # host:pid of the scheduler that ran it


class ProviderToken(Base):
    """A provider's access token (WeChat's stable token, per account) shared by every process
    that sends: ``channels.db_tokens.DatabaseTokenStore``. The row is also the refresh lock
    (``SELECT ... FOR UPDATE`` on PostgreSQL). Not patient data; a credential valid two hours."""

    __tablename__ = "provider_tokens"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # "wechat:token:<appid>"
    value: Mapped[str] = mapped_column(Text)  # "" until the first refresh
    expires_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RequestNonce(Base):
    """A signed request's nonce (``X-Carepath-Nonce``), kept until the request's timestamp is
    out of the replay window, so a second use of it is refused (``store/nonces.py``). The
    primary key is the insert-or-fail check; ``expires_at`` lets expired rows be purged."""

    __tablename__ = "request_nonces"
    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class AuditEntry(Base):
    """Who read or changed which patient, when, from where (kept at least six months)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(120))  # "integrator:3", "staff:12"
    action: Mapped[str] = mapped_column(String(20))  # read, list, change, export, login, logout ...
    patient_id: Mapped[int | None] = mapped_column(BigId)
    pregnancy_id: Mapped[str | None] = mapped_column(String(80))
    detail: Mapped[str] = mapped_column(Text)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime]
    # --- refusals (0010): repeated refusals fold into one row per actor, target kind and
    # minute (``store/audit.py``); ``count`` is 1 for every other row, ``fold_key`` NULL.
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    fold_key: Mapped[str | None] = mapped_column(String(200), index=True, unique=True)
    # --- the viewer (0029): keyset pages newest first, for the hospital, one woman, one actor
    __table_args__ = (
        Index("ix_audit_log_hospital_at", "hospital_id", "at", "id"),
        Index("ix_audit_log_patient_at", "patient_id", "at", "id"),
        Index("ix_audit_log_actor_at", "hospital_id", "actor", "at", "id"),
    )


# --- authoring (0007): a hospital's own copies of pathways, content items and forms ---------


class LibraryDocument(Base):
    """A hospital's own copy of one library document: ``kind`` pathway, content or form,
    ``name`` the pathway id, content key or form id. ``upstream_hash`` is the SHA-256 of the
    shipped text it was copied or last adopted from (None: the hospital's own document);
    ``dismissed_hash`` an upstream text the hospital chose not to adopt."""

    __tablename__ = "library_documents"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    upstream_hash: Mapped[str | None] = mapped_column(String(64))
    dismissed_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("hospital_id", "kind", "name"),)


class DocumentVersion(Base):
    """One numbered version of a document: a draft (edited in place, ``revision`` counting the
    saves for optimistic concurrency), then in_review, published (immutable) or retired.
    A published pathway is also a ``PathwayVersion`` (``pathway_version_id``), what the
    engine loads; ``engine_version`` is the compiler's content hash."""

    __tablename__ = "document_versions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("library_documents.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # draft, in_review, published, retired
    origin: Mapped[str] = mapped_column(String(16))  # library, edit, upstream, rollback
    based_on_id: Mapped[int | None] = mapped_column(BigId)  # the version it started from
    upstream_hash: Mapped[str | None] = mapped_column(String(64))  # origin library/upstream
    source: Mapped[str] = mapped_column(Text)
    source_hash: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int] = mapped_column(BigId)
    author_name: Mapped[str] = mapped_column(String(100))
    saved_by_id: Mapped[int] = mapped_column(BigId)
    saved_by_name: Mapped[str] = mapped_column(String(100))
    saved_at: Mapped[datetime]
    round: Mapped[int] = mapped_column(Integer, default=0)  # review rounds: bumps at submit
    submitted_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    published_by_id: Mapped[int | None] = mapped_column(BigId)
    published_by_name: Mapped[str | None] = mapped_column(String(100))
    migrate: Mapped[bool | None]  # pathways: enrolled women moved to it (True) or stayed pinned
    engine_version: Mapped[str | None] = mapped_column(String(80))
    pathway_version_id: Mapped[int | None] = mapped_column(ForeignKey("pathway_versions.id"))
    retired_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("document_id", "number"),)


class DocumentReview(Base):
    """One reviewer's decision on one review round of a version."""

    __tablename__ = "document_reviews"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("document_versions.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    reviewer_id: Mapped[int] = mapped_column(BigId)
    reviewer_name: Mapped[str] = mapped_column(String(100))
    decision: Mapped[str] = mapped_column(String(8))  # approve, reject
    comment: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    __table_args__ = (UniqueConstraint("version_id", "round", "reviewer_id"),)


class ReviewPolicy(Base):
    """A hospital's review steps (审核流程配置): approvals needed and the roles that may review.
    Without a row: one approval, by a reviewer or a doctor."""

    __tablename__ = "review_policies"
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), primary_key=True)
    approvals: Mapped[int] = mapped_column(Integer)
    roles: Mapped[list[Any]]
    updated_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime]


class DocumentEvent(Base):
    """The history of a document: created, submitted, approved, rejected, published, retired,
    rolled back, upstream adopted or dismissed; by whom, when, with the comment."""

    __tablename__ = "document_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hospital_id: Mapped[str] = mapped_column(ForeignKey("hospitals.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("library_documents.id"), index=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("document_versions.id"))
    action: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(120))  # "staff:12"
    actor_name: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


# Tables that live in modules of their own (this one is long enough); imported here so that
# every user of ``Base.metadata`` (alembic, the tests' cleanup) sees them.
from carepath.store import models_on_call, models_teams  # noqa: E402, F401
