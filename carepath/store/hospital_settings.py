"""One home for a hospital's settings: the ``hospital_settings`` row, its defaults and its rules.

A hospital without a row has the defaults of ``HospitalSettings``. ``FIELDS`` is the table of
settings: each with its parser (``setting_values.py``), an English description (the CLI) and
a Chinese label (the back-office page to come). ``update`` validates every value given before
anything is written — all refusals at once, each located and coded — then writes the row in
the caller's transaction, bumps ``version`` and audits each change, old → new. Staff roster
phones are staff contact data; no patient's phone number comes near this table.

Running processes read settings through ``CACHE`` (``current``): a change made in another
process is used within ``CACHE_SECONDS``; in the process that made it, at once; outbox rows
held for the old window or cap are decided again once every process has the new ones. The send
window and the daily cap used to live in a channels file's ``delivery:`` section:
``import_delivery`` copies them into a hospital's row once, when it has none; from then on the
database wins and a differing file value is logged once as ignored. Secrets stay in the
environment; nothing here is secret.
"""

from __future__ import annotations

import json
import logging
import threading
import time as time_module
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from functools import cached_property
from types import MappingProxyType
from typing import Any

from sqlalchemy import select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from carepath.engine.timing import SendWindow
from carepath.errors import CarepathError
from carepath.store import held_content
from carepath.store import setting_values as values
from carepath.store.db import Database
from carepath.store.models import Hospital, HospitalSettingsRow, OutboxRow
from carepath.store.scope import Actor, audit
from carepath.store.setting_values import BadValue, Hours, OnCall

log = logging.getLogger(__name__)

#: A change made in another process is used by this one within this many seconds.
CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class HospitalSettings:
    """A hospital's settings; these defaults are what a hospital without a row has.
    ``version`` 0 means no row yet."""

    timezone: str = "Asia/Shanghai"
    window_opens: time = time(9, 0)
    window_closes: time = time(20, 0)
    daily_cap: int = 3
    drafts_allowed: bool = False
    emergency_phone: str | None = None
    on_call: tuple[OnCall, ...] = ()
    working_hours: Mapping[str, Hours] = field(default_factory=lambda: MappingProxyType({}))
    public_base_url: str | None = None
    #: What she is told about the records the hospital keeps when she asks for deletion
    #: (her data page, 我的数据); None: ``her_requests.DEFAULT_RETENTION_NOTICE``, a draft.
    retention_notice: str | None = None
    #: Replies to her SMS that withdraw her SMS consent (issue 19 item 6), in ``reply_form``.
    sms_opt_out_keywords: tuple[str, ...] = values.DEFAULT_OPT_OUT_KEYWORDS
    #: The desk PC's ID card reader service (issue 21 item 3, docs/desk-registration.md); None:
    #: the desk page has no "read the card" button (a keyboard-wedge reader needs no setting).
    id_reader_url: str | None = None
    version: int = 0
    updated_at: datetime | None = None
    updated_by: str | None = None

    @cached_property
    def window(self) -> SendWindow:
        """The send window: the engine places her messages in it, delivery holds the rest."""
        return SendWindow(self.timezone, self.window_opens, self.window_closes)

    def shown(self, name: str) -> Any:
        """A setting as JSON shows it (and as the audit log writes it)."""
        return FIELD[name].show(getattr(self, name))


DEFAULTS = HospitalSettings()


@dataclass(frozen=True)
class SettingField:
    """One row of the table of settings."""

    name: str
    parse: Callable[[object], Any]
    description: str
    label_zh: str
    show: Callable[[Any], Any] = lambda value: value


def _show_time(value: time) -> str:
    return values.clock_text(value)


