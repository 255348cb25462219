"""Batch actions on a cohort (issue 21 item 4, 自动化患者管理): add a tag, enrol in a plan, or
push an approved content item, for every woman a filter selects. docs/batch-actions.md.

The cohort is ``search.cohort`` (one statement of pregnancy ids), narrowed to the actor's own
hospital as her record's actions are (a granted hospital only reads). An empty filter is
refused: a batch never means "every woman of the hospital" by omission.

Each woman's change goes through the same code as her record's actions (``record_actions``):
a tag or a plan is one event of the language (``tag.added``, ``plan.enrol_requested``) recorded
and evaluated for her, under event id ``batch-<batch>-<pregnancy>`` (a retried page answers as
a replay); a push is the record page's manual push, but a page of women is one
``INSERT … SELECT`` whose dedupe key follows the five-part recipe,
``<pregnancy>/manual@1/batch-<batch>/<content>@<version>/0``: a retried batch sends nothing
twice, and a woman who already received that item version (from a pathway, her record or an
earlier batch) is skipped.

A batch runs in pages (``cohort_batch_runs.py``); each page's work, its counters and the
cursor (the last pregnancy id done) commit together, so a crash loses at most the page in
flight and the next runner goes on from the cursor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from carepath.store import record_actions
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.models import OutboxRow, Patient, Pregnancy
from carepath.store.models_batches import CohortBatch
from carepath.store.pathways import library_for
from carepath.store.patients import masked_patient
from carepath.store.record_actions import RecordActionError
from carepath.store.scope import Actor, audit
from carepath.store.search import PregnancyQuery, SearchInputError, SearchTooBroadError, cohort

ACTIONS = ("tag", "enrol", "push")
#: Above this many women the page asks a second confirmation.
LARGE = 500
SAMPLE = 10
#: The filters of ``PregnancyQuery`` a batch takes (text, or whole weeks).
TEXT_FILTERS = (
    "name",
    "his_id",
    "id_number",
    "tag",
    "diagnosis",
    "source",
    "risk_colour",
    "pathway",
    "status",
)
WEEK_FILTERS = ("week_from", "week_to")
#: Outbox states in which an item did not reach her and never will from that row.
_NOT_RECEIVED = ("cancelled", "replaced", "skipped")


def query_of(values: Mapping[str, Any]) -> PregnancyQuery:
    """The filter a form (or a stored batch) gives, checked: ``empty-filter`` when it selects
    nothing in particular, ``bad-week`` for a week that is not 0–45."""
    found: dict[str, Any] = {}
    for name in TEXT_FILTERS:
        text = str(values.get(name) or "").strip()[:100]
        if text:
            found[name] = text
    for name in WEEK_FILTERS:
        text = str(values.get(name) if values.get(name) is not None else "").strip()
        if text:
            if not text.isdigit() or not 0 <= int(text) <= 45:
                raise RecordActionError("bad-week", name)
            found[name] = int(text)
    if not found:
        raise RecordActionError("empty-filter", "filter")
    return PregnancyQuery(**found)


def filter_of(query: PregnancyQuery) -> dict[str, Any]:
    """The filters set in ``query`` (what a batch row stores and the pages show)."""
    return {k: v for k, v in asdict(query).items() if k in TEXT_FILTERS + WEEK_FILTERS and v is not None}


def cohort_of(
    session: Session, cipher: FieldCipher, actor: Actor, query: PregnancyQuery, now: datetime
) -> Any:
    """The cohort's statement of pregnancy ids, in id order: the actor's own hospital's only. A
    filter the search refuses (a name too broad before the backfill, a filter that cannot
    select) is refused as the batch's own input, so the page says it in Chinese."""
    try:
        statement = cohort(session, cipher, actor, query, now)
    except SearchTooBroadError as error:
        raise RecordActionError("name-too-broad", "name", str(error)) from error
    except SearchInputError as error:
        raise RecordActionError("filter-refused", "filter", str(error)) from error
    return statement.where(Pregnancy.hospital_id == actor.hospital_id)


def _count(session: Session, statement: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(statement.subquery())) or 0)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def received_rows(name: str, version: str) -> tuple[Any, ...]:
    """Outbox rows by which she has (or is being sent) ``name`` at ``version``: a pathway's or
    her record's push filed from that text, or a batch's push of it (its key names the version)."""
    return (
        OutboxRow.kind == "push",
        OutboxRow.status.not_in(_NOT_RECEIVED),
        or_(
            OutboxRow.dedupe_key.like(f"%/manual@1/batch-%/{_like(name)}@{_like(version)}/0", escape="\\"),
            and_(OutboxRow.content_version == version, OutboxRow.params["content"].as_string() == name),
        ),
    )


def received(name: str, version: str) -> Any:
    """She has ``name`` at ``version`` (``received_rows``), correlated to her pregnancy."""
    return exists().where(OutboxRow.pregnancy_id == Pregnancy.id, *received_rows(name, version))


@dataclass(frozen=True)
class Preview:
    """The cohort before an action is chosen: how many, and a masked sample."""

    filter: dict[str, Any]
    total: int
    sample: list[dict[str, Any]] = field(default_factory=list)


