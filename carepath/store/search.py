"""Staff search over pregnancies: by name, HIS id, ID number, tag, risk colour, week, pathway.

Results are one row per pregnancy with her identifiers masked, in a stable order (the
pregnancy id) paged by a cursor (``after``: the last id of the previous page); each patient in
a page is audited as listed by the acting staff member.

How each filter reaches the data without opening sealed fields wholesale:

- ID number: its keyed hash (``FieldCipher.lookup_hash``), an indexed equality.
- gestational week: the stored state carries its derived ``edd`` (ISO date), so a week range
  is an EDD range compared in SQL (``ga = 280 - (edd - today)``, today in the hospital's
  time zone); no state is decoded in Python.
- tag: the current tags are a JSON list in the state, searched whole with the database's own
  JSON functions (``json_each`` on SQLite, ``jsonb_exists`` on PostgreSQL).
- pathway: an open enrolment row (``enrolments``, indexed by pregnancy).
- name: names are sealed with a random nonce, so no index can match them. Every other filter
  is applied in SQL first; only the names of the remaining candidates are opened, and only
  when they number at most ``NAME_SCAN_LIMIT`` (otherwise ``name-search-too-broad`` asks for a
  narrower filter). Exact or prefix match on the whole name (``mode``). An exact-match keyed
  hash column (``patients.name_hash``) would remove the limit: it needs a migration.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select, text
from sqlalchemy.orm import Session

from carepath.engine.clock import TERM_DAYS, format_gestational_age, gestational_days
from carepath.engine.timing import SendWindow
from carepath.errors import CarepathError
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.models import EnrolmentRecord, Patient, Pregnancy
from carepath.store.patients import masked_patient
from carepath.store.scope import Actor, audit, visible_patients
from carepath.store.state_codec import stored_colour

#: The most sealed names one search opens; beyond it, the search must be narrowed first.
NAME_SCAN_LIMIT = 5000


class SearchTooBroadError(CarepathError):
    """A name search whose other filters leave more candidates than may be opened."""

    code = "name-search-too-broad"


@dataclass(frozen=True)
class PregnancyQuery:
    name: str | None = None
    name_mode: str = "exact"  # exact | prefix
    his_id: str | None = None
    id_number: str | None = None
    tag: str | None = None
    risk_colour: str | None = None
    week_from: int | None = None  # completed weeks, inclusive
    week_to: int | None = None
    pathway: str | None = None
    status: str | None = None
    limit: int = 50
    after: str | None = None


def edd_range(today: date, week_from: int | None, week_to: int | None) -> tuple[date | None, date | None]:
    """The EDDs of pregnancies whose completed week today lies in [week_from, week_to]."""
    # ga_days = TERM - (edd - today); week w spans ga_days 7w .. 7w+6.
    low = today + timedelta(days=TERM_DAYS - (7 * week_to + 6)) if week_to is not None else None
    high = today + timedelta(days=TERM_DAYS - 7 * week_from) if week_from is not None else None
    return low, high


def _has_tag(dialect: str, tag: str) -> Any:
    """Her current tags (a JSON list in the state) hold ``tag``, compared whole in SQL."""
    if dialect == "postgresql":
        return text("jsonb_exists(CAST(pregnancies.state -> 'facts' -> 'tags' AS jsonb), :tag)").bindparams(
            tag=tag
        )
    return text(
        "EXISTS (SELECT 1 FROM json_each(pregnancies.state, '$.facts.tags') AS t WHERE t.value = :tag)"
    ).bindparams(tag=tag)


def _statement(
    actor: Actor, cipher: FieldCipher, query: PregnancyQuery, now: datetime, today: date, *, dialect: str
) -> Any:
    patients = visible_patients(actor, now).subquery()
    statement: Any = select(Pregnancy, Patient).join(Patient, Patient.id == Pregnancy.patient_id)
    statement = statement.where(Patient.id.in_(select(patients.c.id)))
    if query.his_id is not None:
        statement = statement.where(Patient.his_patient_id == query.his_id)
    if query.id_number is not None:
        statement = statement.where(Patient.id_number_hash == cipher.lookup_hash("id", query.id_number))
    if query.status is not None:
        statement = statement.where(Pregnancy.status == query.status)
    if query.risk_colour is not None:
        statement = statement.where(Pregnancy.risk_colour == query.risk_colour)
    if query.tag is not None:
        statement = statement.where(_has_tag(dialect, query.tag))
    if query.week_from is not None or query.week_to is not None:
        low, high = edd_range(today, query.week_from, query.week_to)
        edd = Pregnancy.state["edd"].as_string()
        statement = statement.where(Pregnancy.status == "pregnant", edd.is_not(None))
        if low is not None:
            statement = statement.where(edd >= low.isoformat())
        if high is not None:
            statement = statement.where(edd <= high.isoformat())
    if query.pathway is not None:
        statement = statement.where(
            exists().where(
                and_(
                    EnrolmentRecord.pregnancy_id == Pregnancy.id,
                    EnrolmentRecord.pathway_id == query.pathway,
                    EnrolmentRecord.ended_at.is_(None),
                )
            )
        )
    return statement


def cohort(session: Session, cipher: FieldCipher, actor: Actor, query: PregnancyQuery, now: datetime) -> Any:
    """The ids of every pregnancy ``actor`` may see that the query's filters select, as one SQL
    statement (batch actions run on it, issue 21 item 4). A name selects through her name's
    keyed hash (exact only); ``limit`` and ``after`` are ignored: a cohort is all of them."""
    today = SendWindow().local_date(now)
    statement = _statement(actor, cipher, query, now, today, dialect=session.get_bind().dialect.name)
    if query.name is not None:
        statement = statement.where(
            Patient.name_hash == cipher.name_hash(query.name), Patient.hospital_id == actor.hospital_id
        )
    return statement.with_only_columns(Pregnancy.id).order_by(Pregnancy.id)


def _name_matches(cipher: FieldCipher, sealed: str | None, name: str, mode: str) -> bool:
    if not sealed:
        return False
    plain = "".join(cipher.open(sealed).split())
    return plain == name if mode == "exact" else plain.startswith(name)


def search(
    db: Database, cipher: FieldCipher, actor: Actor, query: PregnancyQuery, now: datetime
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of matching pregnancies (masked) and the cursor of the next page (or None)."""
    with db.transaction() as session:
        return _search(session, cipher, actor, query, now)


