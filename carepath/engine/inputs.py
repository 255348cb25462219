"""Patient and events files: loaded and checked like pathways, with located problems.

These are the shapes of docs/language.md ("Patient and events files"), the same the store and the HIS
API use. The schema pass checks the shape; the checks here need meaning: the dating must
give an EDD, labs must be known and plausible, parity must fit gravidity, event ids unique.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path as FilePath
from typing import Any

from carepath.engine import plans, schema_check
from carepath.engine.catalogue import Catalogue, load_catalogue
from carepath.engine.clock import date_pregnancy, parse_gestational_age
from carepath.engine.loader import Document, Limits, Path, date_reason, load_yaml
from carepath.engine.messages import say
from carepath.errors import DatingError, Problem

#: Events files can hold a whole pregnancy's history; pathways stay small.
EVENTS_LIMITS = Limits(max_bytes=5_000_000, max_nodes=500_000)


@dataclass(frozen=True)
class Checked:
    """A loaded file's value (None when unusable) and every problem found."""

    value: Any
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def _load(path: str, data: bytes | None, limits: Limits) -> Document:
    if data is None:
        try:
            data = FilePath(path).read_bytes()
        except OSError as exc:
            doc = Document(path)
            doc.error((), "not-found", say("not-found/unreadable", reason=exc.strerror))
            return doc
    return load_yaml(data, path, limits)


def _finish(doc: Document, schema: str, semantic: Any) -> Checked:
    if doc.problems or doc.value is None:
        return Checked(None, tuple(doc.problems))
    schema_check.check(doc, schema)
    if not doc.problems:
        semantic(doc)
    usable = not any(p.severity == "error" for p in doc.problems)
    return Checked(doc.value if usable else None, tuple(sorted(doc.problems, key=lambda p: p.location)))


def check_patient(path: str, data: bytes | None = None, catalogue: Catalogue | None = None) -> Checked:
    """Load and check a patient file (one pregnancy of one woman)."""
    cat = catalogue or load_catalogue()
    return _finish(
        _load(path, data, Limits()), "patient", lambda doc: _patient_meaning(doc, doc.value, (), cat)
    )


def check_events(
    path: str,
    data: bytes | None = None,
    catalogue: Catalogue | None = None,
    pathways: frozenset[str] | None = None,
) -> Checked:
    """Load and check an events file (a list of HIS events). ``pathways``: the ids a staff
    request (``plan.enrol_requested`` / ``plan.end_requested``) may name (None: not checked,
    the file is checked without its library)."""
    cat = catalogue or load_catalogue()
    return _finish(
        _load(path, data, EVENTS_LIMITS), "events", lambda doc: _events_meaning(doc, cat, pathways)
    )


def dating_of(patient: dict[str, Any]) -> Any:
    """The Dating of a checked patient mapping; raises DatingError."""
    us = patient.get("ultrasound") or {}
    ivf = patient.get("ivf") or {}
    return date_pregnancy(
        lmp=_date(patient.get("lmp")),
        cycle_length=patient.get("cycle_length"),
        scan_date=_date(us.get("scan_date")),
        scan_ga_days=parse_gestational_age(us["ga"]) if "ga" in us else None,
        transfer_date=_date(ivf.get("transfer_date")),
        embryo_day=ivf.get("embryo_day"),
        edd=_date(patient.get("edd")),
    )


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


DATE_KEYS = frozenset(
    {
        "lmp",
        "edd",
        "birth_date",
        "delivery_date",
        "scan_date",
        "transfer_date",
        "date",
        "started_on",
        "stopped_on",
    }
)
DATETIME_KEYS = frozenset(
    {"enrolled_at", "occurred_at", "at", "previous_at", "starts_at", "ends_at", "completed_at"}
)


