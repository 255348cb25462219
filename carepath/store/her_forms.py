"""Her forms (问卷, issue 19 item 3): the questionnaires, exams and surveys she was sent, due
and done, one sent form with her answer, and her submit.

A form is *sent to her* when an outbox row of kind ``questionnaire`` naming a built-in form
(``carepath/forms/*.yaml``) has its inbox copy filed (``inbox_item_id``; a withdrawn copy is
not hers any more): what she holds in her inbox is what she may answer. It is *done* once
answered (``models_her_forms.HerFormAnswer``); each sent form is answered once.

Her answer goes through the questionnaire responses service (``responses.py``): the same
checks and problem codes as the API, the same score, and a ``questionnaire.submitted`` event
evaluated in the same transaction, so her pathways react before the page answers. The page's
random submission token is the response id: the same token again (a double tap, a retry after
a lost answer) answers as the first did. The sent form's outbox row is locked first, so two
concurrent submits of one form on PostgreSQL run one after the other and the second finds the
first's answer (SQLite's ``BEGIN IMMEDIATE`` serialises them anyway).

Every read is hers: another woman's form id, another hospital's, or a row that is no form sent
to her is not found, and the attempt is in the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carepath.engine.forms import Form
from carepath.errors import CarepathError
from carepath.store import events, form_answers, responses
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.her_pages import HerItem
from carepath.store.models import EventRecord, InboxItem, OutboxRow, Pregnancy, QuestionnaireResponse
from carepath.store.models_her_forms import HerFormAnswer
from carepath.store.registration import h5_actor
from carepath.store.scope import Actor, audit

#: Her form pages: ``/h5/forms/<outbox row id>``.
PATH = "/h5/forms/"
#: A submission token as her page makes it (``secrets.token_urlsafe(24)``: 32 characters).
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
#: Outbox rows no longer in force: not due, though an answer already given stays done.
NOT_IN_FORCE = ("cancelled", "replaced")

#: Run last in the submit's transaction (her pages file her urgent advice there): (session,
#: pregnancy id).
OnDone = Callable[[Session, str], None]


class FormNotFoundError(CarepathError):
    """No form with this id was sent to her (another woman's, another hospital's, or none)."""

    code = "form-not-found"


class AnswersInvalidError(responses.InvalidResponseError):
    """Her answers do not fit the form (the responses service's problems); ``sent`` is the form
    she was answering, for her page to show again with each problem next to its field."""

    def __init__(self, errors: list[dict[str, str]], sent: SentForm) -> None:
        super().__init__(errors)
        self.sent = sent


class SubmissionTokenError(CarepathError):
    """The page's submission token is missing or not one her page makes."""

    code = "submission-token"


@dataclass(frozen=True)
class HerForm:
    """One sent form as her list shows it."""

    id: int  # the outbox row's
    form: str
    title: str
    kind: str  # questionnaire | exam | survey
    sent_at: datetime
    done_at: datetime | None = None
    score: float | None = None  # exams: her right answers' points (None for other kinds)
    max_score: float | None = None

    @property
    def url(self) -> str:
        return f"{PATH}{self.id}"


@dataclass(frozen=True)
class HerForms:
    due: list[HerForm]  # newest first; one per form (the latest sending)
    done: list[HerForm]  # newest answer first


@dataclass(frozen=True)
class UrgentAdvice:
    """An urgent message to her (``urgent: true``: safety advice) her answer produced, with
    its inbox copy once filed (None when a kill switch left it to the dispatcher)."""

    outbox_id: int
    item: HerItem | None


@dataclass(frozen=True)
class Answered:
    submitted_at: datetime
    answers: Mapping[str, Any]
    score: Mapping[str, Any]  # the responses service's: total, max_total, band, flags ...
    advice: tuple[UrgentAdvice, ...]
    urgent_tasks: int  # urgent staff tasks her answer opened


@dataclass(frozen=True)
class SentForm:
    id: int
    pregnancy_id: str
    form: Form
    sent_at: datetime
    answered: Answered | None


def _library() -> Mapping[str, Form]:
    return form_answers.forms()


def forms_for(session: Session, pregnancy_id: str, now: datetime) -> HerForms:
    """Her forms of one pregnancy, due and done (the home page shows the due ones). Due: sent,
    in force, not answered, and the latest sending of its form (a BP log sent every 3 days is
    one thing to do, not ten). ``now`` bounds what counts as sent (a copy filed later is not)."""
    library = _library()
    found = session.execute(
        select(
            OutboxRow.id,
            OutboxRow.params,
            OutboxRow.status,
            InboxItem.filed_at,
            HerFormAnswer.submitted_at,
            QuestionnaireResponse.score,
        )
        .join(InboxItem, InboxItem.id == OutboxRow.inbox_item_id)
        .outerjoin(HerFormAnswer, HerFormAnswer.outbox_id == OutboxRow.id)
        .outerjoin(QuestionnaireResponse, QuestionnaireResponse.id == HerFormAnswer.response_id)
        .where(
            OutboxRow.pregnancy_id == pregnancy_id,
            OutboxRow.kind == "questionnaire",
            InboxItem.withdrawn_at.is_(None),
            InboxItem.filed_at <= now,
        )
        .order_by(InboxItem.filed_at.desc(), OutboxRow.id.desc())
    ).all()
    due: list[HerForm] = []
    done: list[HerForm] = []
    seen: set[str] = set()
    for row_id, params, status, filed_at, submitted_at, score in found:
        form = library.get(str((params or {}).get("form", "")))
        if form is None:
            continue
        if submitted_at is not None:
            scored = score if form.kind == "exam" and isinstance(score, dict) else {}
            total, most = scored.get("total"), scored.get("max_total")
            done.append(HerForm(row_id, form.id, form.title, form.kind, filed_at, submitted_at, total, most))
        elif status not in NOT_IN_FORCE and form.id not in seen:
            due.append(HerForm(row_id, form.id, form.title, form.kind, filed_at))
        seen.add(form.id)
    done.sort(key=lambda f: (f.done_at, f.id), reverse=True)
    return HerForms(due, done)


def her_forms(
    db: Database, hospital_id: str, patient_id: int, pregnancy_id: str | None, now: datetime
) -> HerForms:
    """``forms_for`` her pregnancy of this session, audited as her read."""
    with db.transaction() as session:
        mine = pregnancy_id is not None and session.scalar(
            select(Pregnancy.id).where(
                Pregnancy.id == pregnancy_id,
                Pregnancy.patient_id == patient_id,
                Pregnancy.hospital_id == hospital_id,
            )
        )
        found = forms_for(session, pregnancy_id, now) if mine and pregnancy_id else HerForms([], [])
        audit(
            session,
            _actor(hospital_id, patient_id),
            "list",
            now,
            f"her forms: {len(found.due)} due, {len(found.done)} done",
            patient_id=patient_id,
            pregnancy_id=pregnancy_id if mine else None,
        )
        return found


def _actor(hospital_id: str, patient_id: int) -> Actor:
    return Actor(hospital_id, "patient", str(patient_id))


def _sent_row(
    session: Session, hospital_id: str, patient_id: int, outbox_id: int, *, lock: bool = False
) -> tuple[OutboxRow, Form, datetime] | None:
    """The sent form ``outbox_id`` if it is hers (see the module), else None."""
    statement = (
        select(OutboxRow, InboxItem.filed_at)
        .join(InboxItem, InboxItem.id == OutboxRow.inbox_item_id)
        .join(Pregnancy, Pregnancy.id == OutboxRow.pregnancy_id)
        .where(
            OutboxRow.id == outbox_id,
            OutboxRow.hospital_id == hospital_id,
            OutboxRow.kind == "questionnaire",
            Pregnancy.patient_id == patient_id,
            Pregnancy.hospital_id == hospital_id,
            InboxItem.withdrawn_at.is_(None),
        )
    )
    found = session.execute(statement.with_for_update(of=OutboxRow) if lock else statement).first()
    if found is None:
        return None
    row, filed_at = found
    form = _library().get(str((row.params or {}).get("form", "")))
    return (row, form, filed_at) if form is not None else None


def _refused(session: Session, hospital_id: str, patient_id: int, outbox_id: int, now: datetime) -> None:
    audit(
        session,
        _actor(hospital_id, patient_id),
        "read-refused",
        now,
        f"her form {outbox_id}: no form sent to her has this id",
        patient_id=patient_id,
    )


def sent_form(db: Database, hospital_id: str, patient_id: int, outbox_id: int, now: datetime) -> SentForm:
    """One form sent to her, with her answer once given; ``FormNotFoundError`` (audited) if
    the id is no form sent to her."""
    with db.transaction() as session:
        found = _sent_row(session, hospital_id, patient_id, outbox_id)
        if found is None:
            _refused(session, hospital_id, patient_id, outbox_id, now)
        else:
            row, form, filed_at = found
            audit(
                session,
                _actor(hospital_id, patient_id),
                "read",
                now,
                f"her form {outbox_id} ({form.id})",
                patient_id=patient_id,
                pregnancy_id=row.pregnancy_id,
            )
            return SentForm(row.id, row.pregnancy_id, form, filed_at, _answered(session, row.id))
    raise FormNotFoundError(f"no form {outbox_id} was sent to patient {patient_id}")


def _answered(session: Session, outbox_id: int) -> Answered | None:
    found = session.execute(
        select(HerFormAnswer.submitted_at, QuestionnaireResponse)
        .join(QuestionnaireResponse, QuestionnaireResponse.id == HerFormAnswer.response_id)
        .where(HerFormAnswer.outbox_id == outbox_id)
    ).first()
    if found is None:
        return None
    submitted_at, response = found
    advice: list[UrgentAdvice] = []
    tasks = 0
    produced = session.scalars(
        select(OutboxRow)  # by her pregnancy first: its index (event_row_id has none)
        .where(
            OutboxRow.pregnancy_id == response.pregnancy_id, OutboxRow.event_row_id == response.event_row_id
        )
        .order_by(OutboxRow.id)
    ).all()
    for row in produced if response.event_row_id is not None else ():
        params = row.params if isinstance(row.params, dict) else {}
        if row.kind == "task" and params.get("priority") == "urgent":
            tasks += 1
        elif row.kind in ("push", "questionnaire", "remind") and params.get("urgent") is True:
            advice.append(UrgentAdvice(row.id, _copy(session, row, params)))
    return Answered(
        submitted_at, dict(response.answers or {}), dict(response.score or {}), tuple(advice), tasks
    )


def _copy(session: Session, row: OutboxRow, params: Mapping[str, Any]) -> HerItem | None:
    item = session.get(InboxItem, row.inbox_item_id) if row.inbox_item_id is not None else None
    if item is None or item.withdrawn_at is not None:
        return None
    key = params.get("content")
    return HerItem(item.id, item.pregnancy_id, item.kind, item.title, item.summary, item.body, item.filed_at,
                   item.read_at, str(key) if key else None, row.content_version)  # fmt: skip


@dataclass(frozen=True)
class Submitted:
    first: bool  # False: the form was answered already (a double submit, a second tab)
    sent: SentForm


def submit(
    db: Database,
    cipher: FieldCipher,
    *,
    hospital_id: str,
    patient_id: int,
    outbox_id: int,
    token: str,
    answers_of: Callable[[Form], Mapping[str, Any]],
    now: datetime,
    on_done: OnDone | None = None,
) -> Submitted:
    """Her answers to a form sent to her, checked, scored, recorded and evaluated (see the
    module). ``answers_of`` reads her answers for the form she was sent. Raises
    ``FormNotFoundError`` (audited), ``SubmissionTokenError``, and ``AnswersInvalidError``: the
    responses service's problems, each with its field path and code; nothing is written."""
    if not TOKEN.match(token or ""):
        raise SubmissionTokenError("the page's submission token is missing or malformed")
    sent = sent_form(db, hospital_id, patient_id, outbox_id, now)
    if sent.answered is not None:
        return Submitted(False, sent)
    answers = answers_of(sent.form)
    given = responses.ResponseInput(
        id=token,
        form=sent.form.id,
        submitted_at=now,
        answers=dict(answers),
        raw={"form": sent.form.id, "answers": dict(answers), "outbox": outbox_id},
        pregnancy=sent.pregnancy_id,
    )
    try:
        responses.check_response(given, now)
    except responses.InvalidResponseError as error:  # nothing written
        raise AnswersInvalidError(error.errors, sent) from None

    def work(session: Session) -> bool:
        found = _sent_row(session, hospital_id, patient_id, outbox_id, lock=True)
        if found is None:  # withdrawn meanwhile
            raise FormNotFoundError(f"no form {outbox_id} was sent to patient {patient_id}")
        if session.scalar(select(HerFormAnswer.id).where(HerFormAnswer.outbox_id == outbox_id)) is not None:
            return False  # a concurrent twin answered first (it held the row's lock)
        if session.scalar(select(HerFormAnswer.id).where(HerFormAnswer.token == token)) is not None:
            return False  # the token answered another form: never a second answer with it
        actor = h5_actor(session, hospital_id)
        try:
            responses.record_response(session, cipher, actor, given, now, id_number=None)
        except responses.ResponseConflictError:
            return False
        response_id = session.scalar(
            select(QuestionnaireResponse.id)
            .join(EventRecord, EventRecord.id == QuestionnaireResponse.event_row_id)
            .where(
                EventRecord.integrator_id == int(actor.id),
                EventRecord.event_id == responses.EVENT_PREFIX + token,
            )
        )
        if response_id is None:  # a replay of an event no answer row was written for
            return False
        session.add(
            HerFormAnswer(hospital_id=hospital_id, pregnancy_id=sent.pregnancy_id, outbox_id=outbox_id,
                          token=token, response_id=response_id, submitted_at=now)
        )  # fmt: skip
        session.flush()
        audit(
            session,
            _actor(hospital_id, patient_id),
            "change",
            now,
            f"her answer to form {outbox_id} ({sent.form.id})",
            patient_id=patient_id,
            pregnancy_id=sent.pregnancy_id,
        )
        if on_done is not None:
            on_done(session, sent.pregnancy_id)
        return True

    first = events.retrying(db, work)
    return Submitted(first, sent_form(db, hospital_id, patient_id, outbox_id, now))


def form_url_of_item(db: Database, item: HerItem) -> str | None:
    """Her form page for an inbox item that sent her a form (her inbox links to it), else None.
    ``item`` is hers already (``her_pages.her_item``)."""
    if item.kind != "questionnaire":
        return None
    with db.reading() as session:
        found = session.execute(
            select(OutboxRow.id, OutboxRow.params).where(
                OutboxRow.pregnancy_id == item.pregnancy_id,  # its index (inbox_item_id has none)
                OutboxRow.inbox_item_id == item.id,
                OutboxRow.kind == "questionnaire",
            )
        ).first()
    if found is None or str((found[1] or {}).get("form", "")) not in _library():
        return None
    return f"{PATH}{found[0]}"