FIELDS: tuple[SettingField, ...] = (
    SettingField("timezone", values.timezone, "time zone of the send window and working hours", "时区"),
    SettingField(
        "window_opens",
        values.clock,
        "send window opens (HH:MM local): no external message before",
        "发送时段开始",
        _show_time,
    ),
    SettingField(
        "window_closes",
        values.clock,
        "send window closes (HH:MM local): none after; held until the next opening",
        "发送时段结束",
        _show_time,
    ),
    SettingField(
        "daily_cap",
        values.daily_cap,
        f"external messages per pregnancy per local day (0-{values.MAX_CAP})",
        "每人每天消息上限",
    ),
    SettingField(
        "drafts_allowed",
        values.boolean,
        "send content and forms no reviewer approved (demos only; every staff page warns)",
        "允许发送未审核内容",
    ),
    SettingField(
        "emergency_phone", values.optional(values.phone), "the number she calls in an emergency", "急诊电话"
    ),
    SettingField(
        "on_call",
        values.roster,
        'on-call roster, JSON [{"role", "name", "phone"}] (staff contacts)',
        "值班表",
        lambda roster: [entry.as_json() for entry in roster],
    ),
    SettingField(
        "working_hours",
        values.hours,
        'opening hours per weekday, JSON {"mon": "08:00-17:30", ...}; a day left out is closed',
        "工作时间",
        lambda days: {day: str(span) for day, span in days.items()},
    ),
    SettingField(
        "public_base_url",
        values.optional(values.https_url),
        "public https base URL of her pages (links in her messages)",
        "孕妇页面网址",
    ),
    SettingField(
        "retention_notice",
        values.optional(values.paragraphs),
        "what her data page tells her the hospital keeps (medical records) when she asks for "
        "deletion, in Chinese; unset: a draft default",
        "病历保存说明",
    ),
    SettingField(
        "sms_opt_out_keywords",
        values.opt_out_keywords,
        "replies that withdraw her SMS consent (the whole reply, any case), e.g. R, T, TD, 退订",
        "短信退订关键词",
        list,
    ),
    SettingField(
        "id_reader_url",
        values.optional(values.reader_url),
        "the desk PC's ID card reader service (http://127.0.0.1:port/path answering the card as "
        "JSON); unset: no reader button on the desk page",
        "身份证阅读器服务地址",
    ),
)
FIELD: Mapping[str, SettingField] = MappingProxyType({f.name: f for f in FIELDS})


# --- errors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingProblem:
    """One refused setting: ``where`` names it (``on_call[1].phone``), ``code`` is stable."""

    where: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.code}: {self.message}"


