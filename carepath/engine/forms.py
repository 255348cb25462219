"""Forms: questionnaires, exams and surveys, loaded from YAML, validated, scored.

A form's answers become facts ``answers.<form>.<item>``; a scored form also yields
``answers.<form>.score`` (its total), which is why ``score`` is never an item id and why
``Form.item_ids`` lists it beside the items. Scoring is data, never code: ``sum`` adds the
scores of the chosen choices (reverse-scored items simply list their scores in reverse);
``correct`` counts an exam's right answers. Bands label the total; flags come from bands and
from per-item rules (``fasting_glucose >= 5.3``, any positive answer to EPDS item 10).
"""

from carepath.engine.form_loader import FORMS_DIRECTORY, check_form, load_forms, parse_form
from carepath.engine.form_scoring import make_scorer, make_tagger, score, validate_answer, validate_answers
from carepath.engine.form_spec import (
    SCORE_ITEM,
    VALUE_TYPES,
    Band,
    Choice,
    FlagRule,
    Form,
    FormItem,
    ScoreResult,
    Scoring,
)

__all__ = [
    "FORMS_DIRECTORY",
    "SCORE_ITEM",
    "VALUE_TYPES",
    "Band",
    "Choice",
    "FlagRule",
    "Form",
    "FormItem",
    "ScoreResult",
    "Scoring",
    "check_form",
    "load_forms",
    "make_scorer",
    "make_tagger",
    "parse_form",
    "score",
    "validate_answer",
    "validate_answers",
]
