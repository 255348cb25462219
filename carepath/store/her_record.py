"""Her record as staff read it (issue 20 item 3), and 患者, the women of my teams.

``her_record`` answers in one transaction and a fixed number of queries, whatever her history
(no query per timeline row): the API's timeline (``timeline.timeline_in``: her facts and every
entry, audited as a read), then one query each for what the timeline does not carry — her
dating history, the suggested colours (the outbox's ``risk`` rows), the pathways' titles, the
outbox rows' content and triggering event, her inbox, consents and bindings, and her care row
with its history and the names it points at. Titles replace ids wherever the library has one
(pathways, content items, forms, labs, medications), so the page says why each message and task
happened in words.

``my_women`` is the 患者 list: the pregnancies whose care row names one of my teams (the one
definition of them, ``care_teams.my_team_ids``, the workspace's too: active teams of my hospital
I am an active member of), masked, keyset-paged by pregnancy id (stable while rows are added,
no ``OFFSET`` scan).

Names and phones stay masked here; ``unmasked`` opens them for a holder of ``patient.read``
and audits that it did (the page's 显示 button).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carepath.engine.catalogue import load_labs
from carepath.engine.medications import STARTING_VOCABULARY
from carepath.engine.timing import SendWindow
from carepath.errors import CarepathError
from carepath.store import care_teams, consents, her_timeline, pathways, publishing
from carepath.store.crypto import FieldCipher, mask_name, mask_phone
from carepath.store.db import Database
from carepath.store.form_answers import forms
from carepath.store.models import (
    ChannelBinding,
    DatingRecord,
    Diagnosis,
    EventRecord,
    InboxItem,
    OutboxRow,
    PathwayVersion,
    Patient,
    Pregnancy,
    Staff,
)
from carepath.store.models_teams import CareTeam, PregnancyCare
from carepath.store.patients import masked_patient
from carepath.store.scope import Actor, PregnancyNotFoundError, audit, visible_patients
from carepath.store.search import gestation
from carepath.store.state_codec import stored_colour

#: Rows of the 患者 list per page.
PAGE = 30
#: Her inbox items the record shows (newest first): her inbox page pages further.
INBOX_SHOWN = 50
#: Her newest lab results and medication events the record shows.
LABS_SHOWN = 100
MEDICATION_EVENTS = ("medication.prescribed", "medication.stopped")


@dataclass(frozen=True)
class Woman:
    """One row of the 患者 list (masked)."""

    pregnancy_id: str
    name: str | None
    phone: str | None
    gestational_age: str | None
    edd: str | None
    status: str
    risk_colour: str | None
    risk_colour_status: str | None
    team: str | None


@dataclass(frozen=True)
class WomenPage:
    women: list[Woman]
    next_after: str | None  # the keyset of the next page, None on the last


def my_women(
    db: Database,
    cipher: FieldCipher,
    actor: Actor,
    staff_id: int,
    now: datetime,
    *,
    after: str | None = None,
    limit: int | None = None,
) -> WomenPage:
    """The pregnancies of my teams, by id after ``after``, masked; the listing is audited."""
    limit = limit or PAGE
    with db.transaction() as session:
        teams = care_teams.my_team_ids(session, actor.hospital_id, staff_id)
        statement = (
            select(Pregnancy, Patient, CareTeam.name)
            .join(Patient, Patient.id == Pregnancy.patient_id)
            .join(PregnancyCare, PregnancyCare.pregnancy_id == Pregnancy.id)
            .join(CareTeam, CareTeam.id == PregnancyCare.team_id)
            .where(
                Pregnancy.hospital_id == actor.hospital_id,
                PregnancyCare.hospital_id == actor.hospital_id,
                PregnancyCare.team_id.in_(teams),
            )
            .order_by(Pregnancy.id)
            .limit(limit + 1)
        )
        if after:
            statement = statement.where(Pregnancy.id > after)
        rows = session.execute(statement).all() if teams else []
        today = SendWindow().local_date(now)
        women = [
            Woman(
                pregnancy_id=pregnancy.id,
                name=mask_name(cipher.open(patient.name_sealed)) if patient.name_sealed else None,
                phone=mask_phone(cipher.open(patient.phone_sealed)) if patient.phone_sealed else None,
                gestational_age=gestation(pregnancy, today)["gestational_age"],
                edd=gestation(pregnancy, today)["edd"],
                status=pregnancy.status,
                team=team,
                **stored_colour(pregnancy.state.get("facts", {})),
            )
            for pregnancy, patient, team in rows[:limit]
        ]
        audit(session, actor, "list", now, f"my teams' women: {len(women)} after {after or '-'}")
    return WomenPage(women, women[-1].pregnancy_id if len(rows) > limit else None)


@cache
def _lab_titles() -> dict[str, tuple[str, str]]:
    return {code: (lab.zh, lab.unit) for code, lab in load_labs().items()}


@cache
def _medication_titles() -> dict[str, str]:
    return {m.code: m.zh for m in STARTING_VOCABULARY}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def her_record(
    db: Database,
    cipher: FieldCipher,
    actor: Actor,
    pregnancy_id: str,
    now: datetime,
    *,
    unmasked: bool = False,
) -> dict[str, Any]:
    """Everything her record page shows (see the module); audited as a ``read``. ``unmasked``:
    her name, ID number and phone in clear — the caller checked ``patient.read``; audited as
    ``unmask``."""
    with db.transaction() as session:
        found = session.execute(
            select(Pregnancy, Patient)
            .join(Patient, Patient.id == Pregnancy.patient_id)
            .where(
                Pregnancy.id == pregnancy_id,
                Patient.id.in_(select(visible_patients(actor, now).subquery().c.id)),
            )
        ).one_or_none()
        if found is None:
            raise PregnancyNotFoundError(f"no pregnancy {pregnancy_id} visible to {actor.hospital_id}")
        pregnancy, patient = found
        audit(session, actor, "read", now, "her record", patient_id=patient.id, pregnancy_id=pregnancy.id)
        shown = masked_patient(cipher, patient)
        if unmasked:
            shown = {**shown, **_clear(cipher, patient), "unmasked": True}
            audit(
                session,
                actor,
                "unmask",
                now,
                "her record: name, ID number and phone shown",
                patient_id=patient.id,
                pregnancy_id=pregnancy.id,
            )
        facts = pregnancy.state.get("facts", {})
        timeline = her_timeline.newest(session, pregnancy.id)
        entries = timeline.entries
        confirmations = her_timeline.events_of(session, pregnancy.id, ("risk.confirmed",), her_timeline.SHOWN)
        titles = _pathway_titles(session, pregnancy.hospital_id, _pathways_named(entries))
        _explain(session, pregnancy, entries, timeline.rows, titles)
        risk = _risk(session, pregnancy, facts, confirmations)
        rule_titles = _rule_titles(session, pregnancy.hospital_id, entries, risk["history"])
        return {
            "pregnancy": pregnancy.id,
            "number": pregnancy.number,
            "his_pregnancy_id": pregnancy.his_pregnancy_id,
            "status": pregnancy.status,
            "patient": shown,
            "facts": {
                **gestation(pregnancy, SendWindow().local_date(now)),
                "tags": list(facts.get("tags", [])),
                **stored_colour(facts),
                "diagnoses": _diagnoses(session, pregnancy.id),
            },
            "entries": entries,
            "more_entries": timeline.more,
            "risk": risk,
            "rule_titles": rule_titles,
            "dating": _dating(session, pregnancy),
            "pathway_titles": titles,
            "labs": _labs(her_timeline.events_of(session, pregnancy.id, ("lab.result",), LABS_SHOWN)),
            "medications": _medications(
                facts, her_timeline.events_of(session, pregnancy.id, MEDICATION_EVENTS, LABS_SHOWN)
            ),
            "tag_log": [e for e in entries if e["kind"] == "tag"],
            "staff_names": _staff_names(session, [e["by"] for e in entries if e["kind"] == "tag"]),
            "enrolments": [
                {**e, "title": titles.get(e["pathway"], e["pathway"])}
                for e in entries
                if e["kind"] == "enrolment"
            ],
            "tasks": [e for e in entries if e["kind"] == "task"],
            "responses": [e for e in entries if e["kind"] == "response"],
            "inbox": _inbox(session, pregnancy.id),
            **dict(zip(("consents", "bindings"), _consents(session, patient.id, pregnancy.id), strict=True)),
            "care": _care(session, pregnancy.id),
        }


def _diagnoses(session: Session, pregnancy_id: str) -> list[dict[str, Any]]:
    return [
        {"code": d.code, "name": d.name, "added_at": d.added_at.isoformat()}
        for d in session.scalars(
            select(Diagnosis)
            .where(Diagnosis.pregnancy_id == pregnancy_id, Diagnosis.removed_at.is_(None))
            .order_by(Diagnosis.added_at, Diagnosis.id)
        )
    ]


def _clear(cipher: FieldCipher, patient: Patient) -> dict[str, str | None]:
    def opened(sealed: str | None) -> str | None:
        return cipher.open(sealed) if sealed else None

    return {
        "name": opened(patient.name_sealed),
        "id_number": opened(patient.id_number_sealed),
        "phone": opened(patient.phone_sealed),
    }


def _risk(
    session: Session, pregnancy: Pregnancy, facts: dict[str, Any], confirmations: list[dict[str, Any]]
) -> dict[str, Any]:
    """Her colour now (suggested and confirmed) and its history: each rule's suggestion (the
    outbox's ``risk`` rows) and each clinician's confirmation (``risk.confirmed`` events)."""
    history: list[dict[str, Any]] = []
    for row in session.execute(
        select(
            OutboxRow.due_at, OutboxRow.params, OutboxRow.pathway_id, OutboxRow.rule_id, OutboxRow.status
        ).where(OutboxRow.pregnancy_id == pregnancy.id, OutboxRow.kind == "risk")
    ):
        params = row.params if isinstance(row.params, dict) else {}
        history.append(
            {
                "at": row.due_at.isoformat(),
                "kind": "suggested",
                "colour": params.get("colour"),
                "reason": params.get("reason"),
                "pathway": row.pathway_id,
                "rule": row.rule_id,
                "status": row.status,
            }
        )
    for entry in confirmations:
        if entry["type"] == "risk.confirmed":
            history.append(
                {
                    "at": entry["at"],
                    "kind": "confirmed",
                    "colour": entry["data"].get("colour"),
                    "reason": entry["data"].get("note"),
                    "by": entry["data"].get("confirmed_by"),
                }
            )
    history.sort(key=lambda h: datetime.fromisoformat(h["at"]))
    suggested = facts.get("suggested_risk") if isinstance(facts.get("suggested_risk"), dict) else None
    confirmed = facts.get("confirmed_risk") if isinstance(facts.get("confirmed_risk"), dict) else None
    return {
        **stored_colour(facts),
        "suggested": suggested,
        "confirmed": confirmed,
        # a suggestion waits for a doctor while the colour shown is a rule's
        "awaiting_confirmation": stored_colour(facts)["risk_colour_status"] == "suggested",
        "history": history,
    }


def _dating(session: Session, pregnancy: Pregnancy) -> list[dict[str, Any]]:
    return [
        {"method": row.method, "data": row.data, "recorded_at": row.recorded_at.isoformat()}
        for row in session.scalars(
            select(DatingRecord)
            .where(DatingRecord.pregnancy_id == pregnancy.id)
            .order_by(DatingRecord.recorded_at, DatingRecord.id)
        )
    ]


def _pathways_named(entries: Iterable[dict[str, Any]]) -> set[str]:
    named = set()
    for e in entries:
        if e["kind"] in ("enrolment", "action") and e.get("pathway"):
            named.add(e["pathway"])
        elif e["kind"] == "tag" and e["by"].startswith("rule ") and "@" in e["by"]:
            named.add(e["by"].removeprefix("rule ").partition("@")[0])
    return named


def _staff_names(session: Session, labels: Iterable[str]) -> dict[str, str]:
    """``staff:<id>`` -> the staff member's name, for the labels that name one."""
    ids = {int(label.removeprefix("staff:")) for label in labels if re.fullmatch(r"staff:\d+", label)}
    if not ids:
        return {}
    found = session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(sorted(ids)))).all()
    return {f"staff:{staff_id}": name for staff_id, name in found}


