"""The preview in words: why each action happens, as a doctor would say it, in her language.

The engine's preview (``engine/preview.py``) gives each action's rule trigger and condition as
data. This module says it: ``why`` is the sentence the page shows ("孕24周起每2周一次，因为她在
妊娠期糖尿病管理路径中"), with the pathway's, form's and lab's titles rather than their ids;
``record`` is the engine's own trace with ids ("gdm/glucose-log fired: every 14d from …"), for
authors, golden files and the picture's tooltip. Both take a pgettext-shaped translator
(``flask_babel.pgettext`` on a page, ``engine.messages.untranslated`` for English), and their
sentences are extracted into the staff UI's catalogue like the diagnostics'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from carepath.engine.clock import format_gestational_age
from carepath.engine.medications import STARTING_VOCABULARY
from carepath.engine.messages import Translate, render_text, untranslated
from carepath.engine.preview import PreviewItem
from carepath.engine.runtime import Library
from carepath.engine.sentences import sentence
from carepath.engine.simulate import Row
from carepath.engine.spec import (
    RISK_COLOURS,
    AllOf,
    AnyOf,
    At,
    CodePattern,
    Compare,
    Condition,
    Every,
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
from carepath.errors import CarepathError, Text

SENTENCES: dict[str, str] = dict(
    [
        # the whole reason: when, then why she gets it, then the condition that held
        sentence("why/sentence", "{when}, because she is in the {pathway} pathway"),
        sentence("why/sentence-condition", "{when}, because she is in the {pathway} pathway and {condition}"),
        # when: a point in her pregnancy
        sentence("why/at-ga", "at week {ga}"),
        sentence("why/from-ga", "from week {ga}"),
        sentence("why/until-ga", "until week {ga}"),
        sentence("why/on-enrolment", "on the day she joined"),
        sentence("why/from-enrolment", "from the day she joined"),
        sentence("why/after-enrolment", "{n} days after she joined"),
        sentence("why/after-enrolment-weeks", "{n} weeks after she joined"),
        sentence("why/on-edd", "on her due date"),
        sentence("why/before-edd", "{n} days before her due date"),
        sentence("why/before-edd-weeks", "{n} weeks before her due date"),
        sentence("why/after-edd", "{n} days after her due date"),
        sentence("why/on-delivery", "on the day she gave birth"),
        sentence("why/after-delivery", "{n} days after the birth"),
        sentence("why/after-delivery-weeks", "{n} weeks after the birth"),
        sentence("why/from", "from {point}"),
        sentence("why/until", "until {point}"),
        # how often
        sentence("why/every", "{start}, {interval}"),
        sentence("why/every-until", "{start} {until}, {interval}"),
        sentence("why/every-day", "every day"),
        sentence("why/every-days", "every {n} days"),
        sentence("why/every-week", "every week"),
        sentence("why/every-weeks", "every {n} weeks"),
        # on an event
        sentence("why/enrolled", "when she joined the pathway"),
        sentence("why/event", "on the event {type}"),
        sentence("why/event-questionnaire", "when she submitted a questionnaire"),
        sentence("why/event-questionnaire-form", "when she submitted {form}"),
        sentence("why/event-lab", "when a lab result came in"),
        sentence("why/event-lab-code", "when her {lab} result came in"),
        sentence("why/event-diagnosis-added", "when a diagnosis was added"),
        sentence("why/event-diagnosis-removed", "when a diagnosis was removed"),
        sentence("why/event-tag-added", "when the tag {tag} was added"),
        sentence("why/event-tag-removed", "when the tag {tag} was removed"),
        sentence("why/event-encounter", "after a visit"),
        sentence("why/event-appointment-booked", "when a visit was booked"),
        sentence("why/event-appointment-attended", "when she came to a booked visit"),
        sentence("why/event-appointment-missed", "when she missed a booked visit"),
        # issue 16 item 4: the booking desk's and the school's events (i16-events)
        sentence("why/event-appointment-cancelled", "when a booked visit was cancelled"),
        sentence("why/event-appointment-rescheduled", "when a booked visit was moved"),
        sentence("why/event-class-booked", "when she booked a class"),
        sentence("why/event-class-cancelled", "when a class she booked was cancelled"),
        sentence("why/event-class-attended", "when she came to a class"),
        sentence("why/event-course-completed", "when she completed a course"),
        sentence("why/event-delivery", "when the birth was recorded"),
        sentence("why/event-registered", "when she was registered"),
        sentence("why/event-updated", "when her record was updated"),
        sentence("why/event-ended", "when the pregnancy ended"),
        sentence("why/event-ultrasound", "when a dating scan was recorded"),
        sentence("why/event-risk", "when her risk grade changed"),
        sentence("why/event-filters", "{event} ({filters})"),
        # conditions in words (the English is the engine's record of them, unchanged)
        sentence("cond/and", "{left} and {right}"),
        sentence("cond/or", "{left} or {right}"),
        sentence("cond/group", "({text})"),
        sentence("cond/not", "not {item}"),
        sentence("cond/tag", "tag {tags}"),
        sentence("cond/not-tag", "not tag {tags}"),
        sentence("cond/visit", "visit done: {kinds}"),
        sentence("cond/not-visit", "not visit done: {kinds}"),
        sentence("cond/icd10", "ICD-10 {codes}"),
        sentence("cond/not-icd10", "not ICD-10 {codes}"),
        sentence("cond/compare", "{name} {op} {value}"),
        sentence("cond/between", "{low} and {high}"),
        sentence("cond/list", "{left}, {right}"),
        sentence("risk-level/green", "0"),
        sentence("risk-level/yellow", "1"),
        sentence("risk-level/orange", "2"),
        sentence("risk-level/red", "3"),
        sentence("status-value/pregnant", "pregnant"),
        sentence("status-value/delivered", "delivered"),
        sentence("status-value/ended", "ended"),
        sentence("op/in", "in"),
        sentence("op/between", "between"),
        sentence("op/contains", "contains"),
        sentence("op/startswith", "starts with"),
        sentence("fact/gestational_days", "gestational age"),
        sentence("fact/gestational_week", "gestational_week"),
        sentence("fact/trimester", "trimester"),
        sentence("fact/age_at_edd", "age_at_edd"),
        sentence("fact/bmi_pre", "bmi_pre"),
        sentence("fact/bmi_class", "bmi_class"),
        sentence("fact/gravida", "gravida"),
        sentence("fact/para", "para"),
        sentence("fact/plurality", "plurality"),
        sentence("fact/live_births", "live_births"),
        sentence("fact/days_since_delivery", "days_since_delivery"),
        sentence("fact/status", "status"),
        sentence("fact/dating_method", "dating_method"),
        sentence("fact/risk_level", "risk_level"),
        sentence("fact/purple", "purple"),
        sentence("fact/lab", "lab[{key}]"),
        sentence("fact/answer", "answer[{key}]"),
        sentence("fact/event", "event[{key}]"),
    ]
)
# issue 16 item 9 (medications): the leaf and the events, a medication by its name
SENTENCES.update(
    [
        sentence("cond/medication", "taking {medications}"),
        sentence("cond/not-medication", "not taking {medications}"),
        sentence("why/event-medication-prescribed", "when a medication was prescribed"),
        sentence("why/event-medication-stopped", "when a medication was stopped"),
        sentence("why/event-medication-prescribed-code", "when {medication} was prescribed"),
        sentence("why/event-medication-stopped-code", "when {medication} was stopped"),
        # the starting vocabulary's names (engine/medications.py); a hospital's own code is said as is
        *(sentence(f"medication/{m.code}", m.en) for m in STARTING_VOCABULARY),
    ]
)

_OPS = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥"}
_WORD_OPS = frozenset({"in", "between", "contains", "startswith"})
_GA_FACTS = frozenset({"gestational_days"})
_EVENTS = {
    "diagnosis.added": "why/event-diagnosis-added",
    "diagnosis.removed": "why/event-diagnosis-removed",
    "encounter.completed": "why/event-encounter",
    "appointment.booked": "why/event-appointment-booked",
    "appointment.attended": "why/event-appointment-attended",
    "appointment.missed": "why/event-appointment-missed",
    "appointment.cancelled": "why/event-appointment-cancelled",
    "appointment.rescheduled": "why/event-appointment-rescheduled",
    "class.booked": "why/event-class-booked",
    "class.cancelled": "why/event-class-cancelled",
    "class.attended": "why/event-class-attended",
    "course.completed": "why/event-course-completed",
    "medication.prescribed": "why/event-medication-prescribed",
    "medication.stopped": "why/event-medication-stopped",
    "delivery": "why/event-delivery",
    "patient.registered": "why/event-registered",
    "patient.updated": "why/event-updated",
    "pregnancy.ended": "why/event-ended",
    "dating.ultrasound": "why/event-ultrasound",
    "risk.changed": "why/event-risk",
    "enrolled": "why/enrolled",
}


@dataclass(frozen=True)
class Titles:
    """What a sentence names instead of ids: form and lab titles by id (missing: the id)."""

    forms: Mapping[str, str] = field(default_factory=dict)
    labs: Mapping[str, str] = field(default_factory=dict)
    #: a condition's names (issue 20: "titles, not ids"): a lab's unit by code, a form item's
    #: label by ``form.item``, a choice's label by ``form.item=value``, an ICD-10 name by code
    lab_units: Mapping[str, str] = field(default_factory=dict)
    items: Mapping[str, str] = field(default_factory=dict)
    choices: Mapping[str, str] = field(default_factory=dict)
    icd10: Mapping[str, str] = field(default_factory=dict)


_NO_TITLES = Titles()


def _say(key: str, /, **args: object) -> Text:
    if key not in SENTENCES:
        raise KeyError(f"no sentence {key!r} in webapi/staff/preview_text.py")
    return Text(key, args)


def _render(text: Text, translate: Translate) -> str:
    return render_text(text, translate, SENTENCES)


# --- the engine's record (English, with ids) ----------------------------------------------------


def record(item: PreviewItem) -> str:
    """Which rule fired on what (the engine's record), and the condition that held, with ids:
    ``checkup-schedule/ogtt fired: at GA 23+4; condition held: gestational age < 28+0 …``."""
    trigger = item.row.why.removesuffix("; condition held")
    why = f"{item.row.pathway}/{item.row.rule} fired: {trigger}"
    words = describe_condition(item.condition)
    return f"{why}; condition held: {words}" if words else why


# --- conditions in words -------------------------------------------------------------------------


def describe_condition(
    condition: Condition | None, translate: Translate = untranslated, titles: Titles | None = None
) -> str:
    """A condition in words, as the page shows it next to a fired rule ("" for none); with
    ``titles``, labs, form items, choices and ICD-10 codes by their names."""
    return "" if condition is None else _render(_condition(condition, titles or _NO_TITLES), translate)


def _joined(items: Sequence[Text | str], key: str) -> Text | str:
    """``a and b and c`` as nested sentences, so that a language joins them its own way."""
    joined = items[-1]
    for item in reversed(items[:-1]):
        joined = _say(key, left=item, right=joined)
    return joined


def _condition(condition: Condition, titles: Titles) -> Text | str:
    if isinstance(condition, AllOf | AnyOf):
        key = "cond/and" if isinstance(condition, AllOf) else "cond/or"
        return _joined([_grouped(item, titles) for item in condition.items], key) if condition.items else ""
    if isinstance(condition, Not):
        inner = condition.item
        if isinstance(inner, HasTag):
            return _say("cond/not-tag", tags=_joined(sorted(inner.tags), "cond/or"))
        if isinstance(inner, HasVisit):
            return _say("cond/not-visit", kinds=_joined(sorted(inner.kinds), "cond/or"))
        if isinstance(inner, HasMedication):
            return _say("cond/not-medication", medications=_medications(inner))
        if isinstance(inner, HasCode):
            codes = _joined([_pattern(p, titles) for p in inner.patterns], "cond/or")
            return _say("cond/not-icd10", codes=codes)
        return _say("cond/not", item=_grouped(inner, titles))
    if isinstance(condition, HasTag):
        return _say("cond/tag", tags=_joined(sorted(condition.tags), "cond/or"))
    if isinstance(condition, HasVisit):
        return _say("cond/visit", kinds=_joined(sorted(condition.kinds), "cond/or"))
    if isinstance(condition, HasCode):
        return _say("cond/icd10", codes=_joined([_pattern(p, titles) for p in condition.patterns], "cond/or"))
    if isinstance(condition, HasMedication):
        return _say("cond/medication", medications=_medications(condition))
    return _compare(condition, titles)


def _medication(code: str) -> Text | str:
    """A medication by its name in the reader's language (a hospital's own code as it is)."""
    return _say(f"medication/{code}") if f"medication/{code}" in SENTENCES else code


def _medications(node: HasMedication) -> Text | str:
    return _joined([_medication(code) for code in sorted(node.codes)], "cond/or")


def _grouped(condition: Condition, titles: Titles) -> Text | str:
    text = _condition(condition, titles)
    grouped = isinstance(condition, AllOf | AnyOf) and len(condition.items) > 1
    return _say("cond/group", text=text) if grouped else text


def _pattern(pattern: CodePattern, titles: Titles) -> Text | str:
    if pattern.prefix and pattern.prefix in titles.icd10:  # the diagnosis by its name, code aside
        return _say("cond/code-named", name=titles.icd10[pattern.prefix], code=pattern.prefix)
    return f"{pattern.prefix}*" if pattern.prefix else f"{pattern.low}–{pattern.high}"


def _compare(node: Compare, titles: Titles) -> Text:
    if node.fact == "weight_gain_status" and node.op in ("eq", "ne", "in"):
        return _weight_gain(node)
    key = ".".join(node.key)
    titled = _titled_name(node, titles)
    if titled is not None:
        name: Text | str = titled
    elif node.key and f"fact/{node.fact}" in SENTENCES and node.fact in ("lab", "answer", "event"):
        name = _say(f"fact/{node.fact}", key=key)
    elif node.key:
        name = f"{node.fact}[{key}]"
    elif f"fact/{node.fact}" in SENTENCES:
        name = _say(f"fact/{node.fact}")
    else:
        name = node.fact
    values: Sequence[Any] = node.value if isinstance(node.value, tuple) else (node.value,)
    shown = [_titled_value(node, v, titles) or _value(node.fact, v) for v in values]
    if node.op == "between" and len(shown) == 2:
        value: Text | str = _say("cond/between", low=shown[0], high=shown[1])
    elif node.op == "between":
        value = " and ".join(str(v) for v in values)
    else:
        value = _joined(shown, "cond/list")
    op: Text | str = _say(f"op/{node.op}") if node.op in _WORD_OPS else _OPS.get(node.op, node.op)
    return _say("cond/compare", name=name, op=op, value=value)


def _titled_name(node: Compare, titles: Titles) -> Text | str | None:
    """A keyed fact by its title: a lab by its name, a form's item as 「form」「label」, the
    event's code as such; None when the titles do not know it (the id is said then)."""
    if node.fact == "lab" and len(node.key) == 1 and node.key[0] in titles.labs:
        return titles.labs[node.key[0]]
    if node.fact == "answer" and len(node.key) == 2:
        form, item = node.key
        label = titles.items.get(f"{form}.{item}")
        if item == "score" and form in titles.forms:
            return _say("fact/answer-score", form=titles.forms[form])
        if label is not None and form in titles.forms:
            return _say("fact/answer-titled", form=titles.forms[form], item=label)
    if node.fact == "event" and node.key in (("data", "code"), ("code",)) and titles.icd10:
        return _say("fact/event-code")
    return None


