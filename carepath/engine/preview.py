"""The editor's preview: one persona's whole pregnancy as the pathways would run it.

A persona is what a clinician types into the preview form — LMP or "GA today", tags,
ICD-10 diagnoses, risk colour, enrolment date, and age, parity or BMI if the pathways ask —
or a demo patient file (``examples/patients``). It becomes a patient-file mapping and is
checked exactly like one (``inputs.check_patient``), so a bad field is reported with the
same located, coded problem, and runs through ``simulate.dry_run``: the preview is the
dry-run, item by item, with the rule's title, its trigger and its condition (as data) next to
the engine's own record of why the rule fired. Saying why in words is the page's business
(``webapi/staff/preview_text.py``).

Rendering the messages she would read is delivery's business (``carepath.delivery.preview``);
the engine stays pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from carepath.engine.clock import (
    DAYS_PER_WEEK,
    TERM_DAYS,
    gestational_days,
    parse_gestational_age,
)
from carepath.engine.facts import Event, Facts, facts_from_patient
from carepath.engine.inputs import check_events, check_patient
from carepath.engine.library import Library
from carepath.engine.messages import problem, say
from carepath.engine.runtime import Settings
from carepath.engine.scheduling import TO_HER
from carepath.engine.simulate import Row, dry_run, events_from_file
from carepath.engine.spec import (
    AllOf,
    AnyOf,
    At,
    Condition,
    HasCode,
    HasMedication,
    HasTag,
    HasVisit,
    Not,
    OnEnrolled,
    OnEvent,
    Point,
    Trigger,
)
from carepath.errors import CarepathError, CompileError, Location, Text

#: Persona fields that are patient-file fields as they are.
PATIENT_FIELDS = (
    "id",
    "name",
    "lmp",
    "cycle_length",
    "edd",
    "birth_date",
    "gravida",
    "para",
    "plurality",
    "tags",
    "risk_colour",
    "purple",
    "visits",
    "labs",
)
#: Persona fields of the form's own: dating by "GA today", diagnoses as bare codes, age
#: instead of a birth date, height and weight, an enrolment date instead of a moment.
PERSONA_FIELDS = (
    "ga_today",
    "today",
    "diagnoses",
    "age",
    "height_cm",
    "weight_kg",
    "enrolled_at",
    "enrolled_on",
)
#: After her EDD the preview runs this long (the puerperium), unless told otherwise.
AFTER_EDD = timedelta(weeks=8)
PERSONA_PATH = "<persona>"


def persona_patient(persona: Mapping[str, Any], settings: Settings | None = None) -> dict[str, Any]:
    """The patient-file mapping a persona stands for; unknown keys are left in, for the
    patient check to report."""
    zone = (settings or Settings()).window.zone
    patient: dict[str, Any] = {"id": "persona"}
    for key, value in persona.items():
        if key in PERSONA_FIELDS:
            continue
        patient[key] = value
    today = _day(persona.get("today"), "today")
    if "ga_today" in persona and "lmp" not in persona:
        if today is None:
            raise _problem("today", "missing-key", say("missing-key/ga-today"))
        try:
            ga = parse_gestational_age(str(persona["ga_today"]))
        except CarepathError as exc:
            raise _problem("ga_today", exc.code, exc.text or exc.message) from None
        patient["lmp"] = (today - timedelta(days=ga)).isoformat()
    if "diagnoses" in persona:
        codes = persona["diagnoses"] or []
        patient["diagnoses"] = [c if isinstance(c, Mapping) else {"code": str(c)} for c in codes]
    if "height_cm" in persona or "weight_kg" in persona:
        patient["pre_pregnancy"] = {k: persona[k] for k in ("height_cm", "weight_kg") if k in persona}
    enrolled = persona.get("enrolled_at") or persona.get("enrolled_on")
    if isinstance(enrolled, datetime):
        patient["enrolled_at"] = enrolled.isoformat()
    elif enrolled is not None:
        day = _day(enrolled, "enrolled_at")
        assert day is not None
        patient["enrolled_at"] = datetime.combine(day, time(9, 0), zone).isoformat()
    elif today is not None:
        patient["enrolled_at"] = datetime.combine(today, time(9, 0), zone).isoformat()
    if "age" in persona and "birth_date" not in persona:
        patient["birth_date"] = _birth_date_for(persona["age"], patient)
    return patient


def persona_facts(persona: Mapping[str, Any], settings: Settings | None = None) -> Facts:
    """A persona's facts, or CompileError with every problem, located in the persona."""
    patient = persona_patient(persona, settings)
    text = yaml.safe_dump(patient, allow_unicode=True, sort_keys=False)
    checked = check_patient(PERSONA_PATH, text.encode("utf-8"))
    if not checked.ok:
        raise CompileError([p for p in checked.problems if p.severity == "error"])
    return facts_from_patient(checked.value)


