"""Forms: questionnaires, exams and surveys, loaded from YAML, validated, scored.

A form's answers become facts ``answers.<form>.<item>``; a scored form also yields
``answers.<form>.score`` (its total), which is why ``score`` is never an item id and why
``Form.item_ids`` lists it beside the items. Scoring is data, never code: ``sum`` adds the
scores of the chosen choices (reverse-scored items simply list their scores in reverse);
``correct`` counts an exam's right answers. Bands label the total; flags come from bands and
from per-item rules (``fasting_glucose >= 5.3``, any positive answer to EPDS item 10).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from carepath.engine.content import read_text_file
from carepath.engine.yaml_source import compose, locate, safe_load, yaml_error_location
from carepath.errors import CompileError, Location, Problem

FORMS_DIRECTORY = Path(__file__).resolve().parent.parent / "forms"
_SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "form.schema.json"

#: The fact name of a scored form's total.
SCORE_ITEM = "score"

#: The value type each item type gives its fact, as the pathway compiler sees it.
VALUE_TYPES: Mapping[str, str] = {
    "single": "string",
    "multiple": "list",
    "number": "number",
    "text": "string",
    "date": "date",
}


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    score: float | None = None
    tags: tuple[str, ...] = ()
    exclusive: bool = False


@dataclass(frozen=True)
class FlagRule:
    """Raise ``flag`` when every condition given holds for one item's answer."""

    flag: str
    label: str = ""
    gte: float | None = None
    gt: float | None = None
    lte: float | None = None
    lt: float | None = None
    score_gte: float | None = None
    values: tuple[str, ...] = ()

    def holds(self, value: object, score: float | None) -> bool:
        number = float(value) if isinstance(value, int | float) and _is_number(value) else None
        checks: list[bool] = [
            number is not None and compare(number, bound)
            for bound, compare in (
                (self.gte, operator.ge),
                (self.gt, operator.gt),
                (self.lte, operator.le),
                (self.lt, operator.lt),
            )
            if bound is not None
        ]
        if self.score_gte is not None:
            checks.append(score is not None and score >= self.score_gte)
        if self.values:
            chosen = set(value) if isinstance(value, list) else {value}
            checks.append(bool(chosen & set(self.values)))
        return bool(checks) and all(checks)


@dataclass(frozen=True)
class FormItem:
    id: str
    label: str
    type: str
    required: bool
    choices: tuple[Choice, ...] = ()
    unit: str | None = None
    range: tuple[float, float] | None = None
    answer: tuple[str, ...] | None = None
    points: float = 1
    flags: tuple[FlagRule, ...] = ()

    def choice(self, value: object) -> Choice | None:
        return next((c for c in self.choices if c.value == value), None)


@dataclass(frozen=True)
class Band:
    id: str
    min: float
    max: float
    label: str
    flag: str | None = None


@dataclass(frozen=True)
class Scoring:
    method: str
    items: tuple[str, ...]
    bands: tuple[Band, ...] = ()


@dataclass(frozen=True)
class Form:
    """One parsed form; immutable and shared by every patient it is sent to."""

    id: str
    title: str
    kind: str
    items: tuple[FormItem, ...]
    summary: str = ""
    summary_line: int = 1
    scoring: Scoring | None = None
    description: str = ""
    note: str = ""
    citation: tuple[str, ...] = ()
    review_status: str = "draft"
    path: str = ""

    @property
    def item_ids(self) -> tuple[str, ...]:
        """Every name an ``answer`` leaf may use: the items, then ``score`` if scored."""
        ids = tuple(item.id for item in self.items)
        return (*ids, SCORE_ITEM) if self.scoring is not None else ids

    def item(self, item_id: str) -> FormItem | None:
        return next((item for item in self.items if item.id == item_id), None)

    def item_type(self, item_id: str) -> str:
        """'number', 'string', 'list' or 'date'; KeyError for a name the form lacks."""
        if item_id == SCORE_ITEM and self.scoring is not None:
            return "number"
        item = self.item(item_id)
        if item is None:
            raise KeyError(f"form {self.id!r} has no item {item_id!r}")
        return VALUE_TYPES[item.type]