def _titled_value(node: Compare, value: Any, titles: Titles) -> Text | str | None:
    """A compared value by its title: a choice's label, a lab value with its unit, a code
    prefix with its ICD-10 name; None to say it as the record does."""
    if node.fact == "answer" and len(node.key) == 2 and isinstance(value, str):
        label = titles.choices.get(f"{node.key[0]}.{node.key[1]}={value}")
        return _say("cond/choice", label=label) if label is not None else None
    if node.fact == "lab" and len(node.key) == 1 and isinstance(value, int | float):
        unit = titles.lab_units.get(node.key[0])
        return f"{value:g} {unit}" if unit else None
    if node.fact == "event" and isinstance(value, str) and value in titles.icd10:
        return _say("cond/code-named", name=titles.icd10[value], code=value)
    if node.fact == "event" and isinstance(value, str) and value in titles.labs:
        return titles.labs[value]
    return None


def _value(fact: str, value: Any) -> Text | str:
    """A compared value as the record writes it (a risk level by its number); in words where
    the catalogue has them (the colour of a risk level, a pregnancy's status)."""
    if fact in _GA_FACTS and isinstance(value, int):
        return format_gestational_age(value)
    if fact == "risk_level" and isinstance(value, int) and 0 <= value < len(RISK_COLOURS):
        return _say(f"risk-level/{RISK_COLOURS[value]}")
    if fact == "risk_confirmed" and isinstance(value, bool):
        return _say(f"risk-confirmed/{str(value).lower()}")
    if fact == "any_baby_lost" and isinstance(value, bool):
        return _say(f"any-baby-lost/{str(value).lower()}")
    if fact == "dating_suboptimal" and isinstance(value, bool):
        return _say(f"dating-suboptimal/{str(value).lower()}")
    if fact == "status" and f"status-value/{value}" in SENTENCES:
        return _say(f"status-value/{value}")
    return str(value)


