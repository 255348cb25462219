"""Score and validate her answers to a form; pure functions of the form and the answers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from carepath.engine.form_loader import load_forms
from carepath.engine.form_spec import Band, Form, FormItem, ScoreResult, is_number


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


#: The longest free-text answer (a note, not an essay); what the message about it starts with.
MAX_TEXT = 2000
TOO_LONG = "at most"


def validate_answer(item: FormItem, value: object) -> str | None:
    """Why one answer does not fit its item, or None if it does."""
    if item.type == "number":
        if not is_number(value):
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
    if not isinstance(value, str):
        return f"{item.id}: text is required"
    if len(value) > MAX_TEXT:
        return f"{item.id}: {TOO_LONG} {MAX_TEXT:,} characters ({len(value):,} given)"
    return None


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


def make_scorer(
    forms: Mapping[str, Form] | None = None,
) -> Callable[[str, Mapping[str, object]], float | None]:
    """The runtime's scorer: form id and answers -> ``answers.<form>.score``.

    None for an unknown or unscored form, and for an incomplete submission, so that a
    pathway leaf such as ``answer: {form: epds, item: score, gte: 13}`` stays false rather
    than reading a partial total.
    """
    if forms is None:
        forms = load_forms()
    library = forms

    def scorer(form_id: str, answers: Mapping[str, object]) -> float | None:
        form = library.get(form_id)
        if form is None or form.scoring is None:
            return None
        result = score(form, answers)
        return result.total if result.complete else None

    return scorer


def make_tagger(
    forms: Mapping[str, Form] | None = None,
) -> Callable[[str, Mapping[str, object]], tuple[str, ...]]:
    """The runtime's tagger: form id and answers -> the tags her chosen choices carry.

    Issue 17 item 4: what she tells us at registration must act. The runtime adds these tags
    to her facts when the response arrives and raises ``tag.added`` for each new one, so
    audiences (a 瘢痕子宫 answer enrols the scar plan) and rules see them in the same
    evaluation (and so in the store's transaction). An unknown form gives no tags.
    """
    if forms is None:
        forms = load_forms()
    library = forms

    def tagger(form_id: str, answers: Mapping[str, object]) -> tuple[str, ...]:
        form = library.get(form_id)
        return () if form is None else score(form, answers).tags

    return tagger
