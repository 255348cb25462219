"""Sources: where a woman came from — the one home of that idea (issue 18).

A source is a hospital's entry point: a poster (hospital-wide or a department's), a doctor's
card, a campaign. The booking issue (a slot booked from a doctor's card) and the back-office
issue (reports per department, doctor and campaign) **extend this module and its tables**
(``models_sources.py``): a new kind of entry point is a new column or a new ``how``, never a
second table of origins.

What a source is for:
- its short ``code`` makes the short URL ``<public base URL>/h5/s/<code>`` (``short_path``),
  printed and drawn as a QR code by segno for print and SMS outside WeChat;
- its WeChat scene ``src_<code>`` (``scene_of``) is the scene of the official account's
  parametric QR code: scanning it follows the account, and the callback's ``subscribe`` /
  ``SCAN`` event carries the scene back (``find_by_scene``);
- it counts scans, follows and registrations (``counts``).

**Counts come from an append-only event log, not a counter row.** Under concurrency (a poster
at the clinic door, fifty women at once; WeChat's retried callbacks) each scan is one INSERT:
writers never wait on one hot row, no increment is lost, and the unique ``dedupe_key`` makes a
retried callback or a double submit count once (``INSERT ... ON CONFLICT DO NOTHING``, no read
first). A counter row could do the first two but not the third without a log beside it; and
the log also gives the back office its counts per day and tells registration where a woman who
followed first came from (``source_for_openid``). Counting is a ``GROUP BY`` over an index on
``(source_id, kind)``.

What counts:
- ``scan``: the short URL opened (once per browser session: a reload does not count again), a
  ``SCAN`` event (she already follows), and the scan inside a ``subscribe`` event;
- ``follow``: a ``subscribe`` event carrying the source's scene (she followed through it);
- ``registration``: her registration submitted from it (``record_registration``, called by the
  registration service in its own transaction), once per patient and pregnancy.

Services here take a ``Session``: the caller owns the transaction, so a registration and its
count commit together. ``Database``-level helpers are for the CLI and pages.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store.crypto import FieldCipher
from carepath.store.models import Department, Hospital, Patient, Staff
from carepath.store.models_sources import Source, SourceEvent
from carepath.store.models_teams import CareTeam

PERMANENT = "permanent"  # posters, doctors' cards
TEMPORARY = "temporary"  # campaigns
QR_KINDS = (PERMANENT, TEMPORARY)
#: WeChat allows at most 100,000 permanent parametric QR codes per official account
#: (``QR_LIMIT_STR_SCENE``; docs/channels.md): refused here before WeChat refuses.
PERMANENT_LIMIT = 100_000
#: A temporary code lives at most 2,592,000 s (30 days) at WeChat (``expire_seconds``).
TEMPORARY_MAX_DAYS = 30

SCAN = "scan"
FOLLOW = "follow"
REGISTRATION = "registration"
EVENT_KINDS = (SCAN, FOLLOW, REGISTRATION)

HOW_WECHAT_QR = "wechat-qr"  # the official account's parametric QR code (its callback's events)
HOW_LINK_WECHAT = "link-wechat"  # the short URL opened in WeChat's own browser
HOW_LINK = "link"  # the short URL in any other browser (a printed segno code, an SMS)
HOW_FORM = "form"  # her registration form
HOWS = (HOW_WECHAT_QR, HOW_LINK_WECHAT, HOW_LINK, HOW_FORM)

SCENE_PREFIX = "src_"  # other scenes (a binding QR shown from her record) get their own prefix
#: Short codes: no 0/o, 1/l/i, so a code read aloud or typed from a poster is not mistaken.
CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_LENGTH = 8


class SourceError(CarepathError):
    """A source that cannot be made as asked (an unknown department or doctor, bad days)."""

    code = "source-invalid"


class UnknownHospitalError(CarepathError):
    code = "unknown-hospital"


class PermanentLimitError(CarepathError):
    code = "qr-permanent-limit"


@dataclass(frozen=True)
class Counts:
    scans: int = 0
    follows: int = 0
    registrations: int = 0


@dataclass(frozen=True)
class SourceView:
    """A source as lists and the CLI show it, with its counts."""

    id: int
    hospital_id: str
    code: str
    qr_kind: str
    department: str | None
    doctor: str | None
    campaign: str | None
    expires_at: datetime | None
    wechat_appid: str | None
    wechat_ticket: str | None
    wechat_url: str | None
    created_at: datetime
    counts: Counts

    @property
    def scene(self) -> str:
        return scene_of(self.code)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hospital": self.hospital_id,
            "code": self.code,
            "qr_kind": self.qr_kind,
            "department": self.department,
            "doctor": self.doctor,
            "campaign": self.campaign,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "wechat_scene": self.scene,
            "wechat_appid": self.wechat_appid,
            "wechat_ticket": self.wechat_ticket,
            "wechat_url": self.wechat_url,
            "created_at": self.created_at.isoformat(),
            "counts": {
                "scans": self.counts.scans,
                "follows": self.counts.follows,
                "registrations": self.counts.registrations,
            },
        }


@dataclass(frozen=True)
class Planned:
    """A source checked and given a code, before WeChat is asked for its QR code: the CLI asks
    WeChat between ``plan`` and ``create`` (no transaction held open over a network call)."""

    hospital_id: str
    code: str
    qr_kind: str
    department_id: int | None
    staff_id: int | None
    campaign: str | None
    expires_at: datetime | None
    expire_seconds: int | None  # a temporary code's life at WeChat
    team_id: int | None = None  # the care team a woman registering through it joins (issue 20)

    @property
    def scene(self) -> str:
        return scene_of(self.code)


@dataclass(frozen=True)
class WechatQr:
    """The official account's answer to ``qrcode/create``."""

    appid: str
    ticket: str
    url: str