def demo_persona(
    patient_path: str | Path, events_path: str | Path | None = None
) -> tuple[Facts, list[Event]]:
    """A demo patient file and its events (``../events/<same name>`` when not given)."""
    patient_path = Path(patient_path)
    checked = check_patient(str(patient_path))
    if not checked.ok:
        raise CompileError([p for p in checked.problems if p.severity == "error"])
    if events_path is None:
        guess = patient_path.parent.parent / "events" / patient_path.name
        events_path = guess if guess.exists() else None
    events: list[Event] = []
    if events_path is not None:
        loaded = check_events(str(events_path))
        if not loaded.ok:
            raise CompileError([p for p in loaded.problems if p.severity == "error"])
        events = events_from_file(loaded.value)
    return facts_from_patient(checked.value), events


@dataclass(frozen=True)
class PreviewItem:
    """One action of the preview: the dry-run row and the facts that explain it.

    Words are the pages' business (``webapi/staff/preview_text.py`` says why in a sentence a
    doctor would say, in her language): the engine gives the rule's trigger and condition
    as the compiled spec holds them, and ``row.why``, its own record of the firing.
    """

    row: Row
    week: int | None  # completed gestational weeks on the action's day (None: no dating)
    pathway_title: str
    rule_title: str
    trigger: Trigger | None = None  # None: the rule is no longer in the library
    condition: Condition | None = None  # the rule's ``when`` (None when it has none)

    @property
    def message(self) -> bool:
        """A message to her (push, questionnaire, remind), which has a rendering per channel."""
        return self.row.action in TO_HER

    def reason(self) -> dict[str, Any]:
        """Why the rule fired, as data: which rule, its trigger and the condition that held."""
        return {
            "pathway": self.row.pathway,
            "rule": self.row.rule,
            "record": self.row.why,
            "trigger": trigger_json(self.trigger),
            "condition": condition_json(self.condition),
        }

    def as_json(self) -> dict[str, Any]:
        return self.row.as_json() | {
            "week": self.week,
            "summary": self.row.summary,
            "pathway_title": self.pathway_title,
            "rule_title": self.rule_title,
            "why": self.reason(),
            "message": self.message,
        }


@dataclass(frozen=True)
class Preview:
    pregnancy_id: str
    edd: date | None
    start: datetime
    until: datetime
    items: tuple[PreviewItem, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "pregnancy_id": self.pregnancy_id,
            "edd": self.edd.isoformat() if self.edd else None,
            "start": self.start.isoformat(),
            "until": self.until.isoformat(),
            "items": [item.as_json() for item in self.items],
        }