@dataclass(frozen=True)
class ScoreResult:
    """Total (None for an unscored form), band, flags raised and tags her answers give."""

    total: float | None
    band: str | None
    band_label: str | None
    flags: tuple[str, ...]
    tags: tuple[str, ...]
    complete: bool
    max_total: float | None = None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    """Built once: checking the schema itself is the slow part of loading the library."""
    schema: dict[str, Any] = json.loads(_SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _optional_float(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    return float(value) if value is not None else None


def _build_item(data: Mapping[str, Any]) -> FormItem:
    answer = data.get("answer")
    bounds = data.get("range")
    return FormItem(
        id=data["id"],
        label=data["label"],
        type=data["type"],
        required=data["required"],
        choices=tuple(
            Choice(
                c["value"],
                c["label"],
                c.get("score"),
                tuple(c.get("tags", ())),
                bool(c.get("exclusive", False)),
            )
            for c in data.get("choices", ())
        ),
        unit=data.get("unit"),
        range=(float(bounds[0]), float(bounds[1])) if bounds is not None else None,
        answer=None if answer is None else (answer,) if isinstance(answer, str) else tuple(answer),
        points=data.get("points", 1),
        flags=tuple(
            FlagRule(
                flag=f["flag"],
                label=f.get("label", ""),
                gte=_optional_float(f, "gte"),
                gt=_optional_float(f, "gt"),
                lte=_optional_float(f, "lte"),
                lt=_optional_float(f, "lt"),
                score_gte=_optional_float(f, "score_gte"),
                values=tuple(f.get("in", ())),
            )
            for f in data.get("flags", ())
        ),
    )


def parse_form(text: str, path: str | Path) -> Form:
    """Parse and check one form; raise CompileError with every located problem."""
    where = str(path)
    try:
        data = safe_load(text)
    except yaml.YAMLError as exc:
        line, column, message = yaml_error_location(exc)
        raise CompileError([Problem(Location(where, line, column), "bad-yaml", message)]) from None
    root = compose(text)
    if not isinstance(data, dict):
        raise CompileError([Problem(Location(where), "form-schema", "a form must be a mapping")])
    problems = [
        Problem(
            Location(where, *locate(root, list(error.absolute_path))),
            "form-schema",
            f"{'.'.join(str(p) for p in error.absolute_path) or 'form'}: {error.message}",
        )
        for error in sorted(_validator().iter_errors(data), key=str)
    ]
    if problems:
        raise CompileError(problems)
    items = tuple(_build_item(item) for item in data["items"])
    scoring_data = data.get("scoring")
    scoring = None
    if scoring_data is not None:
        scored = scoring_data.get("items") or [
            item.id
            for item in items
            if item.answer is not None or any(c.score is not None for c in item.choices)
        ]
        scoring = Scoring(
            method=scoring_data["method"],
            items=tuple(scored),
            bands=tuple(
                Band(b["id"], float(b["min"]), float(b["max"]), b["label"], b.get("flag"))
                for b in scoring_data.get("bands", ())
            ),
        )
    form = Form(
        id=data["form"],
        title=data["title"],
        kind=data["kind"],
        items=items,
        summary=data["summary"],
        summary_line=locate(root, ["summary"])[0],
        scoring=scoring,
        description=data.get("description", ""),
        note=data.get("note", ""),
        citation=tuple(data.get("citation", ())),
        review_status=data["review"]["status"],
        path=where,
    )
    problems = [
        Problem(Location(where, *locate(root, at)), code, message)
        for at, code, message in check_form(form)
    ]
    if problems:
        raise CompileError(problems)
    return form


def check_form(form: Form) -> list[tuple[list[object], str, str]]:
    """Rules the schema cannot state; each finding is (YAML path, code, message)."""
    found: list[tuple[list[object], str, str]] = []
    seen: set[str] = set()
    for index, item in enumerate(form.items):
        at: list[object] = ["items", index]
        if item.id == SCORE_ITEM or item.id in seen:
            found.append(
                ([*at, "id"], "bad-item-id", f"item id {item.id!r} is reserved or repeated")
            )
        seen.add(item.id)
        values = [c.value for c in item.choices]
        if len(set(values)) != len(values):
            found.append(
                ([*at, "choices"], "duplicate-choice", f"{item.id}: repeated choice value")
            )
        if item.range is not None and item.range[0] > item.range[1]:
            found.append(([*at, "range"], "bad-range", f"{item.id}: range is [min, max]"))
        if item.answer is not None and not set(item.answer) <= set(values):
            found.append(([*at, "answer"], "bad-answer", f"{item.id}: the answer is not a choice"))
        if item.answer is not None and item.type == "single" and len(item.answer) != 1:
            found.append(([*at, "answer"], "bad-answer", f"{item.id}: one answer for 'single'"))
        if form.kind == "exam" and item.type in ("single", "multiple") and item.answer is None:
            found.append((at, "missing-answer", f"exam item {item.id} has no right answer"))
    if form.scoring is not None:
        for item_id in form.scoring.items:
            scored_item = form.item(item_id)
            if scored_item is None or scored_item.type not in ("single", "multiple"):
                found.append((["scoring", "items"], "bad-scoring", f"{item_id}: not a choice item"))
            elif form.scoring.method == "sum" and any(c.score is None for c in scored_item.choices):
                found.append((["scoring"], "bad-scoring", f"{item_id}: every choice needs a score"))
        bands = sorted(form.scoring.bands, key=lambda band: band.min)
        for index, band in enumerate(bands):
            if band.min > band.max or (index and band.min <= bands[index - 1].max):
                found.append(
                    (["scoring", "bands"], "bad-band", f"band {band.id} overlaps or is empty")
                )
    if form.kind == "exam" and (form.scoring is None or form.scoring.method != "correct"):
        found.append((["scoring"], "bad-scoring", "an exam is scored with method 'correct'"))
    return found


def load_forms(directory: str | Path | None = None) -> dict[str, Form]:
    """Load every ``*.yaml`` form of a directory (default: the built-in forms) by id."""
    root = Path(directory) if directory is not None else FORMS_DIRECTORY
    forms: dict[str, Form] = {}
    problems: list[Problem] = []
    for path in sorted(root.glob("*.yaml")):
        try:
            form = parse_form(read_text_file(path), path)
        except CompileError as exc:
            problems.extend(exc.problems)
            continue
        if form.id != path.stem:
            problems.append(
                Problem(Location(str(path)), "form-id-mismatch", f"{form.id} != {path.stem}")
            )
        forms[form.id] = form
    if problems:
        raise CompileError(problems)
    return forms


def _choice_score(item: FormItem, value: object) -> float | None:
    """The score an answer earns on a choice item (sum of chosen scores for ``multiple``)."""
    chosen = value if isinstance(value, list) else [value]
    scores = [choice.score for v in chosen if (choice := item.choice(v)) is not None]
    if not scores or any(s is None for s in scores):
        return None
    return sum(s for s in scores if s is not None)


def _is_correct(item: FormItem, value: object) -> bool:
    chosen = set(value) if isinstance(value, list) else {value}
    return item.answer is not None and chosen == set(item.answer)


def score(form: Form, answers: Mapping[str, object]) -> ScoreResult:
    """Score her answers: total, band, flags and tags. Invalid answers count as unanswered.

    The band is given only when every scored item is answered: a partial EPDS total under
    13 says nothing about her.
    """
    flags: list[str] = []
    tags: list[str] = []
    for item in form.items:
        if item.id not in answers or validate_answer(item, answers[item.id]):
            continue
        value = answers[item.id]
        item_score = _choice_score(item, value) if item.choices else None
        flags.extend(rule.flag for rule in item.flags if rule.holds(value, item_score))
        chosen = value if isinstance(value, list) else [value]
        for v in chosen:
            choice = item.choice(v)
            if choice is not None:
                tags.extend(choice.tags)
    total: float | None = None
    band: Band | None = None
    complete = True
    max_total: float | None = None
    if form.scoring is not None:
        total, max_total = 0, 0
        for item_id in form.scoring.items:
            scored = form.item(item_id)
            if scored is None:
                continue
            given = answers.get(item_id)
            valid = item_id in answers and not validate_answer(scored, given)
            complete = complete and valid
            if form.scoring.method == "correct":
                max_total += scored.points
                total += scored.points if valid and _is_correct(scored, given) else 0
            else:
                max_total += max((c.score or 0) for c in scored.choices)
                total += (_choice_score(scored, given) or 0) if valid else 0
        if complete:
            band = next((b for b in form.scoring.bands if b.min <= total <= b.max), None)
            if band is not None and band.flag:
                flags.append(band.flag)
    return ScoreResult(
        total=total,
        band=band.id if band else None,
        band_label=band.label if band else None,
        flags=tuple(dict.fromkeys(flags)),
        tags=tuple(dict.fromkeys(tags)),
        complete=complete,
        max_total=max_total,
    )


def validate_answer(item: FormItem, value: object) -> str | None:
    """Why one answer does not fit its item, or None if it does."""
    if item.type == "number":
        if not _is_number(value):
            return f"{item.id}: a number is required"
        assert item.range is not None  # the schema requires a range for numbers
        low, high = item.range
        if not low <= value <= high:  # type: ignore[operator]
            return f"{item.id}: {value} {item.unit} is outside {low:g}–{high:g}"
        return None
    if item.type == "single":
        return None if item.choice(value) else f"{item.id}: {value!r} is not a choice"
    if item.type == "multiple":
        if not isinstance(value, list) or not value:
            return f"{item.id}: a non-empty list of choices is required"
        unknown = [v for v in value if item.choice(v) is None]
        if unknown:
            return f"{item.id}: {unknown!r} are not choices"
        if len(set(value)) != len(value):
            return f"{item.id}: a choice is repeated"
        exclusive = [v for v in value if (choice := item.choice(v)) and choice.exclusive]
        if exclusive and len(value) > 1:
            return f"{item.id}: {exclusive[0]!r} cannot be chosen with other answers"
        return None
    if item.type == "date":
        if isinstance(value, dt.date):
            return None
        try:
            dt.date.fromisoformat(str(value))
        except ValueError:
            return f"{item.id}: a date YYYY-MM-DD is required"
        return None
    return None if isinstance(value, str) else f"{item.id}: text is required"


def validate_answers(form: Form, answers: Mapping[str, object]) -> list[str]:
    """Every problem with a submission: unknown items, missing required ones, bad values."""
    errors = [f"{key}: not an item of form {form.id}" for key in answers if form.item(key) is None]
    for item in form.items:
        if item.id not in answers or answers[item.id] in (None, "", []):
            if item.required:
                errors.append(f"{item.id}: required")
            continue
        problem = validate_answer(item, answers[item.id])
        if problem:
            errors.append(problem)
    return errors