def _search(
    session: Session, cipher: FieldCipher, actor: Actor, query: PregnancyQuery, now: datetime
) -> tuple[list[dict[str, Any]], str | None]:
    today = SendWindow().local_date(now)
    statement = _statement(actor, cipher, query, now, today, dialect=session.get_bind().dialect.name)
    if query.after is not None:
        statement = statement.where(Pregnancy.id > query.after)
    statement = statement.order_by(Pregnancy.id)
    if query.name is None:
        rows = [tuple(r) for r in session.execute(statement.limit(query.limit + 1)).all()]
    else:
        name = "".join(query.name.split())
        candidates = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
        if candidates > NAME_SCAN_LIMIT:
            raise SearchTooBroadError(
                f"{candidates} pregnancies match the other filters; a name search opens at most "
                f"{NAME_SCAN_LIMIT} sealed names: add his_id, id_number, tag, risk colour, week or pathway"
            )
        # Only ids and sealed names are read to match; the page's rows are loaded after.
        matched: list[str] = []
        for pregnancy_id, sealed in session.execute(
            statement.with_only_columns(Pregnancy.id, Patient.name_sealed)
        ):
            if _name_matches(cipher, sealed, name, query.name_mode):
                matched.append(pregnancy_id)
                if len(matched) > query.limit:
                    break
        rows = [tuple(r) for r in session.execute(statement.where(Pregnancy.id.in_(matched))).all()]
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    results = []
    for pregnancy, patient in rows:
        audit(
            session,
            actor,
            "list",
            now,
            "search result",
            patient_id=patient.id,
            pregnancy_id=pregnancy.id,
        )
        results.append(_result(session, cipher, pregnancy, patient, today))
    return results, (rows[-1][0].id if more and rows else None)


def _result(
    session: Session, cipher: FieldCipher, pregnancy: Pregnancy, patient: Patient, today: date
) -> dict[str, Any]:
    facts = pregnancy.state.get("facts", {})
    pathways = session.scalars(
        select(EnrolmentRecord.pathway_id)
        .where(EnrolmentRecord.pregnancy_id == pregnancy.id, EnrolmentRecord.ended_at.is_(None))
        .order_by(EnrolmentRecord.pathway_id)
    ).all()
    return {
        "pregnancy": pregnancy.id,
        "number": pregnancy.number,
        "his_pregnancy_id": pregnancy.his_pregnancy_id,
        "status": pregnancy.status,
        **gestation(pregnancy, today),
        **stored_colour(facts),
        "tags": list(facts.get("tags", [])),
        "pathways": list(pathways),
        "patient": masked_patient(cipher, patient),
    }


def gestation(pregnancy: Pregnancy, today: date) -> dict[str, Any]:
    """EDD and, while she is pregnant, the gestational age today (``24+3``) and week."""
    text = pregnancy.state.get("edd")
    edd = date.fromisoformat(text) if isinstance(text, str) else None
    days = gestational_days(edd, today) if edd is not None and pregnancy.status == "pregnant" else None
    return {
        "edd": edd.isoformat() if edd else None,
        "gestational_age": format_gestational_age(days) if days is not None and days >= 0 else None,
        "gestational_week": days // 7 if days is not None and days >= 0 else None,
    }
