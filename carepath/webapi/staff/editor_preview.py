"""``/editor/preview``: one woman's whole pregnancy as the hospital's pathways would run it.

A demo patient (synthetic, ``examples/patients``) or one described in the form (LMP or GA
today, tags, ICD-10 diagnoses, risk colour, enrolment date, age, gravida, para) runs through
``engine.preview`` against the hospital's current library, or against a draft or in-review
version (``?version=<id>``: that pathway's text in place of the published one). The page
shows the server-rendered SVG timeline (every text escaped by ``timeline_svg``), the list of
items with week, what and why, and for each message what she would read on WeChat, SMS and
in the inbox (``delivery.preview``), rendered here and shown by ``preview.js`` on a click:
nothing a user typed is ever put into the page as HTML.

The form is a GET: a preview changes nothing, and its address can be shared. A bad field is
shown next to the field with the engine's code and message, in the page's language. Why each
action happens is said as a doctor would say it (``preview_text.why``), with the engine's record
of the firing, with ids, below it for authors.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, current_app, render_template, request
from flask_babel import get_locale, gettext
from markupsafe import Markup

from carepath.delivery.preview import ChannelView, preview_views
from carepath.engine.catalogue import load_labs
from carepath.engine.facts import Event, Facts
from carepath.engine.forms import load_forms
from carepath.engine.icd10 import who_catalogue
from carepath.engine.preview import Preview, persona_facts, persona_patient, preview
from carepath.errors import CarepathError, CompileError, Problem
from carepath.store import authoring, pathways, publishing
from carepath.store.authoring import AuthoringError
from carepath.webapi.auth.permissions import require
from carepath.webapi.common.diagnostics_text import page_translate, problem_message
from carepath.webapi.staff.editor.candidate import Candidate, candidate, demo, demo_patients, engine_settings
from carepath.webapi.staff.editor_api import READ_PERMISSION, _db, _need_page, _now, editor
from carepath.webapi.staff.preview_text import Titles, record, why
from carepath.webapi.staff.timeline_svg import timeline_svg

blp = Blueprint("editor_preview", __name__, url_prefix="/editor")

#: The form's fields, in the order the page shows them.
FIELDS = ("lmp", "ga_today", "enrolled_on", "tags", "diagnoses", "risk_colour", "age", "gravida", "para")
RISK_COLOURS = ("", "green", "yellow", "orange", "red")
#: A patient-file key the engine reports a problem at -> the form field it came from.
_FIELD_OF = {
    "enrolled_at": "enrolled_on",
    "birth_date": "age",
    "diagnoses": "diagnoses",
    "edd": "lmp",
    "today": "ga_today",
}
_SPLIT = re.compile(r"[\s,，、;；]+")
_LIMIT = 200  # characters of one form field


@dataclass
class PersonaForm:
    """The form as typed, and the problems of each field (key "" for the whole persona)."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name if name in FIELDS else "", []).append(message)


def demo_folder() -> Path | None:
    found = current_app.config.get("PREVIEW_PATIENTS")
    return Path(found) if found else None


def read_form(args: Mapping[str, str]) -> tuple[PersonaForm, dict[str, Any]]:
    """The typed fields and the persona mapping the engine takes (what parses so far)."""
    form = PersonaForm({name: str(args.get(name, "")).strip()[:_LIMIT] for name in FIELDS})
    persona: dict[str, Any] = {"today": _now().astimezone(engine_settings().window.zone).date().isoformat()}
    for name in ("lmp", "ga_today", "enrolled_on", "risk_colour"):
        if form.values[name]:
            persona[name] = form.values[name]
    for name in ("tags", "diagnoses"):
        items = [item for item in _SPLIT.split(form.values[name]) if item]
        if items:
            persona[name] = items
    for name in ("age", "gravida", "para"):
        text = form.values[name]
        if not text:
            continue
        try:
            persona[name] = int(text)
        except ValueError:
            form.error(name, gettext("%(value)s is not a whole number", value=text))
    if not form.values["lmp"] and not form.values["ga_today"]:
        form.error("lmp", gettext("Give her LMP or her gestational age today."))
    return form, persona


def persona_of(form: PersonaForm, persona: dict[str, Any]) -> Facts | None:
    """Her facts, or None with every problem put by the field it belongs to (the engine
    checks the fields that parsed even when another one did not)."""
    try:
        facts = persona_facts(persona, engine_settings())
    except CompileError as error:
        lines = _key_lines(persona)
        for problem in error.problems:
            form.error(_field_of(problem, lines, persona), f"{problem.code}: {problem_message(problem)}")
        return None
    return None if form.errors else facts


def _key_lines(persona: Mapping[str, Any]) -> list[tuple[int, str]]:
    """(line, top-level key) of the patient file ``persona_facts`` checks: the same dump."""
    try:
        patient = persona_patient(persona, engine_settings())
    except CarepathError:
        return []
    text = yaml.safe_dump(patient, allow_unicode=True, sort_keys=False)
    return [
        (number, line.split(":", 1)[0])
        for number, line in enumerate(text.splitlines(), 1)
        if line and not line.startswith((" ", "-"))
    ]


