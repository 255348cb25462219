"""Find a woman (issue 21 item 2): staff search over pregnancies by name, phone's last four
digits, HIS id, ID number, source, week range, tag, diagnosis, plan, colour and status.

Results are one row per pregnancy with her identifiers masked, in a stable order (the
pregnancy id) paged by a cursor (``after``: the last id of the previous page); each patient in
a page is audited as listed by the acting staff member.

How each filter reaches the data without opening sealed fields wholesale (docs/search.md):

- name, exact: her name's keyed hash (``patients.name_hash``, ``FieldCipher.name_hash``: NFKC,
  no spaces, upper case), one probe of ``ix_patients_name`` per hospital she may be in. Rows
  written before the column existed (not yet filled by ``carepath db backfill-lookups``) are
  still found, by opening their sealed names, only while such rows exist and at most
  ``NAME_SCAN_LIMIT`` of them.
- name, prefix (API only): names are sealed with a random nonce, so no index can match a
  beginning. Every other filter is applied in SQL first; the remaining candidates' names are
  opened only when they number at most ``NAME_SCAN_LIMIT`` (else ``name-search-too-broad``).
- phone's last four digits: only with a name; the name's few candidates' phones are opened
  (at most ``PHONE_SCAN_LIMIT``, else ``name-search-too-broad``).
- ID number: its keyed hash (``FieldCipher.lookup_hash``), an indexed equality; HIS id: equality.
- week range: the stored EDD column (``pregnancies.edd``, written with every evaluation): a
  completed-week range today is an EDD range (``edd_range``), an indexed comparison.
- source: her registration through a source (``source_events``, kind ``registration``, whose
  dedupe key names her pregnancy), by the source's code, of the actor's hospital.
- diagnosis: an active row of ``diagnoses`` whose code is the given code or extends it (the
  pathways' prefix rule: ``O24`` finds ``O24.401``).
- tag: the current tags, a JSON list in the state, searched with the database's JSON functions.
- plan: an open enrolment row (``enrolments``); colour and status: columns of the pregnancy.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, exists, func, literal, or_, select, text
from sqlalchemy.orm import Session

from carepath.engine.clock import TERM_DAYS, format_gestational_age, gestational_days
from carepath.engine.timing import SendWindow
from carepath.errors import CarepathError
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.models import Diagnosis, EnrolmentRecord, Patient, PatientGrant, Pregnancy
from carepath.store.models_sources import Source, SourceEvent
from carepath.store.patients import masked_patient
from carepath.store.scope import Actor, audit, visible_patients
from carepath.store.state_codec import stored_colour

#: The most sealed names one search opens (a prefix, or rows not yet backfilled).
NAME_SCAN_LIMIT = 5000
#: The most phones one search opens: the candidates of one name (and the other filters).
PHONE_SCAN_LIMIT = 200
#: An ICD-10 code or its beginning: a letter, then up to two digits, then a dot and more.
DIAGNOSIS_PATTERN = re.compile(r"^[A-Z]([0-9]{1,2}(\.[0-9A-Z]{0,8})?)?$")


class SearchTooBroadError(CarepathError):
    """A name search whose other filters leave more candidates than may be opened."""

    code = "name-search-too-broad"


class SearchInputError(CarepathError):
    """A filter that cannot select anything as given; ``code`` says which (stable)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class PregnancyQuery:
    name: str | None = None
    name_mode: str = "exact"  # exact | prefix
    phone_last4: str | None = None  # only with a name
    his_id: str | None = None
    id_number: str | None = None
    source: str | None = None  # a source's code
    tag: str | None = None
    diagnosis: str | None = None  # an ICD-10 code or its beginning
    risk_colour: str | None = None
    week_from: int | None = None  # completed weeks, inclusive
    week_to: int | None = None
    pathway: str | None = None
    status: str | None = None
    limit: int = 50
    after: str | None = None

    def is_empty(self) -> bool:
        """No filter given (paging aside): the page shows her teams' women instead."""
        return all(
            getattr(self, name) is None
            for name in (
                "name", "phone_last4", "his_id", "id_number", "source", "tag", "diagnosis",
                "risk_colour", "week_from", "week_to", "pathway", "status",
            )
        )  # fmt: skip


def normalised_name(name: str) -> str:
    """A name as ``FieldCipher.name_hash`` compares it: NFKC, no spaces, upper case."""
    return "".join(unicodedata.normalize("NFKC", name).split()).upper()


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


def _from_source(session: Session, actor: Actor, code: str) -> Any:
    """Registered through the source ``code`` of the actor's hospital (``sources.record_registration``
    keys the event ``registration:<patient>:<pregnancy>``, so it names this pregnancy)."""
    source_id = session.scalar(
        select(Source.id).where(Source.code == code, Source.hospital_id == actor.hospital_id)
    )
    if source_id is None:
        raise SearchInputError("unknown-source", f"no source {code!r} in your hospital")
    key = literal("registration:") + cast(Pregnancy.patient_id, String) + literal(":") + Pregnancy.id
    return exists().where(
        SourceEvent.source_id == source_id,
        SourceEvent.kind == "registration",
        SourceEvent.patient_id == Pregnancy.patient_id,
        SourceEvent.dedupe_key == key,
    )


