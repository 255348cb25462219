"""What the find-a-woman form offers (issue 21 item 2): the hospital's sources and plans by
their names, the ICD-10 categories by their titles. Read once per page, a few small queries."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from carepath.engine.icd10 import who_catalogue, who_code
from carepath.store.models import Department, Staff
from carepath.store.models_sources import Source


@dataclass(frozen=True)
class SourceChoice:
    code: str
    campaign: str | None
    department: str | None
    doctor: str | None


def source_choices(session: Session, hospital_id: str) -> list[SourceChoice]:
    """The hospital's sources, oldest first, with what each stands for (a campaign, a
    department's poster, a doctor's card); no counts: the form needs only their names."""
    doctor = aliased(Staff)
    rows = session.execute(
        select(Source.code, Source.campaign, Department.name, doctor.name)
        .outerjoin(Department, Department.id == Source.department_id)
        .outerjoin(doctor, doctor.id == Source.staff_id)
        .where(Source.hospital_id == hospital_id)
        .order_by(Source.id)
    ).all()
    return [SourceChoice(code, campaign, department, name) for code, campaign, department, name in rows]


def diagnosis_categories(chinese: bool = True) -> list[tuple[str, str]]:
    """(code, title) of the catalogue's three-character categories: the prefixes a search by
    diagnosis mostly starts from (``O24`` finds ``O24.401``)."""
    return [
        (code, (entry.name_zh or entry.title_en) if chinese else entry.title_en)
        for code, entry in sorted(who_catalogue().items())
        if "." not in code
    ]


def diagnosis_title(code: str, chinese: bool = True) -> str | None:
    """The catalogue's title of a code or of the longest catalogued code it extends."""
    known = who_code(code.strip().upper())
    if known is None:
        return None
    entry = who_catalogue()[known]
    return (entry.name_zh or entry.title_en) if chinese else entry.title_en
