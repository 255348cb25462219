"""Facts: what carepath knows of one pregnancy, and the snapshot the matchers see.

``Facts`` is the stored, immutable record (dating inputs, history, tags, codes, answers, labs);
events change it through ``apply_event`` exactly as the event table of docs/language.md
("Patient and events files") says. ``snapshot`` derives, once per evaluation, everything
time-dependent (GA, age at EDD, days since delivery) into a flat dict that the compiled and
durable matchers read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import cached_property
from types import MappingProxyType
from typing import Any

from carepath.engine import weight_gain
from carepath.engine.clock import (
    Dating,
    date_pregnancy,
    gestational_days,
    parse_gestational_age,
    suboptimally_dated,
    trimester,
)
from carepath.engine.elapsed import SNAPSHOT_KEY, Elapsed
from carepath.engine.spec import RISK_COLOURS, Scalar

#: Scores a submitted form: (form id, answers) -> total, or None when the form has no scoring.
Scorer = Callable[[str, Mapping[str, Any]], float | None]
#: The tags a submitted form's chosen choices carry: (form id, answers) -> tags (issue 17 item 4).
Tagger = Callable[[str, Mapping[str, Any]], tuple[str, ...]]

EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Event:
    """An HIS event, a form submission, or an internal event raised by an action."""

    id: str
    type: str
    occurred_at: datetime
    data: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True)
class Grade:
    """A colour someone gave her (issue 16 item 5): a ``risk`` action's suggestion or a
    clinician's confirmation (``risk.confirmed``). ``by`` is the suggesting ``pathway/rule`` or
    the confirming clinician's staff id or name ("" when unknown: a state migrated from format
    1); ``note`` the rule's reason or the clinician's note; ``at`` when it was given (None when
    unknown)."""

    colour: str
    at: datetime | None = None
    by: str = ""
    note: str = ""


@dataclass(frozen=True)
class Baby:
    """One baby of the pregnancy (issue 16 item 6): from the ``delivery`` event's ``newborns``
    (in their order), ``newborn.registered`` and ``newborn.died``. ``id`` is the HIS's baby id,
    "" until one is given; ``died_on`` is the day a live-born baby died (None while alive).
    ``ga_days`` is the gestational age at birth in days."""

    outcome: str  # live or stillbirth
    id: str = ""
    sex: str | None = None
    weight_g: float | None = None
    ga_days: int | None = None
    died_on: date | None = None

    @property
    def alive(self) -> bool:
        return self.outcome == "live" and self.died_on is None


@dataclass(frozen=True)
class Facts:
    """One pregnancy of one woman. Dates are local calendar dates of the hospital."""

    pregnancy_id: str
    enrolled_at: datetime
    lmp: date | None = None
    cycle_length: int | None = None
    scan_date: date | None = None
    scan_ga_days: int | None = None
    transfer_date: date | None = None
    embryo_day: int | None = None
    documented_edd: date | None = None
    birth_date: date | None = None
    height_cm: float | None = None
    weight_kg: float | None = None
    gravida: int | None = None
    para: int | None = None
    plurality: int | None = None
    tags: frozenset[str] = frozenset()
    icd10: frozenset[str] = frozenset()
    #: The highest colour rules suggested since the last confirmation (or ever, if none).
    suggested_risk: Grade | None = None
    #: The colour a clinician last confirmed (or the HIS gave at registration).
    confirmed_risk: Grade | None = None
    purple: bool = False
    visits: frozenset[str] = frozenset()
    status: str = "pregnant"
    delivery_date: date | None = None
    live_births: int | None = None  # newborns with outcome live, once the HIS reports them
    answers: Mapping[str, Mapping[str, Scalar]] = field(default_factory=lambda: EMPTY)
    labs: Mapping[str, float] = field(default_factory=lambda: EMPTY)
    #: Active medication codes (engine/medications.py): prescribed and not stopped (issue 16 item 9).
    medications: frozenset[str] = frozenset()
    #: Each baby (issue 16 item 6); None until the HIS reports them. A state stored before the
    #: babies were kept has only ``live_births``: ``newborns`` derives that many live babies.
    babies: tuple[Baby, ...] | None = None

    @property
    def newborns(self) -> tuple[Baby, ...] | None:
        """Her babies, or None when unknown; without ``babies`` (an older state), ``live_births``
        live babies (a loss it did not record stays unknown)."""
        if self.babies is not None:
            return self.babies
        if self.live_births is None:
            return None
        return tuple(Baby("live") for _ in range(self.live_births))

    @property
    def babies_alive(self) -> int | None:
        """Babies born alive who have not died; None when her babies are unknown."""
        babies = self.newborns
        return None if babies is None else sum(1 for b in babies if b.alive)

    @property
    def babies_lost(self) -> int | None:
        """Stillbirths and babies who died after birth; None when her babies are unknown."""
        babies = self.newborns
        return None if babies is None else sum(1 for b in babies if not b.alive)

    #: Issue 16 item 7 (engine/loss.py): a loss is suspected and not yet confirmed or rejected;
    #: every message to her is held meanwhile.
    loss_suspected: bool = False

    @cached_property
    def dating(self) -> Dating | None:
        """The dating these inputs give, or None when there is nothing to date by.

        Cached: the snapshot of every evaluation needs it and the inputs never change in place.
        """
        if not any((self.lmp, self.scan_date, self.transfer_date, self.documented_edd)):
            return None
        return date_pregnancy(
            lmp=self.lmp,
            cycle_length=self.cycle_length,
            scan_date=self.scan_date,
            scan_ga_days=self.scan_ga_days,
            transfer_date=self.transfer_date,
            embryo_day=self.embryo_day,
            edd=self.documented_edd,
        )

    @property
    def edd(self) -> date | None:
        dating = self.dating
        return dating.edd if dating else None

    @property
    def dating_suboptimal(self) -> bool | None:
        """Issue 17 item 12: her dating rests on a first scan at or after 22+0 (ACOG CO 700
        "suboptimally dated"; ``clock.suboptimally_dated``); None when nothing dates her."""
        dating = self.dating
        return None if dating is None else suboptimally_dated(dating, self.scan_ga_days)

    @property
    def risk_colour(self) -> str | None:
        """The colour conditions see: the confirmed one, or the suggestion made after the last
        confirmation when it is higher (docs/language.md, "Suggested and confirmed colours")."""
        grade = self.risk_grade
        return grade.colour if grade else None

    @property
    def risk_grade(self) -> Grade | None:
        """The grade behind ``risk_colour`` (a suggestion or the confirmation)."""
        suggested, confirmed = self.suggested_risk, self.confirmed_risk
        if confirmed is None:
            return suggested
        if suggested is not None and risk_level(suggested.colour) > risk_level(confirmed.colour):
            return suggested
        return confirmed

    @property
    def risk_confirmed(self) -> bool | None:
        """Whether the colour she has now is a confirmed one; None when she has no colour."""
        grade = self.risk_grade
        return None if grade is None else grade is self.confirmed_risk

    @property
    def risk_colour_status(self) -> str | None:
        """``suggested`` or ``confirmed`` (shown beside the colour: 待确认 when suggested)."""
        confirmed = self.risk_confirmed
        return None if confirmed is None else ("confirmed" if confirmed else "suggested")


def risk_level(colour: str) -> int:
    """A colour's place in the five-colour order (purple stands beside it, not in it)."""
    return RISK_COLOURS.index(colour)