def _has_diagnosis(code: str) -> Any:
    wanted = code.strip().upper()
    if not DIAGNOSIS_PATTERN.match(wanted):
        raise SearchInputError("bad-diagnosis", f"{code!r} is not an ICD-10 code or its beginning (e.g. O24)")
    return exists().where(
        Diagnosis.pregnancy_id == Pregnancy.id,
        Diagnosis.removed_at.is_(None),
        or_(Diagnosis.code == wanted, Diagnosis.code.like(wanted + "%")),
    )


def _statement(
    session: Session, actor: Actor, cipher: FieldCipher, query: PregnancyQuery, now: datetime
) -> Any:
    """Every filter but the name's and the phone's, as SQL."""
    if query.phone_last4 is not None and query.name is None:
        raise SearchInputError(
            "phone-needs-name", "the phone's last four digits find a woman only with her name"
        )
    # Who may see her (``scope.visible_patients``'s rule) applied to the joined row itself, and
    # her hospital named as a list: every probe below (name, ID number, EDD) is then an index
    # condition on (hospital_id, …), not a semi-join over every visible patient.
    hospitals = _hospitals(session, actor, now)
    statement: Any = select(Pregnancy, Patient).join(Patient, Patient.id == Pregnancy.patient_id)
    statement = statement.where(
        visible_patients(actor, now).whereclause,
        Patient.hospital_id.in_(hospitals),
        Pregnancy.hospital_id.in_(hospitals),
    )
    if query.his_id is not None:
        statement = statement.where(Patient.his_patient_id == query.his_id)
    if query.id_number is not None:
        statement = statement.where(Patient.id_number_hash == cipher.lookup_hash("id", query.id_number))
    if query.status is not None:
        statement = statement.where(Pregnancy.status == query.status)
    if query.risk_colour is not None:
        statement = statement.where(Pregnancy.risk_colour == query.risk_colour)
    if query.tag is not None:
        statement = statement.where(_has_tag(session.get_bind().dialect.name, query.tag))
    if query.diagnosis is not None:
        statement = statement.where(_has_diagnosis(query.diagnosis))
    if query.source is not None:
        statement = statement.where(_from_source(session, actor, query.source))
    if query.week_from is not None or query.week_to is not None:
        low, high = edd_range(SendWindow().local_date(now), query.week_from, query.week_to)
        statement = statement.where(Pregnancy.status == "pregnant", Pregnancy.edd.is_not(None))
        if low is not None:
            statement = statement.where(Pregnancy.edd >= low)
        if high is not None:
            statement = statement.where(Pregnancy.edd <= high)
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


def _hospitals(session: Session, actor: Actor, now: datetime) -> list[str]:
    """The hospitals whose patients the actor may see: its own and those that granted it some
    (a pregnancy is her hospital's)."""
    granted = session.scalars(
        select(Patient.hospital_id)
        .distinct()
        .join(PatientGrant, PatientGrant.patient_id == Patient.id)
        .where(
            PatientGrant.grantee_hospital_id == actor.hospital_id,
            or_(PatientGrant.revoked_at.is_(None), PatientGrant.revoked_at > now),
        )
    ).all()
    return sorted({actor.hospital_id, *granted})


def _opened_names(
    session: Session, cipher: FieldCipher, statement: Any, name: str, *, prefix: bool
) -> list[str]:
    """The pregnancies of ``statement`` whose opened name equals (or begins with) ``name``;
    refused when more than ``NAME_SCAN_LIMIT`` names would be opened."""
    candidates = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    if candidates > NAME_SCAN_LIMIT:
        raise SearchTooBroadError(
            f"{candidates} pregnancies match the other filters; a search by the beginning of a name "
            f"opens at most {NAME_SCAN_LIMIT} sealed names: add his_id, id_number, tag, risk colour, "
            "week, diagnosis, source or pathway"
        )
    matched = []
    for pregnancy_id, sealed in session.execute(
        statement.with_only_columns(Pregnancy.id, Patient.name_sealed)
    ):
        plain = normalised_name(cipher.open(sealed)) if sealed else ""
        if (plain.startswith(name) and plain != "") if prefix else plain == name:
            matched.append(pregnancy_id)
    return matched