def scene_of(code: str) -> str:
    return f"{SCENE_PREFIX}{code}"


def code_of_scene(scene: str) -> str | None:
    """The source code a WeChat scene names, or None for a scene that is not a source's."""
    if not scene.startswith(SCENE_PREFIX):
        return None
    code = scene[len(SCENE_PREFIX) :]
    return code if _is_code(code) else None


def short_path(code: str) -> str:
    return f"/h5/s/{code}"


def short_url(base_url: str, code: str) -> str:
    return base_url.rstrip("/") + short_path(code)


def openid_hash(cipher: FieldCipher, appid: str, openid: str) -> str:
    """The keyed hash kept of an openid seen on a scan or follow (never the openid itself)."""
    return cipher.lookup_hash("openid", f"{appid}:{openid}")


def _is_code(code: str) -> bool:
    return 0 < len(code) <= 16 and all(c in CODE_ALPHABET for c in code)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


# --- making sources -------------------------------------------------------------------------


def plan(
    session: Session,
    hospital_id: str,
    now: datetime,
    *,
    department: str | None = None,
    doctor: str | None = None,
    campaign: str | None = None,
    days: int | None = None,
    wechat_appid: str | None = None,
    team: int | None = None,
) -> Planned:
    """Check a new source and give it an unused code. ``department``: its name or id;
    ``doctor``: a staff member's id or username; ``campaign`` with ``days`` (1–30) makes a
    temporary code, anything else a permanent one (refused once ``wechat_appid`` has
    ``PERMANENT_LIMIT`` of them)."""
    if session.get(Hospital, hospital_id) is None:
        raise UnknownHospitalError(f"no hospital {hospital_id!r}")
    department_id = _department(session, hospital_id, department) if department else None
    staff_id = _doctor(session, hospital_id, doctor) if doctor else None
    campaign = (campaign or "").strip() or None
    if campaign is not None and len(campaign) > 100:
        raise SourceError("a campaign's name is at most 100 characters")
    if (campaign is None) != (days is None):
        raise SourceError("a campaign needs --days (its QR code is temporary), and --days a campaign")
    expires_at, seconds = None, None
    if days is not None:
        if not 1 <= days <= TEMPORARY_MAX_DAYS:
            raise SourceError(
                f"a campaign lasts 1 to {TEMPORARY_MAX_DAYS} days (WeChat's temporary codes live"
                f" at most 30 days), not {days}"
            )
        seconds = days * 86400
        expires_at = now + timedelta(seconds=seconds)
    qr_kind = TEMPORARY if days is not None else PERMANENT
    if qr_kind == PERMANENT and wechat_appid:
        made = session.scalar(
            select(func.count())
            .select_from(Source)
            .where(Source.wechat_appid == wechat_appid, Source.qr_kind == PERMANENT)
        )
        if (made or 0) >= PERMANENT_LIMIT:
            raise PermanentLimitError(
                f"account {wechat_appid} already has {PERMANENT_LIMIT:,} permanent QR codes,"
                " WeChat's limit: make a campaign's temporary code instead"
            )
    code = new_code()
    while session.scalar(select(Source.id).where(Source.code == code)) is not None:
        code = new_code()  # 31**8 codes: a second try is rare, a third rarer still
    team_id = _team(session, hospital_id, team) if team is not None else None
    return Planned(
        hospital_id, code, qr_kind, department_id, staff_id, campaign, expires_at, seconds, team_id
    )


