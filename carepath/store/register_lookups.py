"""What the high-risk register shows beside each woman of a page (``risk_register.py``), looked up
for the whole page at once: one statement per kind of fact for the page's pregnancy ids, never
one per woman.

- diagnoses: her active codes, each with its Chinese title — the title the HIS sent with it, else
  the hospital's own ICD-10 catalogue's, else the built-in catalogue's (``engine/icd10``);
- plans: her open enrolments by the pathway's title (the hospital's library, else the newest
  stored version's title), never its id;
- overdue: her open tasks past their due time;
- last contact: the last task whose outcome a staff member recorded (``claimed_by`` ``staff:<id>``:
  ``tasks.record_outcome`` claims for whoever records it), with who and what;
- suggestion: the rule that suggested her colour (``facts.suggested_risk.by`` is
  ``<pathway>/<rule>``), by the rule's and the pathway's titles.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carepath.engine.icd10 import who_catalogue, who_code
from carepath.errors import CarepathError
from carepath.store import pathways
from carepath.store.models import Diagnosis, EnrolmentRecord, Icd10Code, PathwayVersion, Staff, StaffTask

#: The longest outcome text a row shows (the record shows it whole).
OUTCOME_SHOWN = 80


@dataclass(frozen=True)
class Contact:
    """Her last contact: a task whose outcome a staff member recorded."""

    at: datetime
    task: str
    outcome: str
    by: str


@dataclass(frozen=True)
class Suggestion:
    """A rule's suggested colour waiting for a clinician: which rule, when, and why it said so."""

    colour: str | None
    at: datetime | None
    note: str
    pathway_title: str | None
    rule_title: str | None


def diagnoses(session: Session, hospital_id: str, ids: Sequence[str]) -> dict[str, list[str]]:
    """pregnancy id -> her active diagnoses as ``O44.1 前置胎盘``, in the order received."""
    rows = session.execute(
        select(Diagnosis.pregnancy_id, Diagnosis.code, Diagnosis.name)
        .where(Diagnosis.pregnancy_id.in_(ids), Diagnosis.removed_at.is_(None))
        .order_by(Diagnosis.pregnancy_id, Diagnosis.added_at, Diagnosis.id)
    ).all()
    unnamed = sorted({row.code for row in rows if not row.name})
    own = (
        dict(
            session.execute(
                select(Icd10Code.code, Icd10Code.name).where(
                    Icd10Code.hospital_id == hospital_id, Icd10Code.code.in_(unnamed)
                )
            ).all()
        )
        if unnamed
        else {}
    )
    found: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        title = row.name or own.get(row.code) or _who_title(row.code)
        shown = f"{row.code} {title}" if title else row.code
        if shown not in found[row.pregnancy_id]:
            found[row.pregnancy_id].append(shown)
    return found


def _who_title(code: str) -> str | None:
    known = who_code(code)
    return who_catalogue()[known].name_zh if known else None


def plans(session: Session, hospital_id: str, ids: Sequence[str]) -> dict[str, list[str]]:
    """pregnancy id -> the titles of her open plans (pathway enrolments), sorted."""
    rows = session.execute(
        select(EnrolmentRecord.pregnancy_id, EnrolmentRecord.pathway_id).where(
            EnrolmentRecord.pregnancy_id.in_(ids), EnrolmentRecord.ended_at.is_(None)
        )
    ).all()
    titles = pathway_titles(session, hospital_id, {row.pathway_id for row in rows})
    found: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        found[row.pregnancy_id].add(titles.get(row.pathway_id, row.pathway_id))
    return {pregnancy: sorted(named) for pregnancy, named in found.items()}


def pathway_titles(session: Session, hospital_id: str, names: Iterable[str]) -> dict[str, str]:
    """Each pathway's title: the hospital's loaded library (cached per process), else the newest
    stored version's (a pathway retired since she was enrolled)."""
    wanted = set(names)
    library = pathways.library_for(session, hospital_id)
    titles = {name: library.current[name].title for name in wanted if name in library.current}
    missing = sorted(wanted - set(titles))
    if missing:
        for row in session.execute(
            select(PathwayVersion.pathway_id, PathwayVersion.title)
            .where(
                PathwayVersion.pathway_id.in_(missing),
                (PathwayVersion.hospital_id == hospital_id) | PathwayVersion.hospital_id.is_(None),
            )
            .order_by(PathwayVersion.created_at, PathwayVersion.id)
        ):
            titles[row.pathway_id] = row.title  # the newest wins
    return titles


def overdue(session: Session, ids: Sequence[str], now: datetime) -> dict[str, int]:
    """pregnancy id -> how many of her open tasks are past their due time."""
    return {
        row.pregnancy_id: int(row.overdue)
        for row in session.execute(
            select(StaffTask.pregnancy_id, func.count().label("overdue"))
            .where(StaffTask.pregnancy_id.in_(ids), StaffTask.status == "open", StaffTask.due_at < now)
            .group_by(StaffTask.pregnancy_id)
        )
    }


def last_contacts(session: Session, ids: Sequence[str]) -> dict[str, Contact]:
    """pregnancy id -> her last contact (the newest task outcome a staff member recorded)."""
    ranked = (
        select(
            StaffTask.pregnancy_id,
            StaffTask.title,
            StaffTask.outcome,
            StaffTask.done_at,
            StaffTask.claimed_by,
            func.row_number()
            .over(
                partition_by=StaffTask.pregnancy_id, order_by=(StaffTask.done_at.desc(), StaffTask.id.desc())
            )
            .label("n"),
        )
        .where(
            StaffTask.pregnancy_id.in_(ids),
            StaffTask.status == "done",
            StaffTask.done_at.is_not(None),
            StaffTask.claimed_by.like("staff:%"),
        )
        .subquery()
    )
    rows = session.execute(select(ranked).where(ranked.c.n == 1)).all()
    names = staff_names(session, [row.claimed_by for row in rows])
    return {
        row.pregnancy_id: Contact(
            at=row.done_at,
            task=row.title,
            outcome=_shortened(row.outcome or ""),
            by=names.get(row.claimed_by, ""),
        )
        for row in rows
    }


def _shortened(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= OUTCOME_SHOWN else text[: OUTCOME_SHOWN - 1] + "…"


def staff_names(session: Session, labels: Iterable[str]) -> dict[str, str]:
    """``staff:<id>`` -> the staff member's name, in one query."""
    ids = sorted({int(label[6:]) for label in labels if label.startswith("staff:") and label[6:].isdigit()})
    if not ids:
        return {}
    return {
        f"staff:{row.id}": row.name
        for row in session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(ids)))
    }


def suggestion(session: Session, hospital_id: str, grade: Any) -> Suggestion | None:
    """The rule behind a suggested colour (``facts.suggested_risk``), by its titles. The library
    is the process's cached one, so a page of these costs no query."""
    if not isinstance(grade, dict):
        return None
    pathway_id, _, rule_id = str(grade.get("by") or "").partition("/")
    pathway_title = rule_title = None
    if pathway_id and rule_id:
        library = pathways.library_for(session, hospital_id)
        pathway = library.current.get(pathway_id)
        if pathway is not None:
            pathway_title = pathway.title
            try:
                rule_title = pathway.rule(rule_id).title or None
            except (CarepathError, KeyError):  # a rule no longer in the current version
                rule_title = None
    at = grade.get("at")
    return Suggestion(
        colour=grade.get("colour"),
        at=datetime.fromisoformat(at) if isinstance(at, str) else None,
        note=str(grade.get("note") or ""),
        pathway_title=pathway_title,
        rule_title=rule_title,
    )
