"""The pathway compiler: YAML text in, immutable Pathway specs or located problems out.

An ordered list of named passes runs over every file of one compilation:

    load        safe, located YAML (limits on size, depth, aliases)
    schema      carepath/schemas/pathway.schema.json
    parse       triggers, conditions, actions and schedules into spec objects
    resolve     tags, content, forms, items, labs and enrolled pathways by name
    type-check  operand types against the facts they compare with
    freeze      Pathway objects with their content hash; loops the compiler can see

Every pass collects problems instead of stopping, so a clinician sees all of them at once;
a file whose structure is broken skips the passes that need structure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path as FilePath
from types import MappingProxyType
from typing import Any

from carepath.engine import event_checks, icd10, schema_check
from carepath.engine.catalogue import Catalogue, load_catalogue
from carepath.engine.clock import parse_gestational_age
from carepath.engine.conditions import ConditionParser, Reference
from carepath.engine.loader import Document, Limits, Path, load_yaml
from carepath.engine.loops import report_loops
from carepath.engine.messages import say
from carepath.engine.schema_check import suggestion
from carepath.engine.spec import (
    Action,
    At,
    Every,
    OnEnrolled,
    OnEvent,
    Pathway,
    Point,
    Rule,
    Schedule,
    Trigger,
    parse_duration,
)
from carepath.errors import Location, Problem

SCHEDULE_KEYS = ("after", "at", "not_after", "slot", "channels")
#: A form item's kinds of value, as a type-mismatch sentence names them.
JSON_TYPES = frozenset({"number", "string", "date", "list", "boolean"})
DEFAULT_AT_CATCH_UP_WITHIN = timedelta(weeks=1)


@dataclass
class Unit:
    """One file in a compilation and everything the passes learn about it."""

    path: str
    data: bytes | None = None
    doc: Document = field(default_factory=lambda: Document(""))
    schema_error_paths: list[Path] = field(default_factory=list)
    parser: ConditionParser | None = None
    references: list[Reference] = field(default_factory=list)
    pathway: Pathway | None = None
    rules: list[Rule] = field(default_factory=list)
    rule_paths: dict[str, Path] = field(default_factory=dict)
    parsed: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return any(p.severity == "error" for p in self.doc.problems)

    @property
    def structured(self) -> bool:
        """Loaded into a mapping: the later passes can look inside."""
        return isinstance(self.doc.value, dict)

    def clean_at(self, path: Path) -> bool:
        """No schema error at or below ``path``: safe to parse that subtree."""
        return not any(bad[: len(path)] == path for bad in self.schema_error_paths)


@dataclass
class Compilation:
    units: list[Unit]
    catalogue: Catalogue
    limits: Limits = field(default_factory=Limits)
    problems: list[Problem] = field(default_factory=list)  # not tied to one unit's document


@dataclass(frozen=True)
class CompileResult:
    pathways: tuple[Pathway, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")


# --- passes ---------------------------------------------------------------------------------


def load_pass(comp: Compilation) -> None:
    for unit in comp.units:
        if unit.data is None:
            try:
                unit.data = FilePath(unit.path).read_bytes()
            except OSError as exc:
                unit.doc = Document(unit.path)
                unit.doc.error((), "not-found", say("not-found/unreadable", reason=exc.strerror))
                continue
        unit.doc = load_yaml(unit.data, unit.path, comp.limits)


def schema_pass(comp: Compilation) -> None:
    for unit in comp.units:
        if unit.failed or unit.doc.value is None:
            continue
        before = len(unit.doc.problems)
        errors = list(schema_check.validator("pathway").iter_errors(unit.doc.value))
        unit.schema_error_paths = [tuple(e.absolute_path) for e in errors]
        schema_check.check(unit.doc, "pathway", errors)
        if not unit.structured and len(unit.doc.problems) == before:
            unit.doc.error((), "type-mismatch", say("type-mismatch/pathway-file"))


def parse_pass(comp: Compilation) -> None:
    for unit in comp.units:
        if not unit.structured:
            continue
        parser = ConditionParser(error=unit.doc.error, clean=unit.clean_at)
        unit.parser = parser
        raw = unit.doc.value
        for section in ("audience", "exit"):
            if isinstance(raw.get(section), dict):
                unit.parsed[section] = parser.parse(raw[section], (section,))
        seen: dict[str, Path] = {}
        rules = raw.get("rules") if isinstance(raw.get("rules"), list) else []
        for index, rule_raw in enumerate(rules):
            path: Path = ("rules", index)
            rule_id = rule_raw.get("id") if isinstance(rule_raw, dict) else None
            if isinstance(rule_id, str):
                if rule_id in seen:
                    first = unit.doc.location(seen[rule_id])
                    unit.doc.error(
                        (*path, "id"),
                        "duplicate-rule",
                        say("duplicate-rule/used", rule=rule_id, line=first.line),
                    )
                else:
                    seen[rule_id] = (*path, "id")
            if not isinstance(rule_raw, dict):
                continue
            rule = _parse_rule(unit, rule_raw, path)
            if rule is not None and unit.clean_at(path):
                unit.rules.append(rule)
                unit.rule_paths[rule.id] = path
        unit.references.extend(parser.references)


def resolve_pass(comp: Compilation) -> None:
    cat = comp.catalogue
    local_tags = frozenset(
        tag
        for unit in comp.units
        if unit.structured
        for tag in unit.doc.value.get("tags") or []
        if isinstance(tag, str)
    )
    tags = cat.tags | local_tags
    ids: dict[str, Unit] = {}
    for unit in comp.units:
        pathway_id = unit.doc.value.get("pathway") if unit.structured else None
        if isinstance(pathway_id, str):
            if pathway_id in ids:
                unit.doc.error(
                    ("pathway",),
                    "duplicate-pathway",
                    say("duplicate-pathway/also", pathway=pathway_id, path=ids[pathway_id].path),
                )
            ids[pathway_id] = unit
    pathway_ids = cat.pathway_ids | frozenset(ids)
    for unit in comp.units:
        for ref in unit.references:
            _resolve(unit, ref, cat, tags, pathway_ids)


def _resolve(
    unit: Unit, ref: Reference, cat: Catalogue, tags: frozenset[str], pathway_ids: frozenset[str]
) -> None:
    err = unit.doc.error
    name = ref.name
    if ref.kind == "tag" and name not in tags:
        err(ref.path, "unknown-tag", say("unknown-tag/pathway", tag=name, suggestion=suggestion(name, tags)))
    elif ref.kind == "medication" and name not in cat.medications:
        text = say("unknown-medication/vocabulary", code=name, suggestion=suggestion(name, cat.medications))
        err(ref.path, "unknown-medication", text)
    elif ref.kind == "lab" and name not in cat.labs:
        err(
            ref.path,
            "unknown-lab",
            say("unknown-lab/catalogue", lab=name, suggestion=suggestion(name, cat.labs)),
        )
    elif ref.kind == "content" and cat.content_keys is not None and name not in cat.content_keys:
        text = say("unknown-content/item", key=name, suggestion=suggestion(name, cat.content_keys))
        err(ref.path, "unknown-content", text)
    elif ref.kind == "form" and cat.forms is not None and name not in cat.forms:
        err(
            ref.path,
            "unknown-form",
            say("unknown-form/form", form=name, suggestion=suggestion(name, cat.forms)),
        )
    elif ref.kind == "item" and cat.forms is not None and ref.form in cat.forms:
        form = cat.forms[ref.form]
        if form.item_type(name) is None:
            choices = [*form.items, "score"]
            text = say("unknown-item/form", form=ref.form, item=name, suggestion=suggestion(name, choices))
            err(ref.path, "unknown-item", text)
    elif ref.kind == "icd10" and cat.icd10 is not None and not icd10.covers(name, cat.icd10):
        unit.doc.warning(ref.path, "unknown-icd10", say("unknown-icd10/catalogue", code=name))
    elif ref.kind == "pathway" and name not in pathway_ids:
        text = say("unknown-pathway/pathway", pathway=name, suggestion=suggestion(name, pathway_ids))
        err(ref.path, "unknown-pathway", text)
    elif ref.kind.startswith("urgent-"):
        _resolve_urgent(unit, ref, cat)


def _resolve_urgent(unit: Unit, ref: Reference, cat: Catalogue) -> None:
    """``urgent`` only with safety advice; an unknown name is reported once, as unknown."""
    if ref.kind == "urgent-content":
        if cat.content_keys is None or ref.name not in cat.content_keys or ref.name in cat.safety_content:
            return
        text = say("urgent-not-safety-advice/content", key=ref.name)
    else:
        form = cat.forms.get(ref.name) if cat.forms is not None else None
        if form is None or form.safety_advice:
            return
        text = say("urgent-not-safety-advice/form", form=ref.name)
    unit.doc.error(ref.path, "urgent-not-safety-advice", text)


def type_check_pass(comp: Compilation) -> None:
    cat = comp.catalogue
    for unit in comp.units:
        if unit.parser is None:
            continue
        for code, threshold, path in unit.parser.lab_thresholds:
            lab = cat.labs.get(code)
            if lab is not None and not lab.plausible(threshold):
                unit.doc.error(
                    path,
                    "out-of-range",
                    say(
                        "out-of-range/lab-threshold",
                        value=threshold,
                        lab=code,
                        low=lab.low,
                        high=lab.high,
                        unit=lab.unit,
                    ),
                )
        if cat.forms is None:
            continue
        for operands in unit.parser.typed_operands:
            form = cat.forms.get(operands.form)
            item_type = form.item_type(operands.item) if form else None
            if item_type is None:
                continue
            wanted = "number" if item_type == "number" else "string"
            wrong = operands.types - {wanted}
            if wrong:
                unit.doc.error(
                    operands.path,
                    "type-mismatch",
                    say(
                        "type-mismatch/answer",
                        form=operands.form,
                        item=operands.item,
                        item_type=say(f"json-type/{item_type}") if item_type in JSON_TYPES else item_type,
                        compared=say(f"json-type/{sorted(wrong)[0]}"),
                    ),
                )


def freeze_pass(comp: Compilation) -> None:
    for unit in comp.units:
        if unit.failed or not unit.structured:
            continue
        raw = unit.doc.value
        canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        unit.pathway = Pathway(
            id=raw["pathway"],
            title=raw["title"],
            version=hashlib.sha256(canonical.encode()).hexdigest()[:12],
            rules=tuple(unit.rules),
            description=raw.get("description", ""),
            tags=frozenset(raw.get("tags") or ()),
            audience=unit.parsed.get("audience"),
            exit=unit.parsed.get("exit"),
            source=unit.path,
        )
    report_loops(comp)


PASSES: tuple[tuple[str, Callable[[Compilation], None]], ...] = (
    ("load", load_pass),
    ("schema", schema_pass),
    ("parse", parse_pass),
    ("resolve", resolve_pass),
    ("type-check", type_check_pass),
    ("freeze", freeze_pass),
)


# --- rules ----------------------------------------------------------------------------------


def _parse_point(raw: dict[str, Any]) -> Point:
    if "event_time" in raw:  # issue 16 item 2: checked against the trigger by event_checks.check_event_times
        return Point("event_time", parse_duration(raw.get("offset", "0d")), raw["event_time"])
    ((anchor, value),) = raw.items()
    if anchor == "gestational_age":
        return Point("gestational_age", timedelta(days=parse_gestational_age(value)))
    for known in ("edd", "delivery_date", "enrolled"):
        if anchor == known:
            return Point(known, parse_duration(value))
    raise ValueError(f"schema admitted point {anchor!r}")


def _parse_trigger(unit: Unit, raw: dict[str, Any], path: Path) -> Trigger:
    if "on" in raw:
        on = raw["on"]
        if on == "enrolled":
            return OnEnrolled()
        event_type = on["event"]
        filters = tuple(sorted((k, v) for k, v in on.items() if k != "event"))
        event_checks.check_event_filters(unit, event_type, filters, (*path, "on"))
        return OnEvent(event_type, filters)
    if "at" in raw:
        event_checks.no_event_time(unit, raw["at"], (*path, "at"))
        return At(_parse_point(raw["at"]))
    every = raw["every"]
    start = every.get("from", "enrolled")
    for key in ("from", "until"):
        event_checks.no_event_time(unit, every.get(key), (*path, "every", key))
    start_point = Point("enrolled", timedelta(0)) if start == "enrolled" else _parse_point(start)
    until = _parse_point(every["until"]) if "until" in every else None
    if until is not None and until.anchor == start_point.anchor and until.offset <= start_point.offset:
        unit.doc.error((*path, "every", "until"), "empty-range", say("empty-range/until"))
    interval = parse_duration(every["interval"])
    if interval < timedelta(days=1) or interval % timedelta(days=1):
        unit.doc.error((*path, "every", "interval"), "bad-duration", say("bad-duration/every-daily"))
    return Every(interval, start_point, until)


def _parse_rule(unit: Unit, raw: dict[str, Any], path: Path) -> Rule | None:
    """Parse what is clean; return the Rule only when all of it was."""
    assert unit.parser is not None
    whole = unit.clean_at(path)
    if "when" in raw and isinstance(raw["when"], dict):
        when = unit.parser.parse(raw["when"], (*path, "when"))
    else:
        when = None
    do: list[Any] = raw["do"] if isinstance(raw.get("do"), list) else []
    actions = tuple(
        _parse_action(unit, item, (*path, "do", i), i)
        for i, item in enumerate(do)
        if isinstance(item, dict) and len(item) == 1 and unit.clean_at((*path, "do", i))
    )
    trigger_keys = [k for k in ("on", "at", "every") if k in raw]
    if len(trigger_keys) != 1 or not unit.clean_at((*path, trigger_keys[0])):
        return None
    trigger = _parse_trigger(unit, raw, path)
    event_checks.check_event_times(unit, trigger, actions, path)
    event_checks.check_event_forms(unit, trigger, actions, path)
    timed = isinstance(trigger, At | Every)
    for key in ("catch_up", "catch_up_within"):
        if key in raw and not timed and unit.clean_at((*path, key)):
            text = say("catch-up-not-applicable/timed", key=key)
            unit.doc.error((*path, key), "catch-up-not-applicable", text, key=True)
    if not whole:
        return None
    within = parse_duration(raw["catch_up_within"]) if "catch_up_within" in raw else None
    if within is None and isinstance(trigger, Every):
        within = trigger.interval
    elif within is None and isinstance(trigger, At):
        within = DEFAULT_AT_CATCH_UP_WITHIN
    return Rule(
        id=raw["id"],
        trigger=trigger,
        actions=actions,
        when=when,
        catch_up=raw.get("catch_up", "skip"),
        catch_up_within=within,
        title=raw.get("title", ""),
        line=unit.doc.location(path).line,
    )


def _parse_action(unit: Unit, raw: dict[str, Any], path: Path, index: int) -> Action:
    ((kind, body),) = raw.items()
    body_path = (*path, kind)
    refs = unit.references
    if kind == "enroll":
        target = body if isinstance(body, str) else body["pathway"]
        refs.append(Reference("pathway", target, body_path))
        return Action(kind, index, MappingProxyType({"pathway": target}))
    if kind == "tag":
        for op in ("add", "remove"):
            values = body.get(op, [])
            for i, tag in enumerate(values if isinstance(values, list) else [values]):
                refs.append(
                    Reference(
                        "tag", tag, (*body_path, op, i) if isinstance(values, list) else (*body_path, op)
                    )
                )
        added = set(_listed(body.get("add")))
        if added & set(_listed(body.get("remove"))):
            unit.doc.error(body_path, "bad-value", say("bad-value/tag-added-and-removed"))
        return Action(
            kind, index, MappingProxyType({op: _listed(body[op]) for op in ("add", "remove") if op in body})
        )
    if kind == "risk":
        if "colour" not in body and "purple" not in body:
            unit.doc.error(body_path, "missing-key", say("missing-key/risk"))
        return Action(kind, index, MappingProxyType(dict(body)))
    if "content" in body:
        refs.append(Reference("content", body["content"], (*body_path, "content")))
    if "form" in body and isinstance(body["form"], str):  # a mapping: the event names it (item 3)
        refs.append(Reference("form", body["form"], (*body_path, "form")))
    if body.get("urgent") is True:
        _check_urgent(unit, body, body_path)
    if "after" in body and "at" in body:
        unit.doc.error(body_path, "schedule-conflict", say("schedule-conflict/after-or-at"))
    if "slot" in body and "after" not in body and "at" not in body:
        unit.doc.warning((*body_path, "slot"), "slot-unscheduled", say("slot-unscheduled/add-after"))
    schedule = None
    if any(k in body for k in ("after", "at", "not_after", "slot")):
        schedule = Schedule(
            after=parse_duration(body["after"]) if "after" in body else None,
            at=_parse_point(body["at"]) if "at" in body else None,
            not_after=_parse_point(body["not_after"]) if "not_after" in body else None,
            slot=body.get("slot"),
        )
    params = {k: v for k, v in body.items() if k not in SCHEDULE_KEYS}
    if kind == "task":
        params.setdefault("priority", "normal")
    return Action(kind, index, MappingProxyType(params), schedule, tuple(body.get("channels", ())))


def _check_urgent(unit: Unit, body: dict[str, Any], body_path: Path) -> None:
    """Issue 16 item 1: an urgent message goes at its trigger's time (so it takes no ``after``
    or ``at``), and only with content or a form its review marks as safety advice (checked
    when the names resolve)."""
    where = (*body_path, "urgent")
    if "after" in body or "at" in body:
        unit.doc.error(where, "schedule-conflict", say("schedule-conflict/urgent"))
    for kind in ("content", "form"):
        if isinstance(body.get(kind), str):
            unit.references.append(Reference(f"urgent-{kind}", body[kind], where))


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


# --- entry points ---------------------------------------------------------------------------


def compile_units(
    units: Sequence[Unit], catalogue: Catalogue | None = None, limits: Limits | None = None
) -> CompileResult:
    comp = Compilation(list(units), catalogue or load_catalogue(), limits or Limits())
    for _name, run in PASSES:
        run(comp)
    problems = [p for unit in comp.units for p in unit.doc.problems] + comp.problems
    problems.sort(key=lambda p: (p.location, p.code))
    pathways = tuple(u.pathway for u in comp.units if u.pathway is not None and not u.failed)
    return CompileResult(pathways, tuple(problems))


def compile_paths(paths: Sequence[str], catalogue: Catalogue | None = None) -> CompileResult:
    """Compile files together (their ``tags:`` extend one shared vocabulary)."""
    return compile_units([Unit(path) for path in paths], catalogue)


def compile_text(
    text: str | bytes, path: str = "<pathway>", catalogue: Catalogue | None = None
) -> CompileResult:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return compile_units([Unit(path, data)], catalogue)


def problems_at(unit_path: str, problems: Sequence[Problem]) -> list[Problem]:
    return [p for p in problems if p.location.path == unit_path]


def located(path: str, line: int, column: int, code: str, message: str) -> Problem:
    return Problem(Location(path, line, column), code, message)