def facts_from_patient(patient: Mapping[str, Any]) -> Facts:
    """Facts from a checked patient mapping (the patient file's shape, docs/language.md)."""
    enrolled_at = _datetime(patient["enrolled_at"])
    return _merge_patient(
        Facts(pregnancy_id=str(patient["id"]), enrolled_at=enrolled_at), patient, enrolled_at
    )


def _merge_patient(facts: Facts, data: Mapping[str, Any], at: datetime) -> Facts:
    """The registration fields of ``data`` over ``facts`` (absent fields keep their value).

    A ``risk_colour`` here is the HIS's grade (a clinician's act there): a new one confirms the
    colour at ``at`` and supersedes earlier suggestions, as a ``risk.confirmed`` does; the
    same colour sent again (an update of other fields) changes nothing."""
    changes: dict[str, Any] = {}
    simple = ("cycle_length", "gravida", "para", "plurality", "status", "purple")
    for key in simple:
        if key in data:
            changes[key] = data[key]
    colour = data.get("risk_colour")
    if colour is not None and (facts.confirmed_risk is None or facts.confirmed_risk.colour != colour):
        changes["confirmed_risk"] = Grade(str(colour), at, "HIS")
        changes["suggested_risk"] = None
    for key, target in (("lmp", "lmp"), ("edd", "documented_edd"), ("birth_date", "birth_date")):
        if key in data:
            changes[target] = _date(data[key])
    if "delivery_date" in data:
        changes["delivery_date"] = _date(data["delivery_date"])
    if "enrolled_at" in data:
        changes["enrolled_at"] = _datetime(data["enrolled_at"])
    if "ultrasound" in data:
        changes["scan_date"] = _date(data["ultrasound"]["scan_date"])
        changes["scan_ga_days"] = parse_gestational_age(data["ultrasound"]["ga"])
    if "ivf" in data:
        changes["transfer_date"] = _date(data["ivf"]["transfer_date"])
        changes["embryo_day"] = data["ivf"]["embryo_day"]
    pre = data.get("pre_pregnancy") or {}
    if "height_cm" in pre:
        changes["height_cm"] = float(pre["height_cm"])
    if "weight_kg" in pre:
        changes["weight_kg"] = float(pre["weight_kg"])
    if "tags" in data:
        changes["tags"] = frozenset(data["tags"])
    if "diagnoses" in data:
        changes["icd10"] = frozenset(d["code"] for d in data["diagnoses"])
    if "visits" in data:
        changes["visits"] = frozenset(data["visits"])
    if "answers" in data:
        changes["answers"] = MappingProxyType(
            {k: MappingProxyType(dict(v)) for k, v in data["answers"].items()}
        )
    if "labs" in data:
        changes["labs"] = MappingProxyType({k: float(v) for k, v in data["labs"].items()})
    return replace(facts, **changes)


