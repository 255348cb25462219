"""Load forms from YAML: schema check, then the rules a schema cannot state, all located."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema

from carepath.engine.content import read_text_file
from carepath.engine.form_spec import (
    SCORE_ITEM,
    Band,
    Choice,
    FlagRule,
    Form,
    FormItem,
    Scoring,
)
from carepath.engine.loader import load_yaml
from carepath.engine.messages import problem, say
from carepath.engine.schema_check import jsonschema_words
from carepath.errors import CompileError, Location, Problem, Text

FORMS_DIRECTORY = Path(__file__).resolve().parent.parent / "forms"
_SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "form.schema.json"


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
    doc = load_yaml(text.encode("utf-8"), where)  # YAML 1.2 scalars: a choice `no` stays text
    if doc.problems:
        raise CompileError(doc.problems)
    data = doc.value
    if not isinstance(data, dict):
        raise CompileError([problem(Location(where), "form-schema", say("form-schema/mapping"))])
    problems = [
        problem(
            doc.location(tuple(error.absolute_path)),
            "form-schema",
            say(
                "form-schema/field",
                field=".".join(str(p) for p in error.absolute_path) or "form",
                detail=jsonschema_words(error.message),
            ),
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
        summary_line=doc.location(("summary",)).line,
        scoring=scoring,
        description=data.get("description", ""),
        note=data.get("note", ""),
        citation=tuple(data.get("citation", ())),
        review_status=data["review"]["status"],
        path=where,
        safety_advice=data["review"].get("safety_advice") is True,
    )
    problems = [
        problem(doc.location(tuple(at)), code, text)  # type: ignore[arg-type]
        for at, code, text in check_form(form)
    ]
    if problems:
        raise CompileError(problems)
    return form


def check_form(form: Form) -> list[tuple[list[object], str, Text]]:
    """Rules the schema cannot state; each finding is (YAML path, code, text)."""
    found: list[tuple[list[object], str, Text]] = []
    seen: set[str] = set()
    for index, item in enumerate(form.items):
        at: list[object] = ["items", index]
        if item.id == SCORE_ITEM or item.id in seen:
            found.append(([*at, "id"], "bad-item-id", say("bad-item-id/reserved", item=item.id)))
        seen.add(item.id)
        values = [c.value for c in item.choices]
        if len(set(values)) != len(values):
            found.append(
                ([*at, "choices"], "duplicate-choice", say("duplicate-choice/repeated", item=item.id))
            )
        if item.range is not None and item.range[0] > item.range[1]:
            found.append(([*at, "range"], "bad-range", say("bad-range/min-max", item=item.id)))
        if item.answer is not None and not set(item.answer) <= set(values):
            found.append(([*at, "answer"], "bad-answer", say("bad-answer/not-a-choice", item=item.id)))
        if item.answer is not None and item.type == "single" and len(item.answer) != 1:
            found.append(([*at, "answer"], "bad-answer", say("bad-answer/single", item=item.id)))
        if form.kind == "exam" and item.type in ("single", "multiple") and item.answer is None:
            found.append((at, "missing-answer", say("missing-answer/exam", item=item.id)))
    if form.scoring is not None:
        for item_id in form.scoring.items:
            scored_item = form.item(item_id)
            if scored_item is None or scored_item.type not in ("single", "multiple"):
                found.append(
                    (["scoring", "items"], "bad-scoring", say("bad-scoring/not-a-choice", item=item_id))
                )
            elif form.scoring.method == "sum" and any(c.score is None for c in scored_item.choices):
                found.append((["scoring"], "bad-scoring", say("bad-scoring/every-choice", item=item_id)))
        bands = sorted(form.scoring.bands, key=lambda band: band.min)
        for index, band in enumerate(bands):
            if band.min > band.max or (index and band.min <= bands[index - 1].max):
                found.append((["scoring", "bands"], "bad-band", say("bad-band/overlap", band=band.id)))
    if form.kind == "exam" and (form.scoring is None or form.scoring.method != "correct"):
        found.append((["scoring"], "bad-scoring", say("bad-scoring/exam")))
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
            text = say("form-id-mismatch/stem", form=form.id, stem=path.stem)
            problems.append(problem(Location(str(path)), "form-id-mismatch", text))
        forms[form.id] = form
    if problems:
        raise CompileError(problems)
    return forms
