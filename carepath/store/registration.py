"""Her registration from her pages (自动化建档 and 自动化招生, issue 18 items 4, 5 and 7).

``register`` takes a checked form (``registration_form.py``) and, in one transaction:

- a new woman (no one in the hospital has her ID number's keyed hash): her patient and
  pregnancy are made by a ``patient.registered`` event, evaluated as any HIS event is, so every
  pathway whose audience takes her enrols her (the school's weekly lessons have no audience:
  every registered pregnancy joins, 自动化招生); the risk screen is submitted as a
  ``questionnaire.submitted`` event (its rules suggest a colour); her consents are recorded
  with the notice version and her source; her phone is bound; a girl under 14 opens an urgent
  task for the staff; ``on_done`` runs last (her pages file her inbox copies at once and
  record her source);
- her ID number matches a woman on file: nothing of that woman is changed or shown. The form
  waits sealed (``status`` pending) until she proves it is hers: an SMS code to the phone on
  file (``complete_pending``) or a nurse at the desk who checks her ID card
  (``confirm_at_desk``). Then a woman whose last pregnancy ended gets a new pregnancy (never
  the old one reopened); one whose pregnancy is ongoing is bound to it as it stands (her
  dating and history there are the clinic's, not the form's).

The form's token is unique: a second submit of the same form answers as the first did. Events
are posted as the hospital's ``h5`` integrator, so the HIS's own events (matched by his_id or
by the ID number's keyed hash, ``event_patients.find_patient``) land on the same woman later.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from carepath.errors import CarepathError
from carepath.store import audit as audit_log
from carepath.store import care_routing, consents, events, sources
from carepath.store import registration_records as records
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.models import (
    Integrator,
    Patient,
    Pregnancy,
    StaffTask,
)
from carepath.store.models_registration import Registration
from carepath.store.models_sources import Source
from carepath.store.registration_form import CheckedForm
from carepath.store.scope import Actor, audit
from carepath.store.state_codec import stored_colour

#: The integrator her pages post registration events as (one per hospital, made on first use).
H5_INTEGRATOR = "h5"
#: A form waiting for her proof is forgotten after this: she fills it in again.
PENDING_LIFETIME = timedelta(hours=24)
#: Forms from one address that may wait for a proof within an hour. "Prove it is yours" tells the
#: one who typed an ID number that its owner is registered here (at a maternity hospital): past
#: this, every form from the address is refused for the hour, matched or not, so the refusal
#: itself tells nothing. A clinic's shared Wi-Fi makes one address of many women; proofs are rare.
PROOFS_PER_ADDRESS = 5
PROOF_WINDOW = timedelta(hours=1)

#: Run last in the registration's transaction: (session, registration, pregnancy).
OnDone = Callable[[Session, Registration, Pregnancy], None]


class RegistrationNotFoundError(CarepathError):
    """No pending registration with this token or reference (or it expired)."""

    code = "registration-not-found"


class TooManyProofsError(CarepathError):
    """This address had too many forms waiting for a proof this hour (``PROOFS_PER_ADDRESS``)."""

    code = "registration-rate-limited"


class IdentityMismatchError(CarepathError):
    """The ID number the nurse read from her card is not the one the form gave."""

    code = "identity-mismatch"


@dataclass(frozen=True)
class Registered:
    """She is registered: sign her in as ``patient_id``; her pregnancy and suggested colour."""

    reference: str
    patient_id: int
    pregnancy_id: str
    risk_colour: str | None
    guardian_task: bool
    proven_by: str


@dataclass(frozen=True)
class ProofNeeded:
    """Her ID number is on file: she proves it is hers first. ``can_sms``: a phone is on file
    (never shown, not even masked); ``reference`` is what she tells the nurse at the desk."""

    reference: str
    can_sms: bool


Outcome = Registered | ProofNeeded


def register(
    db: Database,
    cipher: FieldCipher,
    hospital_id: str,
    token: str,
    form: CheckedForm,
    *,
    now: datetime,
    source: str | None = None,
    signed_in: int | None = None,
    remote_addr: str | None = None,
    on_done: OnDone | None = None,
) -> Outcome:
    """Register her from a checked form (see the module docstring). ``signed_in``: the patient
    her session is signed in as, who needs no proof of her own ID number."""

    def work(session: Session) -> Outcome:
        existing = session.scalar(select(Registration).where(Registration.token == token))
        if existing is not None:
            return _outcome(session, cipher, existing)
        address = (remote_addr or "")[:64] or None
        if (
            address is not None
            and (
                session.scalar(
                    select(func.count())
                    .select_from(Registration)
                    .where(
                        Registration.remote_addr == address,
                        Registration.created_at > now - PROOF_WINDOW,
                        # the forms that waited for a proof (pending, or proven since)
                        or_(
                            Registration.proven_by.is_(None),
                            Registration.proven_by.not_in(("new", "signed-in")),
                        ),
                    )
                )
                or 0
            )
            >= PROOFS_PER_ADDRESS
        ):
            raise TooManyProofsError(
                f"{PROOFS_PER_ADDRESS} forms from {address} waited for a proof this hour"
            )
        digest = cipher.lookup_hash("id", form.id_number)
        matched = session.scalar(
            select(Patient).where(Patient.hospital_id == hospital_id, Patient.id_number_hash == digest)
        )
        row = Registration(
            hospital_id=hospital_id,
            token=token,
            reference=_reference(),
            status="pending",
            id_number_hash=digest,
            form_sealed=cipher.seal(json.dumps(form.as_json(), ensure_ascii=False)),
            source=source,
            remote_addr=address,
            patient_id=matched.id if matched is not None else None,
            created_at=now,
        )
        session.add(row)
        session.flush()  # the unique token decides between two submits of one form
        actor = h5_actor(session, hospital_id)
        if matched is None or matched.id == signed_in:
            return complete_form(
                session,
                cipher,
                actor,
                row,
                form,
                now=now,
                proven_by="new" if matched is None else "signed-in",
                on_done=on_done,
            )
        audit(session, actor, "change", now, f"registration {row.reference}: ID number on file, proof asked")
        return ProofNeeded(row.reference, matched.phone_sealed is not None)

    return events.retrying(db, work)


def outcome(db: Database, cipher: FieldCipher, token: str, now: datetime) -> Outcome | None:
    """Where the registration of this form stands (None: no such form, or it expired)."""
    with db.reading() as session:
        row = session.scalar(select(Registration).where(Registration.token == token))
        if row is None or (row.status == "pending" and row.created_at + PENDING_LIFETIME < now):
            return None
        return _outcome(session, cipher, row)


def phone_on_file(db: Database, cipher: FieldCipher, token: str, now: datetime) -> tuple[int, str] | None:
    """(patient id, phone) of the woman a pending form's ID number matched: where her SMS code
    goes. Never shown to the one asking."""
    with db.reading() as session:
        try:
            row = _pending(session, token, now)
        except RegistrationNotFoundError:
            return None
        patient = session.get(Patient, row.patient_id)
        if patient is None or patient.phone_sealed is None:
            return None
        return patient.id, cipher.open(patient.phone_sealed)


def complete_pending(
    db: Database,
    cipher: FieldCipher,
    token: str,
    now: datetime,
    *,
    proven_by: str,
    on_done: OnDone | None = None,
) -> Registered:
    """She proved the record is hers (``proven_by``: ``sms``): the waiting form is registered."""

    def work(session: Session) -> Registered:
        row = _pending(session, token, now, lock=True)
        if row.status == "done":
            outcome = _outcome(session, cipher, row)
            assert isinstance(outcome, Registered)
            return outcome
        form = CheckedForm.from_json(json.loads(cipher.open(row.form_sealed or "")))
        return complete_form(
            session,
            cipher,
            h5_actor(session, row.hospital_id),
            row,
            form,
            now=now,
            proven_by=proven_by,
            on_done=on_done,
        )

    return events.retrying(db, work)


def confirm_at_desk(
    db: Database,
    cipher: FieldCipher,
    actor: Actor,
    reference: str,
    id_number: str,
    *,
    now: datetime,
    on_done: OnDone | None = None,
) -> Registered:
    """A nurse checked her ID card at the desk: the number she typed from it must be the form's;
    then the waiting form is registered (proven by the nurse). Her page, reloaded, signs her in."""

    def work(session: Session) -> Registered:
        row = session.scalar(
            select(Registration)
            .where(
                Registration.hospital_id == actor.hospital_id,
                Registration.reference == reference.strip().upper(),
            )
            .with_for_update()
        )
        if row is None or row.status != "pending" or row.created_at + PENDING_LIFETIME < now:
            raise RegistrationNotFoundError(f"no registration {reference!r} waiting for a check")
        if cipher.lookup_hash("id", id_number.strip().upper()) != row.id_number_hash:
            audit_log.record(
                db, actor, "refuse", now, f"registration {row.reference}: ID number not the form's"
            )
            raise IdentityMismatchError("the ID number on her card is not the one her form gave")
        form = CheckedForm.from_json(json.loads(cipher.open(row.form_sealed or "")))
        done = complete_form(
            session,
            cipher,
            h5_actor(session, row.hospital_id),
            row,
            form,
            now=now,
            proven_by=actor.label,
            on_done=on_done,
        )
        detail = f"registration {row.reference} (her own form) confirmed at the desk"
        audit(
            session,
            actor,
            "register",
            now,
            detail,
            patient_id=done.patient_id,
            pregnancy_id=done.pregnancy_id,
        )
        return done

    return events.retrying(db, work)


def h5_actor(session: Session, hospital_id: str, name: str = H5_INTEGRATOR) -> Actor:
    """The hospital's ``h5`` integrator as the actor of events from her pages (made once);
    ``name``: another such poster of forms (``desk``, the registration desk)."""
    found = session.scalar(
        select(Integrator.id).where(Integrator.hospital_id == hospital_id, Integrator.name == name)
    )
    if found is None:
        integrator = Integrator(hospital_id=hospital_id, name=name)
        session.add(integrator)
        session.flush()
        found = integrator.id
    return Actor(hospital_id, "h5", str(found))


def _reference() -> str:
    return f"R{secrets.randbelow(1_000_000):06d}"


def _pending(session: Session, token: str, now: datetime, *, lock: bool = False) -> Registration:
    statement = select(Registration).where(Registration.token == token)
    row = session.scalar(statement.with_for_update() if lock else statement)
    if row is None or row.patient_id is None:
        raise RegistrationNotFoundError("no registration of this form waits for a proof")
    if row.status == "pending" and row.created_at + PENDING_LIFETIME < now:
        raise RegistrationNotFoundError("the registration waited too long; fill the form in again")
    return row


def _outcome(session: Session, cipher: FieldCipher, row: Registration) -> Outcome:
    if row.status == "pending":
        patient = session.get(Patient, row.patient_id)
        return ProofNeeded(row.reference, patient is not None and patient.phone_sealed is not None)
    assert row.patient_id is not None and row.pregnancy_id is not None
    pregnancy = session.get(Pregnancy, row.pregnancy_id)
    assert pregnancy is not None
    task = session.scalar(select(StaffTask.id).where(StaffTask.dedupe_key == _guardian_key(row)))
    colour = stored_colour(pregnancy.state.get("facts", {}))["risk_colour"]
    return Registered(
        row.reference, row.patient_id, row.pregnancy_id, colour, task is not None, row.proven_by or ""
    )


def complete_form(
    session: Session,
    cipher: FieldCipher,
    actor: Actor,
    row: Registration,
    form: CheckedForm,
    *,
    now: datetime,
    proven_by: str,
    on_done: OnDone | None,
    consent_source: str | None = None,
) -> Registered:
    """Register ``row``'s form (see the module docstring): her own pages and the desk
    (``desk_registration.py``, whose ``consent_source`` is ``staff:<id>``) both end here."""
    patient = session.get(Patient, row.patient_id) if row.patient_id is not None else None
    ongoing = (
        session.scalar(
            select(Pregnancy)
            .where(Pregnancy.patient_id == patient.id, Pregnancy.status == "pregnant")
            .order_by(Pregnancy.number.desc())
            .limit(1)
            .with_for_update()
        )
        if patient is not None
        else None
    )
    new_patient = False  # her patient row made in this transaction: no consent or binding to end
    openid = form.extra.get("openid")  # web authorisation found her openid before she registered
    came_from = _source(session, cipher, row, openid)  # also her team and doctor (care_routing)
    if ongoing is None:  # a new woman, or one whose last pregnancy ended: a new pregnancy
        event = records.registration_event(row, form, now)
        done = events.record(session, cipher, actor, event, now, source=came_from)
        pregnancy = done.pregnancy or session.get(Pregnancy, done.answer.body["pregnancy"])
        assert pregnancy is not None
        patient = done.patient or session.get(Patient, pregnancy.patient_id)
        new_patient = done.new_patient
    else:
        pregnancy = ongoing
    assert patient is not None
    records.screen(session, cipher, actor, row, form, patient=patient, pregnancy=pregnancy, now=now)
    records.consents(
        session, patient, pregnancy, form, now=now,
        source=consent_source or (f"h5:{row.source}"[:40] if row.source else "h5"),
        new_patient=new_patient,
    )  # fmt: skip
    hospital_id, patient_id = row.hospital_id, patient.id
    consents.bind(
        session,
        cipher,
        hospital_id=hospital_id,
        patient_id=patient_id,
        kind="phone",
        value=form.phone,
        at=now,
        first=new_patient,
    )
    if isinstance(openid, dict):
        appid, value = str(openid["appid"]), str(openid["openid"])
        consents.bind(
            session, cipher, hospital_id=hospital_id, patient_id=patient_id, kind="wechat_oa", account=appid,
            value=value, at=now, first=new_patient,
        )  # fmt: skip
    if came_from is not None:  # 自动化招生: she follows its department and doctor
        sources.record_registration(session, came_from, patient, now, pregnancy_id=pregnancy.id)
    if form.under_guardian_age:
        team_id, assignee_id = care_routing.resolve(session, pregnancy.id, "responsible_nurse", now=now)
        session.add(
            StaffTask(
                team_id=team_id,
                assignee_id=assignee_id,
                hospital_id=row.hospital_id,
                pregnancy_id=pregnancy.id,
                dedupe_key=_guardian_key(row),
                title="未满14周岁孕妇线上建档：核实监护人同意，并由本院依规履行报告义务",
                assign="responsible_nurse",
                priority="urgent",
                due_at=now,
                status="open",
                created_at=now,
            )
        )
    row.status, row.proven_by, row.completed_at = "done", proven_by, now
    row.patient_id, row.pregnancy_id = patient.id, pregnancy.id
    audit(
        session,
        actor,
        "change",
        now,
        f"registration {row.reference} done (proven by {proven_by}; source {row.source or '-'})",
        patient_id=patient.id,
        pregnancy_id=pregnancy.id,
    )
    session.flush()
    if on_done is not None:
        on_done(session, row, pregnancy)
    colour = stored_colour(pregnancy.state.get("facts", {}))["risk_colour"]
    return Registered(row.reference, patient.id, pregnancy.id, colour, form.under_guardian_age, proven_by)


def _source(session: Session, cipher: FieldCipher, row: Registration, openid: Any) -> Source | None:
    """The source she came from: its short URL's code, else the source of her openid's last scan
    or follow; only her hospital's. Counting her registration on it links her to its department
    and doctor (``sources.record_registration``)."""
    source = sources.find_by_code(session, row.source) if row.source else None
    if source is None and isinstance(openid, dict):
        hashed = sources.openid_hash(cipher, str(openid["appid"]), str(openid["openid"]))
        source = sources.source_for_openid(session, row.hospital_id, hashed)
    if source is None or source.hospital_id != row.hospital_id:
        row.source = None  # an unknown code, or another hospital's: not where she came from
        return None
    row.source = source.code
    return source


def _guardian_key(row: Registration) -> str:
    return f"registration:{row.token}:guardian"