def preview(db: Database, cipher: FieldCipher, actor: Actor, query: PregnancyQuery, now: datetime) -> Preview:
    """Count and a sample of ``SAMPLE`` women (masked; each listed woman audited)."""
    with db.transaction() as session:
        statement = cohort_of(session, cipher, actor, query, now)
        total = _count(session, statement)
        ids = list(session.scalars(statement.limit(SAMPLE)))
        rows = session.execute(
            select(Pregnancy, Patient)
            .join(Patient, Patient.id == Pregnancy.patient_id)
            .where(Pregnancy.id.in_(ids))
            .order_by(Pregnancy.id)
        ).all()
        sample = []
        for pregnancy, patient in rows:
            audit(
                session, actor, "list", now, "batch preview", patient_id=patient.id, pregnancy_id=pregnancy.id
            )
            facts = pregnancy.state.get("facts", {})
            sample.append(
                {
                    "pregnancy": pregnancy.id,
                    "patient": masked_patient(cipher, patient),
                    "colour": pregnancy.risk_colour,
                    "tags": list(facts.get("tags", [])),
                }
            )
    return Preview(filter_of(query), total, sample)


@dataclass(frozen=True)
class Plan:
    """A checked action on the cohort, as the confirm screen shows it: ``already`` women have
    the pushed item version (they will be skipped)."""

    action: str
    target: str
    content_version: str | None
    reason: str
    total: int
    already: int

    @property
    def large(self) -> bool:
        return self.total > LARGE


def _target(session: Session, actor: Actor, action: str, target: str, reason: str) -> tuple[str, str | None]:
    """The action's target checked as her record checks it (a tag, a plan of the library, an
    approved content item and its version)."""
    if action == "tag":
        return record_actions.tag_change(actor, target, add=True, reason=reason).data["tag"], None
    if action == "enrol":
        pathway = str(record_actions.plan_change(actor, target, enrol=True, reason=reason).data["pathway"])
        if pathway not in library_for(session, actor.hospital_id).current:
            raise RecordActionError("unknown-pathway", "pathway")
        return pathway, None
    if action == "push":
        return record_actions.approved_version(session, actor.hospital_id, target)
    raise RecordActionError("bad-action", "action")


def check(
    db: Database,
    cipher: FieldCipher,
    actor: Actor,
    query: PregnancyQuery,
    *,
    action: str,
    target: str,
    reason: str,
    now: datetime,
) -> Plan:
    """The action checked against the cohort (refusals: ``RecordActionError`` with a code)."""
    with db.reading() as session:
        return _check(session, cipher, actor, query, action=action, target=target, reason=reason, now=now)


def _check(
    session: Session,
    cipher: FieldCipher,
    actor: Actor,
    query: PregnancyQuery,
    *,
    action: str,
    target: str,
    reason: str,
    now: datetime,
) -> Plan:
    why = (reason or "").strip()
    if not why:
        raise RecordActionError("reason-required", "reason")
    if len(why) > 200:
        raise RecordActionError("reason-too-long", "reason")
    name, version = _target(session, actor, action, (target or "").strip(), why)
    statement = cohort_of(session, cipher, actor, query, now)
    total = _count(session, statement)
    already = _count(session, statement.where(received(name, version))) if version else 0
    return Plan(action, name, version, why, total, already)


def start(
    db: Database,
    cipher: FieldCipher,
    actor: Actor,
    query: PregnancyQuery,
    *,
    action: str,
    target: str,
    reason: str,
    request: str,
    confirmed_large: bool,
    now: datetime,
) -> tuple[int, bool]:
    """Record a confirmed batch (audited) and return (its id, whether this confirmation was a
    double click of one recorded before). It runs later, in pages (``run``)."""
    token = record_actions.check_request(request)
    with db.transaction() as session:
        found = session.scalar(select(CohortBatch.id).where(CohortBatch.request == token))
        if found is not None:
            return int(found), True
        plan = _check(session, cipher, actor, query, action=action, target=target, reason=reason, now=now)
        if plan.total == 0:
            raise RecordActionError("empty-cohort", "filter")
        if plan.large and not confirmed_large:
            raise RecordActionError("second-confirmation", "confirm_large")
        batch = CohortBatch(
            hospital_id=actor.hospital_id,
            staff_id=int(actor.id),
            remote_addr=actor.remote_addr,
            request=token,
            action=plan.action,
            target=plan.target,
            content_version=plan.content_version,
            reason=plan.reason,
            cohort_filter=filter_of(query),
            state="running",
            total=plan.total,
            already=plan.already,
            done=0,
            skipped=0,
            failed=0,
            created_at=now,
            updated_at=now,
        )
        session.add(batch)
        session.flush()
        audit(
            session,
            actor,
            "change",
            now,
            f"batch {batch.id}: {plan.action} {plan.target} for {plan.total} women "
            f"(filter {filter_of(query)}; {plan.already} have it already): {plan.reason}",
        )
        return int(batch.id), False


def progress(db: Database, hospital_id: str, batch_id: int) -> dict[str, Any] | None:
    """A batch of the hospital as the progress page shows it (None: no such batch here)."""
    with db.reading() as session:
        batch = session.scalar(
            select(CohortBatch).where(CohortBatch.id == batch_id, CohortBatch.hospital_id == hospital_id)
        )
        return _shown(batch) if batch is not None else None


def recent(db: Database, hospital_id: str, limit: int = 20) -> list[dict[str, Any]]:
    with db.reading() as session:
        rows = session.scalars(
            select(CohortBatch)
            .where(CohortBatch.hospital_id == hospital_id)
            .order_by(CohortBatch.created_at.desc(), CohortBatch.id.desc())
            .limit(limit)
        )
        return [_shown(row) for row in rows]


def _shown(batch: CohortBatch) -> dict[str, Any]:
    return {
        "id": batch.id,
        "action": batch.action,
        "target": batch.target,
        "reason": batch.reason,
        "filter": dict(batch.cohort_filter),
        "state": batch.state,
        "total": batch.total,
        "already": batch.already,
        "done": batch.done,
        "skipped": batch.skipped,
        "failed": batch.failed,
        "created_at": batch.created_at.isoformat(),
        "staff_id": batch.staff_id,
        "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
    }