def _narrowed(
    session: Session, actor: Actor, cipher: FieldCipher, query: PregnancyQuery, now: datetime
) -> Any:
    """The statement of every filter, the name's and the phone's included (those two may open a
    bounded number of sealed fields and name the matches by id)."""
    statement = _statement(session, actor, cipher, query, now)
    if query.name is None:
        return statement
    name = normalised_name(query.name)
    if query.name_mode == "prefix":
        statement = statement.where(
            Pregnancy.id.in_(_opened_names(session, cipher, statement, name, prefix=True))
        )
    else:
        probe = Patient.name_hash == cipher.name_hash(query.name)
        hospitals = Patient.hospital_id.in_(_hospitals(session, actor, now))
        unhashed = and_(hospitals, Patient.name_hash.is_(None), Patient.name_sealed.is_not(None))
        if session.scalar(select(Patient.id).where(unhashed).limit(1)) is None:
            statement = statement.where(probe)
        else:  # rows written before 0026 and not backfilled yet: opened, boundedly
            old = _opened_names(session, cipher, statement.where(unhashed), name, prefix=False)
            statement = statement.where(or_(probe, Pregnancy.id.in_(old)))
    if query.phone_last4 is not None:
        rows = session.execute(
            statement.with_only_columns(Pregnancy.id, Patient.phone_sealed).limit(PHONE_SCAN_LIMIT + 1)
        ).all()
        if len(rows) > PHONE_SCAN_LIMIT:
            raise SearchTooBroadError(
                f"more than {PHONE_SCAN_LIMIT} pregnancies have this name: add another filter"
            )
        last4 = query.phone_last4
        statement = statement.where(
            Pregnancy.id.in_([i for i, sealed in rows if sealed and cipher.open(sealed)[-4:] == last4])
        )
    return statement


def cohort(session: Session, cipher: FieldCipher, actor: Actor, query: PregnancyQuery, now: datetime) -> Any:
    """The ids of every pregnancy ``actor`` may see that the query's filters select, as one SQL
    statement (batch actions run on it, issue 21 item 4). Every filter applies as in ``search``:
    an exact name through its keyed hash; a name's beginning, the phone's last four digits and
    names not yet backfilled by opening a bounded number of sealed fields (the matches are then
    named by id in the statement; ``SearchTooBroadError`` beyond the bound; ``SearchInputError``
    for a filter that cannot select: an unknown source, a diagnosis that is no code, the phone's
    digits without a name). A week range upside down selects nobody. ``limit`` and ``after``
    are ignored: a cohort is all of them."""
    return (
        _narrowed(session, actor, cipher, query, now).with_only_columns(Pregnancy.id).order_by(Pregnancy.id)
    )


def search(
    db: Database, cipher: FieldCipher, actor: Actor, query: PregnancyQuery, now: datetime
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of matching pregnancies (masked) and the cursor of the next page (or None)."""
    with db.transaction() as session:
        return _search(session, cipher, actor, query, now)


def _search(
    session: Session, cipher: FieldCipher, actor: Actor, query: PregnancyQuery, now: datetime
) -> tuple[list[dict[str, Any]], str | None]:
    if query.week_from is not None and query.week_to is not None and query.week_from > query.week_to:
        # said, not answered empty: a nurse who swapped the two fields should hear it (a cohort
        # of such a range is simply empty)
        raise SearchInputError("week-range-upside-down", "the week range starts after it ends")
    today = SendWindow().local_date(now)
    statement = _narrowed(session, actor, cipher, query, now)
    if query.after is not None:
        statement = statement.where(Pregnancy.id > query.after)
    rows = [tuple(r) for r in session.execute(statement.order_by(Pregnancy.id).limit(query.limit + 1)).all()]
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    plans = _open_plans(session, [pregnancy.id for pregnancy, _ in rows])
    results = []
    for pregnancy, patient in rows:
        audit(session, actor, "list", now, "search result", patient_id=patient.id, pregnancy_id=pregnancy.id)
        results.append(_result(cipher, pregnancy, patient, today, plans.get(pregnancy.id, [])))
    return results, (rows[-1][0].id if more and rows else None)


def _open_plans(session: Session, pregnancy_ids: list[str]) -> dict[str, list[str]]:
    """The plans each pregnancy of a page is enrolled in now: one statement for the page."""
    found: dict[str, list[str]] = {}
    if pregnancy_ids:
        for pregnancy_id, pathway_id in session.execute(
            select(EnrolmentRecord.pregnancy_id, EnrolmentRecord.pathway_id)
            .where(EnrolmentRecord.pregnancy_id.in_(pregnancy_ids), EnrolmentRecord.ended_at.is_(None))
            .order_by(EnrolmentRecord.pregnancy_id, EnrolmentRecord.pathway_id)
        ):
            found.setdefault(pregnancy_id, []).append(pathway_id)
    return found


def _result(
    cipher: FieldCipher, pregnancy: Pregnancy, patient: Patient, today: date, pathways: list[str]
) -> dict[str, Any]:
    facts = pregnancy.state.get("facts", {})
    return {
        "pregnancy": pregnancy.id,
        "number": pregnancy.number,
        "his_pregnancy_id": pregnancy.his_pregnancy_id,
        "status": pregnancy.status,
        **gestation(pregnancy, today),
        **stored_colour(facts),
        "tags": list(facts.get("tags", [])),
        "pathways": pathways,
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