def apply_event(facts: Facts, event: Event, scorer: Scorer | None = None) -> Facts:
    """The facts after ``event`` (docs/language.md, "effect on facts"). Unknown types change nothing."""
    data = event.data
    kind = event.type
    if kind in ("patient.registered", "patient.updated"):
        return _merge_patient(facts, data, event.occurred_at)
    if kind == "risk.confirmed":
        confirmed = Grade(
            str(data["colour"]), event.occurred_at, str(data["confirmed_by"]), data.get("note") or ""
        )
        return replace(facts, confirmed_risk=confirmed, suggested_risk=None)
    if kind == "diagnosis.added":
        if repeats(facts, event):
            return facts  # the active code stays as first received
        return replace(facts, icd10=facts.icd10 | {data["code"]})  # as received (matched by prefix)
    if kind == "diagnosis.removed":
        code = normalised_code(data["code"])
        return replace(facts, icd10=frozenset(c for c in facts.icd10 if normalised_code(c) != code))
    if kind == "dating.ultrasound":
        if facts.scan_date is not None:
            return facts  # only the first scan dates a pregnancy (ACOG CO 700)
        return replace(
            facts, scan_date=_date(data["scan_date"]), scan_ga_days=parse_gestational_age(data["ga"])
        )
    if kind == "lab.result":
        return replace(facts, labs=MappingProxyType({**facts.labs, data["code"]: float(data["value"])}))
    if kind == "questionnaire.submitted":
        form = data["form"]
        answers: dict[str, Any] = dict(data.get("answers") or {})
        score = scorer(form, answers) if scorer else None
        if score is not None:
            answers["score"] = score
        merged = {**facts.answers, form: MappingProxyType(answers)}
        return replace(facts, answers=MappingProxyType(merged))
    if kind == "tag.added":
        return replace(facts, tags=facts.tags | {data["tag"]})
    if kind == "tag.removed":
        return replace(facts, tags=facts.tags - {data["tag"]})
    if kind == "medication.prescribed":
        return replace(facts, medications=facts.medications | {data["code"]})
    if kind == "medication.stopped":
        return replace(facts, medications=facts.medications - {data["code"]})
    if kind == "encounter.completed":
        return replace(facts, visits=facts.visits | {data["kind"]})
    if kind == "delivery":
        delivered_on = _date(data["date"]) if "date" in data else event.occurred_at.date()
        newborns = data.get("newborns")
        live = sum(1 for n in newborns if n.get("outcome") == "live") if newborns else None
        babies = _delivered_babies(facts.babies, newborns) if newborns else facts.babies
        return replace(facts, status="delivered", delivery_date=delivered_on, live_births=live, babies=babies)
    if kind in ("newborn.registered", "newborn.died"):
        return replace(facts, babies=_baby_event(facts.newborns or (), kind, data))
    if kind == "pregnancy.ended":
        return replace(facts, status="ended")
    # issue 16 item 7 (engine/loss.py): suspected, confirmed (the pregnancy ended), rejected
    if kind == "loss.suspected":
        return facts if facts.status == "ended" else replace(facts, loss_suspected=True)
    if kind == "loss.confirmed":
        return replace(facts, status="ended", loss_suspected=False)
    if kind == "loss.rejected":
        return replace(facts, loss_suspected=False)
    return facts