def _rule_key(pathway: str, version: str | None, rule: str) -> str:
    return f"{pathway}@{version}/{rule}" if version else f"{pathway}/{rule}"


def _rule_titles(
    session: Session, hospital_id: str, entries: list[dict[str, Any]], history: list[dict[str, Any]]
) -> dict[str, str]:
    """Each rule named on the record by its title (issue 20: titles, not ids), keyed as the tag
    log names a rule (``pathway@version/rule``) or ``pathway/rule`` for the current version;
    the actions and suggestions get theirs as ``rule_title``. A rule without a title is left out."""
    wanted: set[tuple[str, str | None, str]] = set()
    for entry in entries:
        if entry["kind"] == "action" and entry.get("rule"):
            wanted.add((entry["pathway"], entry.get("version"), entry["rule"]))
        by = str(entry.get("by") or "") if entry["kind"] == "tag" else ""
        if by.startswith("rule ") and "@" in by and "/" in by:
            named, _, rest = by.removeprefix("rule ").partition("@")
            at, _, rule = rest.rpartition("/")
            wanted.add((named, at, rule))
    wanted |= {(h["pathway"], None, h["rule"]) for h in history if h.get("rule")}
    if not wanted:
        return {}
    library = pathways.library_for(session, hospital_id)
    found: dict[str, str] = {}
    for pathway_id, version, rule_id in wanted:
        try:
            pathway = library.loaded(pathway_id, version).pathway if version else library.current[pathway_id]
            title = pathway.rule(rule_id).title
        except (CarepathError, KeyError):  # a version no longer loaded: no title to say
            continue
        if title:
            found[_rule_key(pathway_id, version, rule_id)] = title
    for entry in [*entries, *history]:
        if entry.get("rule") and entry.get("kind") in ("action", "suggested"):
            key = _rule_key(entry["pathway"], entry.get("version"), entry["rule"])
            entry["rule_title"] = found.get(key)
    return found