def _field_of(problem: Problem, lines: list[tuple[int, str]], persona: Mapping[str, Any]) -> str:
    prefix = problem.message.split(":", 1)[0]
    if problem.location.line == 1 and prefix in FIELDS + tuple(_FIELD_OF):
        key = prefix
    else:
        key = ""
        for number, name in lines:
            if number <= problem.location.line:
                key = name
    if key == "lmp" and "ga_today" in persona and "lmp" not in persona:
        return "ga_today"
    return _FIELD_OF.get(key, key)


@dataclass(frozen=True)
class Shown:
    """One previewed item as the page lists it, with its message views when it is one."""

    index: int
    item: Any
    views: tuple[ChannelView, ...]
    why: str = ""  # as a doctor says it, in the page's language
    record: str = ""  # the engine's record of the firing, with ids


def titles() -> Titles:
    """The forms' and labs' titles the reasons name, in the page's language; a condition's
    form items, choices and ICD-10 codes by their names too (issue 20: titles, not ids)."""
    return _titles(str(get_locale() or "").startswith("zh"))


@functools.cache
def _titles(chinese: bool) -> Titles:
    """Built once per language and process: the workspace's list asks once per task shown."""
    labs = {code: (lab.zh if chinese else lab.en) for code, lab in _labs().items()}
    forms = _forms()
    items = {f"{f.id}.{i.id}": i.label for f in forms.values() for i in f.items}
    choices = {
        f"{f.id}.{i.id}={c.value}": c.label for f in forms.values() for i in f.items for c in i.choices
    }
    icd10 = {c.code: (c.name_zh or c.title_en) if chinese else c.title_en for c in who_catalogue().values()}
    return Titles(
        forms={form_id: form.title for form_id, form in forms.items()},
        labs=labs,
        lab_units={code: lab.unit for code, lab in _labs().items() if lab.unit},
        items=items,
        choices=choices,
        icd10=icd10,
    )


_forms = functools.cache(load_forms)
#: labs.yaml read once per process, as the forms are: the workspace's list asks for these titles
#: once per task shown, and parsing the YAML each time cost ~65 ms a task (bench/workspace.py).
_labs = functools.cache(load_labs)


def _views(result: Preview, facts: Facts, content: Mapping[str, Any]) -> list[Shown]:
    zone = engine_settings().window.zone
    named = titles()
    shown = []
    for index, item in enumerate(result.items):
        views: tuple[ChannelView, ...] = ()
        if item.message:
            views = preview_views(item, content, edd=result.edd, zone=zone)
        shown.append(Shown(index, item, views, why(item, page_translate, named), record(item)))
    return shown


@blp.get("/preview")
@require("pathway.read")
def preview_page() -> Any:
    me = editor()
    demos = demo_patients(demo_folder())
    chosen = request.args.get("demo", "")
    form, persona = read_form(request.args)
    asked = bool(chosen) or "run" in request.args
    context: dict[str, Any] = {
        "demos": sorted(demos),
        "chosen": chosen,
        "form": form if asked and not chosen else PersonaForm({name: form.values[name] for name in FIELDS}),
        "fields": FIELDS,
        "risk_colours": RISK_COLOURS,
        "version_id": request.args.get("version", ""),
        "target": None,
        "problems": [],
        "result": None,
    }
    started = time.perf_counter()
    with _db().reading() as session:
        target: Candidate | None = None
        if context["version_id"]:
            try:
                version = authoring.get_version(session, me.hospital_id, int(context["version_id"]))
            except (AuthoringError, ValueError):
                message = gettext("No such version: %(id)s", id=context["version_id"])
                return render_template("error.html", title=gettext("Not found"), message=message), 404
            document = authoring.document_of(session, version)
            refused = _need_page(READ_PERMISSION[document.kind])
            if refused is not None:
                return refused
            target = candidate(session, me.hospital_id, version)
            context["target"] = target
            context["problems"] = list(target.problems)
        library = target.library if target else pathways.library_for(session, me.hospital_id)
        content = target.content if target else publishing.content_items(session, me.hospital_id)
    if not asked or context["problems"]:
        return render_template("editor/preview.html", **context)
    facts: Facts | None
    events: tuple[Event, ...] = ()
    if chosen:
        if chosen not in demos:
            context["form"].error("", gettext("No such demo patient: %(name)s", name=chosen))
            return render_template("editor/preview.html", **context), 422
        facts, events = demo(demos[chosen])
    else:
        facts = persona_of(context["form"], persona)
        if facts is None:
            return render_template("editor/preview.html", **context), 422
    result = preview(library, facts, events, settings=engine_settings())
    title = chosen or gettext("Described patient")
    context["result"] = result
    context["items"] = _views(result, facts, content)
    reasons = {id(shown.item): shown.why for shown in context["items"]}
    context["svg"] = Markup(timeline_svg(result, title=title, why=lambda item: reasons[id(item)]))
    context["seconds"] = time.perf_counter() - started
    return render_template("editor/preview.html", **context)