def _real_dates(doc: Document, value: Any, at: Path) -> bool:
    """Quoted dates pass the schema's pattern; check that each one exists (2026-02-30 doesn't)."""
    ok = True
    if isinstance(value, dict):
        for key, child in value.items():
            if isinstance(child, str) and (key in DATE_KEYS or key in DATETIME_KEYS):
                try:
                    (date if key in DATE_KEYS else datetime).fromisoformat(child)
                except ValueError as exc:
                    doc.error(
                        (*at, key), "bad-date", say("bad-date/not-real", text=child, reason=date_reason(exc))
                    )
                    ok = False
            else:
                ok = _real_dates(doc, child, (*at, key)) and ok
    elif isinstance(value, list):
        for index, child in enumerate(value):
            ok = _real_dates(doc, child, (*at, index)) and ok
    return ok


def _patient_meaning(doc: Document, patient: dict[str, Any], at: Path, cat: Catalogue) -> None:
    if not _real_dates(doc, patient, at):
        return
    if any(k in patient for k in ("lmp", "ultrasound", "ivf", "edd")):
        try:
            dating_of(patient)
        except DatingError as exc:
            key = next((k for k in ("ultrasound", "ivf", "lmp", "edd") if k in patient), "")
            doc.error((*at, key), exc.code, exc.text or exc.message)
    gravida, para = patient.get("gravida"), patient.get("para")
    if gravida is not None and para is not None and para > gravida - 1:
        doc.error((*at, "para"), "out-of-range", say("out-of-range/para", para=para, previous=gravida - 1))
    for code, value in (patient.get("labs") or {}).items():
        _check_lab(doc, (*at, "labs", code), code, value, cat)
    if patient.get("delivery_date") and patient.get("status") not in ("delivered", None):
        doc.error((*at, "delivery_date"), "bad-value", say("bad-value/delivery-date"))


def _check_lab(doc: Document, path: Path, code: str, value: float, cat: Catalogue) -> None:
    lab = cat.labs.get(code)
    if lab is None:
        text = say("unknown-lab/catalogue", lab=code, suggestion=schema_check.suggestion(code, cat.labs))
        doc.error(path, "unknown-lab", text)
    elif not lab.plausible(value):
        text = say("implausible-lab/range", lab=code, value=value, unit=lab.unit, low=lab.low, high=lab.high)
        doc.error(path, "implausible-lab", text)


def _events_meaning(doc: Document, cat: Catalogue, pathways: frozenset[str] | None) -> None:
    if not _real_dates(doc, doc.value, ()):
        return
    seen: dict[str, int] = {}
    for index, event in enumerate(doc.value):
        path: Path = (index,)
        event_id = event.get("id")
        if event_id is not None:
            if event_id in seen:
                text = say("duplicate-event/also", event=event_id, number=seen[event_id] + 1)
                doc.error((*path, "id"), "duplicate-event", text)
            seen.setdefault(event_id, index)
        data = event.get("data") or {}
        kind = event["type"]
        if kind == "lab.result":
            unit = data.get("unit")
            lab = cat.labs.get(data["code"])
            _check_lab(doc, (*path, "data", "value"), data["code"], data["value"], cat)
            if lab is not None and unit is not None and unit != lab.unit:
                text = say("bad-unit/recorded-in", lab=data["code"], unit=lab.unit, given=unit)
                doc.error((*path, "data", "unit"), "bad-unit", text)
        elif kind in ("patient.registered", "patient.updated"):
            _patient_meaning(doc, data, (*path, "data"), cat)
        elif kind in plans.REQUESTS and pathways is not None and data["pathway"] not in pathways:
            name = data["pathway"]
            hint = schema_check.suggestion(name, pathways)
            text = say("unknown-pathway/pathway", pathway=name, suggestion=hint)
            doc.error((*path, "data", "pathway"), "unknown-pathway", text)
        elif kind in ("medication.prescribed", "medication.stopped") and data["code"] not in cat.medications:
            choices = schema_check.suggestion(data["code"], cat.medications)
            text = say("unknown-medication/vocabulary", code=data["code"], suggestion=choices)
            doc.error((*path, "data", "code"), "unknown-medication", text)
