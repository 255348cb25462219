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

A batch runs in pages; each page's work, its counters and the cursor (the last pregnancy id
done) commit together, so a crash loses at most the page in flight and the next runner goes on
from the cursor. A runner claims the batch for ``CLAIM`` and renews the claim with every page;
an expired claim is taken over (``claim``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, exists, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from carepath.store import events, record_actions
from carepath.store.crypto import FieldCipher
from carepath.store.db import Database
from carepath.store.her_record import find_pregnancy
from carepath.store.models import AuditEntry, EnrolmentRecord, OutboxRow, Patient, Pregnancy
from carepath.store.models_batches import CohortBatch
from carepath.store.pathways import library_for
from carepath.store.patients import masked_patient
from carepath.store.record_actions import RecordActionError
from carepath.store.scope import Actor, audit
from carepath.store.search import PregnancyQuery, cohort

ACTIONS = ("tag", "enrol", "push")
#: Above this many women the page asks a second confirmation.
LARGE = 500
#: Women per transaction: an event is one evaluation each; a push page is a set statement.
EVENT_PAGE = 200
PUSH_PAGE = 2000
CLAIM = timedelta(seconds=60)
SAMPLE = 10
#: The filters of ``PregnancyQuery`` a batch takes (text, or whole weeks).
TEXT_FILTERS = ("name", "his_id", "id_number", "tag", "risk_colour", "pathway", "status")
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


def _cohort(session: Session, cipher: FieldCipher, actor: Actor, query: PregnancyQuery, now: datetime) -> Any:
    return cohort(session, cipher, actor, query, now).where(Pregnancy.hospital_id == actor.hospital_id)


def _count(session: Session, statement: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(statement.subquery())) or 0)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def received(name: str, version: str) -> Any:
    """She has (or is being sent) ``name`` at ``version``: a pathway's or her record's push
    filed from that text, or a batch's push of it (its dedupe key names the version)."""
    return exists().where(
        OutboxRow.pregnancy_id == Pregnancy.id,
        OutboxRow.kind == "push",
        OutboxRow.status.not_in(_NOT_RECEIVED),
        or_(
            OutboxRow.dedupe_key.like(f"%/manual@1/batch-%/{_like(name)}@{_like(version)}/0", escape="\\"),
            and_(OutboxRow.content_version == version, OutboxRow.params["content"].as_string() == name),
        ),
    )


@dataclass(frozen=True)
class Preview:
    """The cohort before an action is chosen: how many, and a masked sample."""

    filter: dict[str, Any]
    total: int
    sample: list[dict[str, Any]] = field(default_factory=list)


def preview(db: Database, cipher: FieldCipher, actor: Actor, query: PregnancyQuery, now: datetime) -> Preview:
    """Count and a sample of ``SAMPLE`` women (masked; each listed woman audited)."""
    with db.transaction() as session:
        statement = _cohort(session, cipher, actor, query, now)
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
        return _check(session, cipher, actor, query, action, target, reason, now)


def _check(
    session: Session,
    cipher: FieldCipher,
    actor: Actor,
    query: PregnancyQuery,
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
    statement = _cohort(session, cipher, actor, query, now)
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
        plan = _check(session, cipher, actor, query, action, target, reason, now)
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


def claim(db: Database, batch_id: int, worker: str, now: datetime) -> bool:
    """Take the batch for ``worker`` when it runs and nobody's claim holds (or it is ours)."""
    with db.transaction() as session:
        result = session.execute(
            update(CohortBatch)
            .where(
                CohortBatch.id == batch_id,
                CohortBatch.state == "running",
                or_(
                    CohortBatch.claimed_by.is_(None),
                    CohortBatch.claimed_by == worker,
                    CohortBatch.claimed_until < now,
                ),
            )
            .values(claimed_by=worker, claimed_until=now + CLAIM)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))


def _actor(batch: CohortBatch) -> Actor:
    return Actor(batch.hospital_id, "staff", str(batch.staff_id), batch.remote_addr)


def run_page(db: Database, cipher: FieldCipher, batch_id: int, worker: str, now: datetime) -> bool:
    """One page of the batch, if ``worker`` still holds it; True while more remain."""

    def work(session: Session) -> bool:
        batch = session.get(CohortBatch, batch_id, with_for_update=True)
        if batch is None or batch.state != "running" or batch.claimed_by != worker:
            return False
        actor = _actor(batch)
        statement = _cohort(session, cipher, actor, query_of(batch.cohort_filter), now)
        if batch.cursor is not None:
            statement = statement.where(Pregnancy.id > batch.cursor)
        page = PUSH_PAGE if batch.action == "push" else EVENT_PAGE
        ids = list(session.scalars(statement.limit(page)))
        if not ids:
            batch.state, batch.finished_at, batch.claimed_by, batch.claimed_until = "done", now, None, None
            batch.updated_at = now
            return False
        if batch.action == "push":
            done, skipped, failed = _push(session, batch, actor, ids, now), 0, 0
            skipped = len(ids) - done
        else:
            done, skipped, failed = _events(session, cipher, batch, actor, ids, now)
        batch = session.get(CohortBatch, batch_id)  # a rolled-back savepoint expired it
        assert batch is not None
        batch.done, batch.skipped, batch.failed = (
            batch.done + done,
            batch.skipped + skipped,
            batch.failed + failed,
        )
        batch.cursor, batch.updated_at, batch.claimed_until = ids[-1], now, now + CLAIM
        return True

    return events.retrying(db, work)