def preview(
    library: Library,
    facts: Facts,
    events: Iterable[Event] = (),
    *,
    until: datetime | None = None,
    settings: Settings | None = None,
    show_cancelled: bool = False,
) -> Preview:
    """Every action across her pregnancy (to ``until``, default EDD + 8 weeks), explained."""
    settings = settings or Settings()
    edd = facts.edd
    if until is None:
        end_day = (edd or facts.enrolled_at.date() + timedelta(days=TERM_DAYS)) + AFTER_EDD
        until = datetime.combine(end_day, time(23, 59, 59), settings.window.zone)
    rows = dry_run(library, facts, events, until=until, settings=settings)
    items = []
    for row in rows:
        if row.status != "due" and not show_cancelled:
            continue
        pathway = _pathway(library, row.pathway, row.version)
        rule = None
        if pathway is not None:
            try:
                rule = pathway.rule(row.rule)
            except KeyError:
                rule = None
        week = None
        if edd is not None:
            week = gestational_days(edd, settings.window.local_date(row.at)) // DAYS_PER_WEEK
        items.append(
            PreviewItem(
                row=row,
                week=week,
                pathway_title=pathway.title if pathway else row.pathway,
                rule_title=rule.title if rule and rule.title else row.rule,
                trigger=rule.trigger if rule else None,
                condition=rule.when if rule else None,
            )
        )
    return Preview(facts.pregnancy_id, edd, facts.enrolled_at, until, tuple(items))


def _pathway(library: Library, pathway_id: str, version: str) -> Any:
    try:
        return library.loaded(pathway_id, version).pathway
    except CarepathError:
        return None


# --- the reason as data ---------------------------------------------------------------------


def point_json(point: Point | None) -> dict[str, Any] | None:
    """A point as JSON: its anchor and its offset in days (``gestational_age`` counts from 0+0)."""
    return None if point is None else {"anchor": point.anchor, "days": point.offset.days}


def trigger_json(trigger: Trigger | None) -> dict[str, Any] | None:
    """A rule's trigger as JSON: its kind and what it is set to."""
    if trigger is None:
        return None
    if isinstance(trigger, OnEnrolled):
        return {"kind": "enrolled"}
    if isinstance(trigger, OnEvent):
        return {"kind": "event", "type": trigger.type, "filters": dict(trigger.filters)}
    if isinstance(trigger, At):
        return {"kind": "at", "at": point_json(trigger.point)}
    return {
        "kind": "every",
        "interval_days": trigger.interval.days,
        "from": point_json(trigger.start),
        "until": point_json(trigger.until),
    }


def condition_json(condition: Condition | None) -> Any:
    """A condition tree as JSON, node by node (``null`` when there is none)."""
    if condition is None:
        return None
    if isinstance(condition, AllOf):
        return {"all": [condition_json(item) for item in condition.items]}
    if isinstance(condition, AnyOf):
        return {"any": [condition_json(item) for item in condition.items]}
    if isinstance(condition, Not):
        return {"not": condition_json(condition.item)}
    if isinstance(condition, HasTag):
        return {"tag": sorted(condition.tags)}
    if isinstance(condition, HasVisit):
        return {"visit": sorted(condition.kinds)}
    if isinstance(condition, HasMedication):
        return {"medication": sorted(condition.codes)}
    if isinstance(condition, HasCode):
        return {"icd10": [p.prefix or f"{p.low}-{p.high}" for p in condition.patterns]}
    value = list(condition.value) if isinstance(condition.value, tuple) else condition.value
    return {"fact": condition.fact, "op": condition.op, "value": value, "key": list(condition.key)}


# --- helpers ----------------------------------------------------------------------------------


def _day(value: Any, field_name: str) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _problem(field_name, "bad-date", say("bad-date/persona", value=value)) from None


def _birth_date_for(age: Any, patient: Mapping[str, Any]) -> str:
    """A birth date that makes her ``age`` at her EDD (the fact the pathways read)."""
    if not isinstance(age, int) or isinstance(age, bool) or not 10 <= age <= 65:
        raise _problem("age", "out-of-range", say("out-of-range/age", age=age))
    lmp = _day(patient.get("lmp"), "lmp")
    edd = _day(patient.get("edd"), "edd") or (lmp + timedelta(days=TERM_DAYS) if lmp else None)
    if edd is None:
        raise _problem("age", "no-dating", say("no-dating/age"))
    return date(edd.year - age, edd.month, min(edd.day, 28)).isoformat()


def _problem(field_name: str, code: str, message: Text | str) -> CompileError:
    text = say("persona/field", field=field_name, problem=message)
    return CompileError([problem(Location(PERSONA_PATH, 1, 1), code, text)])