def _baby(entry: Mapping[str, Any], outcome: str, before: Baby | None = None) -> Baby:
    """A baby from a newborn entry's fields over what was known of it (``before``)."""
    ga = entry.get("gestational_age_at_birth")
    weight = entry.get("weight_g")
    return Baby(
        outcome=outcome,
        id=str(entry.get("baby_id") or (before.id if before else "")),
        sex=entry.get("sex") or (before.sex if before else None),
        weight_g=float(weight) if weight is not None else (before.weight_g if before else None),
        ga_days=parse_gestational_age(ga) if ga else (before.ga_days if before else None),
        died_on=before.died_on if before else None,
    )


def _delivered_babies(known: tuple[Baby, ...] | None, newborns: list[Mapping[str, Any]]) -> tuple[Baby, ...]:
    """The delivery's babies, in its order; one registered before it (same ``baby_id``) keeps
    what the registration or a death said."""
    by_id = {b.id: b for b in known or () if b.id}
    return tuple(_baby(n, str(n["outcome"]), by_id.get(str(n.get("baby_id") or ""))) for n in newborns)


def _baby_event(babies: tuple[Baby, ...], kind: str, data: Mapping[str, Any]) -> tuple[Baby, ...]:
    """``newborn.registered`` (her baby's id, sex, weight) or ``newborn.died`` applied to one
    baby: the one with that ``baby_id``, else the one at ``index`` (1-based, the delivery's
    order), else (a registration) the first live baby without an id. A baby none of these finds
    is added: a registration before the delivery, or a death of a baby never reported, which
    must still count as a loss."""
    found = _find_baby(babies, data, kind == "newborn.registered")
    before = babies[found] if found is not None else None
    if kind == "newborn.registered":
        baby = _baby(data, before.outcome if before else "live", before)
    else:
        died_on = _date(data["date"])
        baby = replace(before or _baby(data, "live"), died_on=died_on)
        if before is not None and not before.alive:
            return babies  # a stillborn baby or one whose death is known already
    if found is None:
        return (*babies, baby)
    return (*babies[:found], baby, *babies[found + 1 :])


def _find_baby(babies: tuple[Baby, ...], data: Mapping[str, Any], unnamed: bool) -> int | None:
    baby_id = str(data.get("baby_id") or "")
    for i, baby in enumerate(babies):
        if baby_id and baby.id == baby_id:
            return i
    index = data.get("index")
    if isinstance(index, int) and 1 <= index <= len(babies):
        return index - 1
    if unnamed:
        for i, baby in enumerate(babies):
            if not baby.id and baby.outcome == "live":
                return i
    return None


def normalised_code(code: str) -> str:
    """An ICD-10 code as repeats are compared: without spaces, in upper case (``o24.4 01`` is
    ``O24.401``)."""
    return "".join(str(code).split()).upper()