def create(
    session: Session, planned: Planned, now: datetime, created_by: str, wechat: WechatQr | None = None
) -> Source:
    """Insert a planned source (with its WeChat code, when one was made)."""
    source = Source(
        hospital_id=planned.hospital_id,
        code=planned.code,
        qr_kind=planned.qr_kind,
        department_id=planned.department_id,
        staff_id=planned.staff_id,
        team_id=planned.team_id,
        campaign=planned.campaign,
        expires_at=planned.expires_at,
        wechat_appid=wechat.appid if wechat else None,
        wechat_ticket=wechat.ticket if wechat else None,
        wechat_url=wechat.url if wechat else None,
        created_at=now,
        created_by=created_by[:120],
    )
    session.add(source)
    session.flush()
    return source


def _team(session: Session, hospital_id: str, team_id: int) -> int:
    """An active care team of the hospital (docs/care-teams.md: she joins it at registration)."""
    found = session.scalar(
        select(CareTeam.id).where(
            CareTeam.id == team_id, CareTeam.hospital_id == hospital_id, CareTeam.archived_at.is_(None)
        )
    )
    if found is None:
        raise SourceError(f"no active care team {team_id} in hospital {hospital_id!r}")
    return found


def _department(session: Session, hospital_id: str, given: str) -> int:
    query = select(Department.id).where(Department.hospital_id == hospital_id)
    found = session.scalars(query.where(Department.name == given)).all()
    if not found and given.isdigit():
        found = session.scalars(query.where(Department.id == int(given))).all()
    if len(found) != 1:
        what = "no department" if not found else "several departments"
        raise SourceError(f"{what} {given!r} in hospital {hospital_id!r}")
    return found[0]


def _doctor(session: Session, hospital_id: str, given: str) -> int:
    query = select(Staff).where(Staff.hospital_id == hospital_id)
    staff = session.scalars(query.where(Staff.username == given)).first()
    if staff is None and given.isdigit():
        staff = session.scalars(query.where(Staff.id == int(given))).first()
    if staff is None:
        raise SourceError(f"no staff member {given!r} in hospital {hospital_id!r}")
    if staff.disabled_at is not None:
        raise SourceError(f"staff member {given!r} is disabled")
    return staff.id


# --- finding them ---------------------------------------------------------------------------


def find_by_code(session: Session, code: str) -> Source | None:
    if not _is_code(code):
        return None
    return session.scalars(select(Source).where(Source.code == code)).first()


def find_by_scene(session: Session, hospital_id: str, scene: str) -> Source | None:
    """The hospital's source a WeChat scene names (another hospital's never)."""
    code = code_of_scene(scene)
    source = find_by_code(session, code) if code else None
    return source if source is not None and source.hospital_id == hospital_id else None


def source_for_openid(session: Session, hospital_id: str, hashed_openid: str) -> Source | None:
    """Where a woman who scanned or followed before registering came from: the source of her
    latest scan or follow (``openid_hash``), for registration to attribute and link her."""
    return session.scalars(
        select(Source)
        .join(SourceEvent, SourceEvent.source_id == Source.id)
        .where(
            SourceEvent.hospital_id == hospital_id,
            SourceEvent.openid_hash == hashed_openid,
            SourceEvent.kind.in_((SCAN, FOLLOW)),
        )
        .order_by(SourceEvent.at.desc(), SourceEvent.id.desc())
        .limit(1)
    ).first()