# --- why, as a doctor says it ----------------------------------------------------------------------


def why(item: PreviewItem, translate: Translate = untranslated, titles: Titles | None = None) -> str:
    """Why she gets this action, in one sentence with titles: when (or on what), the pathway
    she is in, and the rule's condition when it has one. Without the rule (a version no longer
    in the library) it is the engine's ``record``."""
    if item.trigger is None:
        return record(item)
    when = _when(item.trigger, titles or Titles())
    pathway = item.pathway_title.removesuffix("路径") or item.row.pathway
    named = titles or _NO_TITLES
    if item.condition is not None and _condition(item.condition, named):
        text = _say(
            "why/sentence-condition", when=when, pathway=pathway, condition=_condition(item.condition, named)
        )
    else:
        text = _say("why/sentence", when=when, pathway=pathway)
    return _render(text, translate)


def row_why(
    row: Row, library: Library, translate: Translate = untranslated, titles: Titles | None = None
) -> str:
    """Why a dry-run row happened, as ``why`` says it (the CLI's ``--lang zh``): the rule is
    looked up in the library the dry-run ran; the engine's record when it is not there."""
    try:
        pathway = library.loaded(row.pathway, row.version).pathway
        rule = pathway.rule(row.rule)
    except (CarepathError, KeyError):
        return row.why
    item = PreviewItem(row, None, pathway.title, rule.title or rule.id, rule.trigger, rule.when)
    return why(item, translate, titles)