class InvalidSettingsError(CarepathError):
    """Settings refused, every problem at once; nothing was written."""

    code = "invalid-settings"

    def __init__(self, problems: list[SettingProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class UnknownHospitalError(CarepathError):
    code = "unknown-hospital"


# --- reading and changing -------------------------------------------------------------------


def get(session: Session, hospital_id: str) -> HospitalSettings:
    """The hospital's settings as stored now (the defaults when it has no row)."""
    row = session.get(HospitalSettingsRow, hospital_id)
    return DEFAULTS if row is None else _from_row(row)


def parse(changes: Mapping[str, object], *, prefix: str = "") -> tuple[dict[str, Any], list[SettingProblem]]:
    """Every value of ``changes`` through its field's parser: (typed values, problems)."""
    parsed: dict[str, Any] = {}
    problems: list[SettingProblem] = []
    for name, raw in changes.items():
        setting = FIELD.get(name)
        if setting is None:
            known = ", ".join(FIELD)
            problems.append(SettingProblem(f"{prefix}{name}", "unknown-setting", f"settings are {known}"))
            continue
        try:
            parsed[name] = setting.parse(raw)
        except BadValue as exc:
            problems.append(SettingProblem(f"{prefix}{name}{exc.where}", exc.code, exc.message))
    return parsed, problems


def _check_window(merged: HospitalSettings, problems: list[SettingProblem], prefix: str) -> None:
    if merged.window_opens >= merged.window_closes:
        problems.append(
            SettingProblem(
                f"{prefix}window_closes",
                "window-order",
                f"the send window opens ({values.clock_text(merged.window_opens)}) before it "
                f"closes ({values.clock_text(merged.window_closes)}) on the same day",
            )
        )


def update(
    session: Session,
    hospital_id: str,
    changes: Mapping[str, object],
    *,
    actor: Actor,
    now: datetime,
    note: str = "",
) -> HospitalSettings:
    """Validate every value of ``changes`` (field name -> raw value), then write them: one row,
    ``version`` + 1, one audit entry per setting that changed (old → new). Raises
    ``InvalidSettingsError`` with every problem, before anything is written."""
    if session.get(Hospital, hospital_id) is None:
        raise UnknownHospitalError(f"no hospital {hospital_id!r}; create it first")
    parsed, problems = parse(changes)
    row = session.scalar(
        select(HospitalSettingsRow).where(HospitalSettingsRow.hospital_id == hospital_id).with_for_update()
    )
    before = DEFAULTS if row is None else _from_row(row)
    merged = replace(before, **parsed)
    _check_window(merged, problems, "")
    if problems:
        raise InvalidSettingsError(problems)
    changed = [name for name in FIELD if before.shown(name) != merged.shown(name)]
    if not changed and row is not None:
        return before
    if row is None:
        row = HospitalSettingsRow(hospital_id=hospital_id, version=0)
        session.add(row)
    for name in FIELD:
        setattr(row, name, _stored(name, getattr(merged, name)))
    row.version += 1
    row.updated_at, row.updated_by = now, actor.label
    suffix = f" ({note})" if note else ""
    for name in changed:
        change = f"{_audited(before, name)} → {_audited(merged, name)}"
        audit(session, actor, "change", now, f"settings {name}: {change}{suffix}")
    session.flush()
    CACHE.forget(hospital_id)
    if {"timezone", "window_opens", "window_closes", "daily_cap"} & set(changed):
        _recheck_held(session, hospital_id, now)
    if merged.drafts_allowed and not before.drafts_allowed:
        held_content.release(session, hospital_id, now)  # drafts go out now: nothing waits
    return _from_row(row)


#: The delivery policy's reasons for holding a row until the window opens or the cap allows
#: (``delivery/policy.py`` OUTSIDE_WINDOW and DAILY_CAP; a test keeps them equal).
WINDOW_AND_CAP_REASONS = ("outside-window", "daily-cap")


def _recheck_held(session: Session, hospital_id: str, now: datetime) -> None:
    """Rows held for the old window or cap are decided again with the new ones, once every
    process's cache has them (``CACHE_SECONDS``), not at the time the old ones said."""
    session.execute(
        sql_update(OutboxRow)
        .where(
            OutboxRow.hospital_id == hospital_id,
            OutboxRow.status == "due",
            OutboxRow.status_reason.in_(WINDOW_AND_CAP_REASONS),
            OutboxRow.next_attempt_at > now + timedelta(seconds=CACHE_SECONDS),
        )
        .values(next_attempt_at=now + timedelta(seconds=CACHE_SECONDS))
        .execution_options(synchronize_session=False)
    )


def _audited(settings: HospitalSettings, name: str) -> str:
    shown = settings.shown(name)
    return "(not set)" if shown is None else json.dumps(shown, ensure_ascii=False)


def _stored(name: str, value: Any) -> Any:
    if name in ("on_call", "working_hours", "sms_opt_out_keywords"):
        return FIELD[name].show(value)
    return value


def _from_row(row: HospitalSettingsRow) -> HospitalSettings:
    return HospitalSettings(
        timezone=row.timezone,
        window_opens=row.window_opens,
        window_closes=row.window_closes,
        daily_cap=row.daily_cap,
        drafts_allowed=bool(row.drafts_allowed),
        emergency_phone=row.emergency_phone,
        on_call=values.roster(list(row.on_call or [])),
        working_hours=values.hours(dict(row.working_hours or {})),
        public_base_url=row.public_base_url,
        retention_notice=row.retention_notice,
        sms_opt_out_keywords=(
            values.opt_out_keywords(list(row.sms_opt_out_keywords))
            if row.sms_opt_out_keywords
            else values.DEFAULT_OPT_OUT_KEYWORDS
        ),
        id_reader_url=row.id_reader_url,
        version=row.version,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def warnings(settings: HospitalSettings) -> list[str]:
    """What staff must know about settings left unset that urgent messages and tasks rely on
    (issue 17 item 1); ``settings show`` prints them."""
    found = []
    if not settings.emergency_phone:
        found.append(
            "emergency_phone is not set: urgent advice not yet approved is replaced by an "
            "emergency notice that cannot give the hospital's number (it names 120 only)"
        )
    if not settings.on_call:
        found.append("on_call is empty: urgent tasks created outside working hours reach no one by SMS")
    elif not settings.public_base_url:
        found.append("public_base_url is not set: on-call notices go without a link to the task")
    if not settings.working_hours:
        found.append("working_hours is empty: every hour counts as outside working hours")
    return found


def as_json(settings: HospitalSettings, hospital_id: str) -> dict[str, Any]:
    """The settings as ``carepath hospital settings show --format json`` prints them."""
    return {
        "hospital": hospital_id,
        "version": settings.version,
        "updated_at": settings.updated_at.isoformat() if settings.updated_at else None,
        "updated_by": settings.updated_by,
        "settings": {name: settings.shown(name) for name in FIELD},
        "warnings": warnings(settings),
    }


# --- the one-time import of a channels file's ``delivery:`` section -------------------------

#: ``delivery:`` keys of a channels file -> the settings they become.
YAML_KEYS = {
    ("window", "timezone"): "timezone",
    ("window", "opens"): "window_opens",
    ("window", "closes"): "window_closes",
    ("daily_cap",): "daily_cap",
}
#: (database, hospital, setting, file value) already logged as ignored: once per process and database.
_ignored_logged: set[tuple[str, str, str, str]] = set()


@dataclass(frozen=True)
class Imported:
    """What ``import_delivery`` did: ``created`` the row, or left it and ``ignored`` these
    (setting, the file's value, the database's value)."""

    created: bool
    settings: HospitalSettings
    ignored: tuple[tuple[str, Any, Any], ...] = ()


def delivery_values(delivery: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The settings a ``delivery:`` section holds, parsed; located problems name the file."""
    raw: dict[str, object] = {}
    window = delivery.get("window") or {}
    if not isinstance(window, Mapping):
        problem = SettingProblem(f"{source}: delivery.window", "bad-type", "must be a mapping")
        raise InvalidSettingsError([problem])
    for path, name in YAML_KEYS.items():
        value: Any = window if path[0] == "window" else delivery
        if path[-1] in value:
            raw[name] = value[path[-1]]
    parsed, problems = parse(raw)
    where = {name: "delivery." + ".".join(path) for path, name in YAML_KEYS.items()}
    problems = [replace(p, where=f"{source}: {where.get(p.where, p.where)}") for p in problems]
    if not problems:
        _check_window(replace(DEFAULTS, **parsed), problems, f"{source}: ")
    if problems:
        raise InvalidSettingsError(problems)
    return parsed


def import_delivery(
    session: Session,
    hospital_id: str,
    delivery: Mapping[str, Any],
    *,
    source: str,
    actor: Actor,
    now: datetime,
) -> Imported:
    """Copy the send window and the daily cap of a ``delivery:`` section into the hospital's
    settings when it has no row yet (the first start after upgrading). With a row, the
    database wins: each differing file value is logged once per process as ignored."""
    parsed = delivery_values(delivery, source)
    row = session.scalar(
        select(HospitalSettingsRow).where(HospitalSettingsRow.hospital_id == hospital_id).with_for_update()
    )
    if row is None:
        created = update(session, hospital_id, parsed, actor=actor, now=now, note=f"imported from {source}")
        return Imported(True, created)
    stored = _from_row(row)
    ignored = []
    for name, value in parsed.items():
        if getattr(stored, name) != value:
            shown_file, shown_db = FIELD[name].show(value), stored.shown(name)
            ignored.append((name, shown_file, shown_db))
            bind = session.get_bind()
            key = (str(getattr(bind, "url", bind)), hospital_id, name, repr(shown_file))
            if key not in _ignored_logged:
                _ignored_logged.add(key)
                log.warning(
                    "%s: %s %s is ignored for hospital %s: its settings in the database say %s "
                    "(change them with `carepath hospital settings set`)",
                    source,
                    name,
                    shown_file,
                    hospital_id,
                    shown_db,
                )
    return Imported(False, stored, tuple(ignored))


# --- what running processes use -------------------------------------------------------------


class SettingsCache:
    """Each hospital's settings, read again once older than ``ttl`` seconds of ``clock`` (a
    monotonic clock; tests hand in their own). Entries are per database, so two databases in
    one process never share a hospital's settings."""

    def __init__(
        self, ttl: float = CACHE_SECONDS, clock: Callable[[], float] = time_module.monotonic
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[tuple[str, str], tuple[float, HospitalSettings]] = {}
        self._lock = threading.Lock()

    def get(self, source: Session | Database, hospital_id: str) -> HospitalSettings:
        """The hospital's settings, from memory when read less than ``ttl`` ago; ``source`` is
        the caller's session, or a database (a transaction is opened only to read)."""
        engine = source.engine if isinstance(source, Database) else source.get_bind().engine
        key = (str(engine.url), hospital_id)
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and 0 <= now - entry[0] < self.ttl:
            return entry[1]
        if isinstance(source, Database):
            with source.reading() as session:
                settings = get(session, hospital_id)
        else:
            settings = get(source, hospital_id)
        with self._lock:
            self._entries[key] = (now, settings)
        return settings

    def forget(self, hospital_id: str | None = None) -> None:
        """Drop one hospital's entries (it changed here), or all of them (tests)."""
        with self._lock:
            for key in [k for k in self._entries if hospital_id is None or k[1] == hospital_id]:
                del self._entries[key]


CACHE = SettingsCache()


def current(source: Session | Database, hospital_id: str) -> HospitalSettings:
    """The settings a running process uses (``CACHE``): at most ``CACHE_SECONDS`` old."""
    return CACHE.get(source, hospital_id)