# --- what happened through them ---------------------------------------------------------------


def _record(session: Session, source: Source, kind: str, how: str, now: datetime, **extra: Any) -> bool:
    """Append one event; False when its dedupe key was already there (nothing written)."""
    if how not in HOWS:
        raise ValueError(f"unknown way {how!r}; known: {', '.join(HOWS)}")
    values = {"hospital_id": source.hospital_id, "source_id": source.id, "kind": kind, "how": how, "at": now}
    values.update(extra)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(SourceEvent).values(**values).on_conflict_do_nothing().returning(SourceEvent.id)
    return session.execute(statement).first() is not None


def record_scan(
    session: Session,
    source: Source,
    how: str,
    now: datetime,
    *,
    openid_hash: str | None = None,
    dedupe_key: str | None = None,
) -> bool:
    """A scan of ``source`` (``how``: one of ``HOWS``); False when ``dedupe_key`` was seen."""
    return _record(session, source, SCAN, how, now, openid_hash=openid_hash, dedupe_key=dedupe_key)


def record_follow(
    session: Session, source: Source, now: datetime, *, openid_hash: str, dedupe_key: str | None = None
) -> bool:
    """She followed the account through ``source``'s QR code (a ``subscribe`` event)."""
    return _record(
        session, source, FOLLOW, HOW_WECHAT_QR, now, openid_hash=openid_hash, dedupe_key=dedupe_key
    )


def record_registration(
    session: Session, source: Source, patient: Patient, now: datetime, *, pregnancy_id: str | None = None
) -> bool:
    """Her registration came from ``source``: once per patient and pregnancy (a double submit,
    or a retried one, counts once). Call it in the registration's own transaction."""
    key = f"registration:{patient.id}:{pregnancy_id or ''}"
    return _record(session, source, REGISTRATION, HOW_FORM, now, patient_id=patient.id, dedupe_key=key)


def counts(session: Session, source_ids: Iterable[int]) -> dict[int, Counts]:
    """Scans, follows and registrations per source (every id given has an entry)."""
    ids = list(source_ids)
    found: dict[int, dict[str, int]] = {i: {} for i in ids}
    if ids:
        rows = session.execute(
            select(SourceEvent.source_id, SourceEvent.kind, func.count())
            .where(SourceEvent.source_id.in_(ids))
            .group_by(SourceEvent.source_id, SourceEvent.kind)
        ).all()
        for source_id, kind, number in rows:
            found[source_id][kind] = number
    return {i: Counts(c.get(SCAN, 0), c.get(FOLLOW, 0), c.get(REGISTRATION, 0)) for i, c in found.items()}


def views(session: Session, sources: list[Source]) -> list[SourceView]:
    """Sources with their department's and doctor's names and their counts."""
    numbers = counts(session, [s.id for s in sources])
    departments = _names(session, Department, {s.department_id for s in sources})
    doctors = _names(session, Staff, {s.staff_id for s in sources})
    return [
        SourceView(
            id=s.id,
            hospital_id=s.hospital_id,
            code=s.code,
            qr_kind=s.qr_kind,
            department=departments.get(s.department_id) if s.department_id else None,
            doctor=doctors.get(s.staff_id) if s.staff_id else None,
            campaign=s.campaign,
            expires_at=s.expires_at,
            wechat_appid=s.wechat_appid,
            wechat_ticket=s.wechat_ticket,
            wechat_url=s.wechat_url,
            created_at=s.created_at,
            counts=numbers[s.id],
        )
        for s in sources
    ]


def _names(session: Session, model: Any, ids: set[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = session.execute(select(model.id, model.name).where(model.id.in_(wanted))).all()
    return {int(row[0]): str(row[1]) for row in rows}


def list_sources(session: Session, hospital_id: str) -> list[SourceView]:
    """A hospital's sources, oldest first, with their counts."""
    if session.get(Hospital, hospital_id) is None:
        raise UnknownHospitalError(f"no hospital {hospital_id!r}")
    rows = session.scalars(select(Source).where(Source.hospital_id == hospital_id).order_by(Source.id)).all()
    return views(session, list(rows))