def _ga(days: int) -> str:
    """``24`` for 24+0, ``24+3`` otherwise: how a doctor writes a week."""
    text = format_gestational_age(days)
    return text.removesuffix("+0")


def _point(point: Point, at: str) -> Text:
    """A point as a moment: ``at`` it, ``from`` it on, or ``until`` it."""
    days = point.offset.days
    if point.anchor == "gestational_age":
        return _say(f"why/{at}-ga", ga=_ga(days))
    if point.anchor == "enrolled" and days == 0 and at == "from":
        return _say("why/from-enrolment")
    moment = _moment(point.anchor, days)
    return moment if at == "at" else _say(f"why/{at}", point=moment)


def _moment(anchor: str, days: int) -> Text:
    weeks = abs(days) // 7 if days % 7 == 0 else None
    if anchor == "enrolled":
        if days == 0:
            return _say("why/on-enrolment")
        return _say("why/after-enrolment-weeks", n=weeks) if weeks else _say("why/after-enrolment", n=days)
    if anchor == "edd":
        if days == 0:
            return _say("why/on-edd")
        if days < 0:
            return _say("why/before-edd-weeks", n=weeks) if weeks else _say("why/before-edd", n=-days)
        return _say("why/after-edd", n=days)
    if days == 0:
        return _say("why/on-delivery")
    return _say("why/after-delivery-weeks", n=weeks) if weeks else _say("why/after-delivery", n=days)