def _pathway_titles(session: Session, hospital_id: str, names: set[str]) -> dict[str, str]:
    """Each pathway's title (its newest version's, the hospital's own before the built-in)."""
    if not names:
        return {}
    titles: dict[str, tuple[int, datetime, str]] = {}
    for row in session.execute(
        select(
            PathwayVersion.pathway_id,
            PathwayVersion.hospital_id,
            PathwayVersion.created_at,
            PathwayVersion.title,
        ).where(
            PathwayVersion.pathway_id.in_(sorted(names)),
            (PathwayVersion.hospital_id == hospital_id) | PathwayVersion.hospital_id.is_(None),
        )
    ):
        rank = (1 if row.hospital_id else 0, row.created_at, row.title)
        if row.pathway_id not in titles or rank[:2] > titles[row.pathway_id][:2]:
            titles[row.pathway_id] = rank
    return {name: rank[2] for name, rank in titles.items()}


def _explain(
    session: Session,
    pregnancy: Pregnancy,
    entries: list[dict[str, Any]],
    rows: dict[int, OutboxRow],
    titles: dict[str, str],
) -> None:
    """Give each action its words: the pathway's title, what it sent (the content item's or
    form's title) and the event that set the rule off (its type and when), in one query for
    those events."""
    event_ids = {row.event_row_id for row in rows.values() if row.event_row_id is not None}
    events = (
        {
            row.id: row
            for row in session.execute(
                select(EventRecord.id, EventRecord.event_id, EventRecord.type, EventRecord.occurred_at).where(
                    EventRecord.id.in_(sorted(event_ids))
                )
            )
        }
        if event_ids
        else {}
    )
    library = publishing.content_items(session, pregnancy.hospital_id)
    form_titles = {name: form.title for name, form in forms().items()}
    for entry in entries:
        if entry["kind"] == "response":
            entry["form_title"] = form_titles.get(entry["form"], entry["form"])
        if entry["kind"] != "action":
            continue
        entry["pathway_title"] = titles.get(entry["pathway"], entry["pathway"])
        row = rows.get(entry["id"])
        if row is None:
            continue
        params = row.params if isinstance(row.params, dict) else {}
        content, form = params.get("content"), params.get("form")
        if isinstance(content, str):
            item = library.get(content)
            entry["content"] = content
            entry["content_title"] = item.title if item is not None else content
        if isinstance(form, str):
            entry["form_title"] = form_titles.get(form, form)
        for key in ("title", "colour", "reason", "add", "remove", "urgent"):
            if key in params:
                entry[f"param_{key}"] = params[key]
        entry["read_at"] = _iso(row.read_at)
        entry["in_inbox"] = row.inbox_item_id is not None
        cause = events.get(row.event_row_id) if row.event_row_id is not None else None
        if cause is not None:
            entry["cause"] = {"id": cause.event_id, "type": cause.type, "at": cause.occurred_at.isoformat()}