def repeats(facts: Facts, event: Event) -> bool:
    """Whether ``event`` only says again what her facts (before it is applied) already hold: a
    ``diagnosis.added`` of a code that is active (exactly, after ``normalised_code``), a
    ``tag.added`` of a tag she has or a ``medication.prescribed`` of a medication she takes
    (a repeat prescription; issue 16 item 9). A repeat is recorded but is no new occurrence: it fires no
    ``on: {event: ...}`` rule (docs/language.md, "Repeats"). A more specific code after a
    general one (``O24.4`` then ``O24.401``) and a code added again after its removal are new.
    """
    if event.type == "diagnosis.added":
        code = normalised_code(event.data["code"])
        return any(normalised_code(active) == code for active in facts.icd10)
    if event.type == "tag.added":
        return event.data["tag"] in facts.tags
    if event.type == "medication.prescribed":
        return event.data["code"] in facts.medications
    return False


def bmi_class(bmi: float) -> str:
    """WS/T 801-2022 bands for Chinese women: <18.5, 18.5-<24, 24-<28, >=28.

    Not IOM's: a BMI of 24.5 is "overweight" here and "normal" under IOM 2009.
    """
    if bmi < 18.5:
        return "underweight"
    if bmi < 24:
        return "normal"
    if bmi < 28:
        return "overweight"
    return "obese"


def completed_years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def date_facts(facts: Facts) -> dict[str, date | None]:
    """Her dates a ``since`` leaf may name (``elapsed.DATE_FACTS``), None when unknown."""
    return {
        "lmp": facts.lmp,
        "edd": facts.edd,
        "delivery_date": facts.delivery_date,
        "birth_date": facts.birth_date,
    }


def lasting_view(facts: Facts) -> dict[str, Any]:
    """The part of her snapshot the calendar does not move, for ``snapshot(lasting=...)``:
    between two clock ticks her facts stay the same object, and this part with them."""
    dating = facts.dating
    edd = dating.edd if dating else None
    bmi = None
    if facts.height_cm and facts.weight_kg:
        bmi = round(facts.weight_kg / (facts.height_cm / 100) ** 2, 1)
    return {
        "edd": edd,
        "dating_method": dating.method if dating else None,
        "dating_suboptimal": facts.dating_suboptimal,  # issue 17 item 12
        "age_at_edd": completed_years(facts.birth_date, edd) if facts.birth_date and edd else None,
        "bmi_pre": bmi,
        "bmi_class": bmi_class(bmi) if bmi is not None else None,
        "gravida": facts.gravida,
        "para": facts.para,
        "plurality": facts.plurality,
        "tags": facts.tags,
        "icd10": facts.icd10,
        "risk_level": risk_level(colour) if (colour := facts.risk_colour) else None,
        "risk_confirmed": facts.risk_confirmed,
        "purple": facts.purple,
        "visits": facts.visits,
        "medications": facts.medications,
        "status": facts.status,
        "live_births": facts.live_births,
        "babies_alive": facts.babies_alive,
        "babies_lost": (lost := facts.babies_lost),
        "any_baby_lost": None if lost is None else lost > 0,
        "answers": facts.answers,
        "labs": facts.labs,
    }


def snapshot(
    facts: Facts, today: date, event: Event | None = None, *, lasting: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The flat view the matchers read; absent facts are None (their leaves are false).

    ``lasting`` is ``lasting_view(facts)`` when the caller kept it (of these very facts)."""
    view = dict(lasting_view(facts) if lasting is None else lasting)
    edd = view["edd"]
    ga = gestational_days(edd, today) if edd else None
    delivered = facts.delivery_date
    view["gestational_days"] = ga
    view["gestational_week"] = ga // 7 if ga is not None else None
    view["trimester"] = trimester(ga) if ga is not None else None
    # issue 16 item 9: the latest measured weight against the WS/T band (engine/weight_gain.py)
    view["weight_gain_status"] = weight_gain.status(
        bmi_class=view["bmi_class"],
        gestational_days=ga,
        pre_pregnancy_kg=facts.weight_kg,
        weight_kg=facts.labs.get("weight_kg"),
        plurality=facts.plurality,
        pregnant=facts.status == "pregnant",
    )
    view["days_since_delivery"] = (today - delivered).days if delivered else None
    view["event"] = event_view(event) if event else None
    view[SNAPSHOT_KEY] = Elapsed(lambda: date_facts(facts), today)  # worked out when a leaf reads it
    return view


def event_view(event: Event) -> dict[str, Any]:
    """The triggering event as the snapshot shows it to ``event`` leaves."""
    return {"type": event.type, "data": event.data}


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