def _interval(days: int) -> Text:
    if days % 7 == 0:
        return _say("why/every-week") if days == 7 else _say("why/every-weeks", n=days // 7)
    return _say("why/every-day") if days == 1 else _say("why/every-days", n=days)


def _when(trigger: Trigger, titles: Titles) -> Text:
    if isinstance(trigger, OnEnrolled):
        return _say("why/enrolled")
    if isinstance(trigger, At):
        return _point(trigger.point, "at")
    if isinstance(trigger, Every):
        start = _point(trigger.start, "from")
        interval = _interval(trigger.interval.days)
        if trigger.until is not None:
            return _say(
                "why/every-until", start=start, until=_point(trigger.until, "until"), interval=interval
            )
        return _say("why/every", start=start, interval=interval)
    assert isinstance(trigger, OnEvent)
    return _event(trigger, titles)


def _event(trigger: OnEvent, titles: Titles) -> Text:
    filters = dict(trigger.filters)
    named: str | None = None  # the filter the sentence names
    if trigger.type == "questionnaire.submitted" and "form" in filters:
        form = str(filters["form"])
        text = _say("why/event-questionnaire-form", form=titles.forms.get(form, form))
        named = "form"
    elif trigger.type == "questionnaire.submitted":
        text = _say("why/event-questionnaire")
    elif trigger.type == "lab.result" and "code" in filters:
        code = str(filters["code"])
        text = _say("why/event-lab-code", lab=titles.labs.get(code, code))
        named = "code"
    elif trigger.type == "lab.result":
        text = _say("why/event-lab")
    elif trigger.type in ("tag.added", "tag.removed") and "tag" in filters:
        kind = "added" if trigger.type == "tag.added" else "removed"
        text = _say(f"why/event-tag-{kind}", tag=str(filters["tag"]))
        named = "tag"
    elif trigger.type in ("medication.prescribed", "medication.stopped") and "code" in filters:
        text = _say(f"{_EVENTS[trigger.type]}-code", medication=_medication(str(filters["code"])))
        named = "code"
    elif trigger.type in _EVENTS:
        text = _say(_EVENTS[trigger.type])
    else:
        text = _say("why/event", type=trigger.type)
    rest = ", ".join(f"{k}={v}" for k, v in trigger.filters if k != named)
    return _say("why/event-filters", event=text, filters=rest) if rest else text


# --- issue 20: a condition by its titles (labs, form items and choices, ICD-10 names) ---------
SENTENCES.update(
    [
        sentence("fact/answer-titled", "{form} «{item}»"),
        sentence("fact/answer-score", "{form} score"),
        sentence("fact/event-code", "the event's code"),
        sentence("cond/choice", "«{label}»"),
        sentence("cond/code-named", "{name} ({code})"),
    ]
)


# --- issue 16 item 5: a clinician's confirmation of her colour, and the leaf that asks for one ---
SENTENCES.update(
    [
        sentence("why/event-risk-confirmed", "when a doctor confirmed her risk grade"),
        sentence("fact/risk_confirmed", "risk grade confirmed"),
        sentence("risk-confirmed/true", "yes"),
        sentence("risk-confirmed/false", "no (suggested, to be confirmed)"),
    ]
)
_EVENTS["risk.confirmed"] = "why/event-risk-confirmed"


# --- issue 16 item 6: per-baby outcomes (babies_alive, babies_lost, any_baby_lost) ----------------
SENTENCES.update(
    [
        sentence("fact/babies_alive", "babies alive"),
        sentence("fact/babies_lost", "babies lost"),
        sentence("fact/any_baby_lost", "a baby lost"),
        sentence("any-baby-lost/true", "yes (a stillbirth or a baby who died)"),
        sentence("any-baby-lost/false", "no (every baby alive)"),
        sentence("why/event-newborn-registered", "when a newborn was registered"),
        sentence("why/event-newborn-died", "when a newborn died"),
    ]
)
_EVENTS["newborn.registered"] = "why/event-newborn-registered"
_EVENTS["newborn.died"] = "why/event-newborn-died"
# --- issue 17 item 12: suboptimally dated (a first scan at or after 22+0, ACOG CO 700) ---------
SENTENCES.update(
    [
        sentence("fact/dating_suboptimal", "suboptimally dated"),
        sentence("dating-suboptimal/true", "yes (first ultrasound at or after 22+0)"),
        sentence("dating-suboptimal/false", "no"),
    ]
)
# --- issue 16 item 7: a suspected pregnancy loss, its confirmation and its rejection ---
SENTENCES.update(
    [
        sentence("why/event-loss-suspected", "when a pregnancy loss was suspected (her messages are held)"),
        sentence("why/event-loss-confirmed", "when a doctor confirmed the pregnancy loss"),
        sentence(
            "why/event-loss-rejected", "when a doctor ruled out the pregnancy loss (her messages resume)"
        ),
    ]
)
_EVENTS["loss.suspected"] = "why/event-loss-suspected"
_EVENTS["loss.confirmed"] = "why/event-loss-confirmed"
_EVENTS["loss.rejected"] = "why/event-loss-rejected"


# --- issue 16 item 9: weight gain against the WS/T 801-2022 band (engine/weight_gain.py) --------
SENTENCES.update(
    [
        sentence("weight-gain/below", "weight gain below the recommended range"),
        sentence("weight-gain/within", "weight gain within the recommended range"),
        sentence("weight-gain/above", "weight gain above the recommended range"),
    ]
)


def _weight_gain(node: Compare) -> Text:
    """``weight_gain_status: [above]`` as the sentence a doctor says (孕期增重高于推荐范围)."""
    values = node.value if isinstance(node.value, tuple) else (node.value,)
    said = [_say(f"weight-gain/{v}") if f"weight-gain/{v}" in SENTENCES else str(v) for v in values]
    joined = _joined(said, "cond/or")
    if node.op == "ne":
        return _say("cond/not", item=joined)
    return joined if isinstance(joined, Text) else _say("cond/group", text=joined)