def _labs(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for entry in entries:
        if entry["type"] == "lab.result":
            code = str(entry["data"].get("code", ""))
            title, unit = _lab_titles().get(code, (code, ""))
            found.append(
                {
                    "at": entry["at"],
                    "code": code,
                    "title": title,
                    "value": entry["data"].get("value"),
                    "unit": entry["data"].get("unit") or unit,
                }
            )
    return found


def _medications(facts: dict[str, Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
    names = _medication_titles()
    current = [{"code": c, "title": names.get(c, c)} for c in facts.get("medications", []) or []]
    history = [
        {
            "at": e["at"],
            "type": e["type"],
            "code": e["data"].get("code"),
            "title": names.get(str(e["data"].get("code")), e["data"].get("code")),
            "dose": e["data"].get("dose"),
        }
        for e in entries
        if e["type"] in MEDICATION_EVENTS
    ]
    return {"current": current, "history": history}


def _inbox(session: Session, pregnancy_id: str) -> list[dict[str, Any]]:
    """What she sees in her inbox (the page renders each body with her pages' renderer);
    a withdrawn item is kept and shown as withdrawn."""
    return [
        {
            "id": item.id,
            "title": item.title,
            "summary": item.summary,
            "body": item.body,
            "filed_at": item.filed_at.isoformat(),
            "read_at": _iso(item.read_at),
            "withdrawn_at": _iso(item.withdrawn_at),
            "withdrawn_reason": item.withdrawn_reason,
        }
        for item in session.scalars(
            select(InboxItem)
            .where(InboxItem.pregnancy_id == pregnancy_id)
            .order_by(InboxItem.filed_at.desc(), InboxItem.id.desc())
            .limit(INBOX_SHOWN)
        )
    ]


def _consents(
    session: Session, patient_id: int, pregnancy_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    given = consents.active_consents(session, [patient_id]).get(patient_id, [])
    shown = [
        {
            "channel": row.channel,
            "topic": row.topic,
            "granted": row.granted,
            "given_at": row.given_at.isoformat(),
            "source": row.source,
        }
        for row in given
        if row.pregnancy_id in (None, pregnancy_id)
    ]
    bindings = [
        {
            "kind": row.kind,
            "account": row.account,
            "bound_at": _iso(row.bound_at),
            "blocked_at": _iso(row.blocked_at),
        }
        for row in session.scalars(
            select(ChannelBinding)
            .where(ChannelBinding.patient_id == patient_id, ChannelBinding.unbound_at.is_(None))
            .order_by(ChannelBinding.id)
        )
    ]  # the kinds and when, never the openid or the number itself
    return shown, bindings


def _care(session: Session, pregnancy_id: str) -> dict[str, Any]:
    """Her team and the people responsible for her now, and every change, newest first (who,
    when, why): ``care_teams.care_of``, and the names of the staff who made the changes."""
    care = care_teams.care_of(session, pregnancy_id)
    actors = _staff_names(session, [c.actor for c in care.history]) if care is not None else {}
    return {"now": care, "actors": actors}


def find_pregnancy(
    session: Session, actor: Actor, pregnancy_id: str, now: datetime
) -> tuple[Pregnancy, Patient]:
    """Her rows, locked, when the actor's hospital owns them (a granted hospital only reads),
    else ``PregnancyNotFoundError`` (another hospital's answers as a missing one)."""
    found = session.execute(
        select(Pregnancy, Patient)
        .join(Patient, Patient.id == Pregnancy.patient_id)
        .where(
            Pregnancy.id == pregnancy_id,
            Pregnancy.hospital_id == actor.hospital_id,
            Patient.id.in_(select(visible_patients(actor, now).subquery().c.id)),
        )
        .with_for_update(of=Pregnancy)
    ).one_or_none()
    if found is None:
        raise PregnancyNotFoundError(f"no pregnancy {pregnancy_id} of {actor.hospital_id}")
    return found[0], found[1]