def batch_key(batch: CohortBatch) -> str:
    """The dedupe key after the pregnancy id (``<pregnancy>`` + this)."""
    return f"/manual@1/batch-{batch.id}/{batch.target}@{batch.content_version}/0"


def _plain(value: Any) -> bool:
    return isinstance(value, (str, int, dict, list, datetime))


def _push(session: Session, batch: CohortBatch, actor: Actor, ids: list[str], now: datetime) -> int:
    """The page's pushes in one statement, skipping who has the item version; their audit
    lines in a second. Returns how many were enqueued."""
    table = OutboxRow.__table__.c
    values = record_actions.manual_push(
        Pregnancy.hospital_id,
        Pregnancy.id,
        dedupe_key=Pregnancy.id + literal(batch_key(batch), String),
        content=batch.target,
        why=f"batch {batch.id} by {actor.label}: {batch.reason}",
        now=now,
    )
    # plain values become typed literals of the page's SELECT; the rest are its columns
    selected = [literal(v, table[k].type) if _plain(v) else v for k, v in values.items()]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    source = select(*selected).where(
        Pregnancy.id.in_(ids), ~received(batch.target, batch.content_version or "")
    )
    sent = list(
        session.scalars(
            insert(OutboxRow)
            .from_select(list(values), source)
            .on_conflict_do_nothing()
            .returning(OutboxRow.pregnancy_id)
        )
    )
    if sent:
        detail = f"batch {batch.id}: sent {batch.target} now: {batch.reason}"[:2000]
        session.execute(
            AuditEntry.__table__.insert().from_select(
                [
                    "hospital_id",
                    "actor",
                    "action",
                    "patient_id",
                    "pregnancy_id",
                    "detail",
                    "remote_addr",
                    "at",
                    "count",
                ],
                select(
                    literal(actor.hospital_id),
                    literal(actor.label),
                    literal("change"),
                    Pregnancy.patient_id,
                    Pregnancy.id,
                    literal(detail),
                    literal(actor.remote_addr, String),
                    literal(now, AuditEntry.__table__.c.at.type),
                    literal(1),
                ).where(Pregnancy.id.in_(sent)),
            )
        )
    return len(sent)


def _events(
    session: Session, cipher: FieldCipher, batch: CohortBatch, actor: Actor, ids: list[str], now: datetime
) -> tuple[int, int, int]:
    """Each woman's event, as her record records it; one woman's refusal (her state refused the
    change) is counted, and the page goes on."""
    if batch.action == "tag":
        change = record_actions.tag_change(actor, batch.target, add=True, reason=batch.reason)
    else:
        change = record_actions.plan_change(actor, batch.target, enrol=True, reason=batch.reason)
    enrolled = (
        set(
            session.scalars(
                select(EnrolmentRecord.pregnancy_id).where(
                    EnrolmentRecord.pregnancy_id.in_(ids),
                    EnrolmentRecord.pathway_id == batch.target,
                    EnrolmentRecord.ended_at.is_(None),
                )
            )
        )
        if batch.action == "enrol"
        else set()
    )
    batch_id, target, action = batch.id, batch.target, batch.action
    done = skipped = failed = 0
    for pregnancy_id in ids:
        pregnancy, patient = find_pregnancy(session, actor, pregnancy_id, now)
        has = target in pregnancy.state.get("facts", {}).get("tags", []) if action == "tag" else False
        if has or pregnancy_id in enrolled:
            skipped += 1
            continue
        try:
            with session.begin_nested():
                replay = record_actions.record_event(
                    session,
                    cipher,
                    actor,
                    pregnancy,
                    patient,
                    event_id=f"batch-{batch_id}-{pregnancy_id}",
                    kind=change.kind,
                    data=change.data,
                    now=now,
                    detail=f"batch {batch_id}: {change.detail}",
                    after=change.after,
                )
        except RecordActionError:
            failed += 1
            continue
        skipped, done = (skipped + 1, done) if replay else (skipped, done + 1)
    return done, skipped, failed


def run(db: Database, cipher: FieldCipher, batch_id: int, worker: str, clock: Callable[[], datetime]) -> str:
    """Claim the batch and run it page by page to its end; its state when this runner stops
    (``running``: another runner holds it, or this one lost its claim)."""
    if claim(db, batch_id, worker, clock()):
        while run_page(db, cipher, batch_id, worker, clock()):
            pass
    with db.reading() as session:
        return str(session.scalar(select(CohortBatch.state).where(CohortBatch.id == batch_id)))


def release(db: Database, batch_id: int, worker: str, error: str, now: datetime) -> None:
    """A runner that failed lets go at once (the next look at the batch resumes it)."""
    with db.transaction() as session:
        session.execute(
            update(CohortBatch)
            .where(CohortBatch.id == batch_id, CohortBatch.claimed_by == worker)
            .values(claimed_by=None, claimed_until=None, last_error=error[:2000], updated_at=now)
        )


def stalled(db: Database, hospital_id: str, now: datetime) -> list[int]:
    """The hospital's running batches nobody's claim holds: crashed runners' (resume them)."""
    with db.reading() as session:
        return list(
            session.scalars(
                select(CohortBatch.id).where(
                    CohortBatch.hospital_id == hospital_id,
                    CohortBatch.state == "running",
                    or_(CohortBatch.claimed_until.is_(None), CohortBatch.claimed_until < now),
                )
            )
        )


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
