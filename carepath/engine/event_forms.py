"""A form named by the event (issue 16 item 3): ``questionnaire: {form: {event_field: exam_form}}``.

The compiler has checked that the rule's event type names a form in that field
(``x-names: form`` in events.schema.json); which form is known only when the event comes. A form
that is not published is never a silent skip: the action becomes a task for the school's staff,
saying which rule, event and form, and the evaluation reports it as a located problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from types import MappingProxyType

from carepath.engine.facts import Event
from carepath.engine.form_loader import load_forms
from carepath.engine.spec import Action, Pathway, Rule

#: The code of the problem and of the task it opens (the compiler's word for an unknown form).
CODE = "unknown-form"


@dataclass(frozen=True)
class EvaluationProblem:
    """What went wrong in one action of one rule, located as pathway@version/rule/do[i]/…."""

    code: str
    location: str
    message: str


@cache
def published_forms() -> frozenset[str]:
    """The built-in forms (those the store scores and serves); read once per process."""
    return frozenset(load_forms())


def named_field(action: Action) -> str | None:
    """The event field a questionnaire takes its form from, or None (a form named in the rule)."""
    chosen = action.params.get("form")
    if action.kind != "questionnaire" or not isinstance(chosen, Mapping):
        return None
    return str(chosen["event_field"])


def resolve(
    pathway: Pathway, rule: Rule, action: Action, event: Event | None, forms: frozenset[str] | None
) -> tuple[Action, EvaluationProblem | None]:
    """The questionnaire with the form the event names, or a staff task and the problem."""
    field = named_field(action)
    if field is None:
        return action, None
    known = published_forms() if forms is None else forms
    value = event.data.get(field) if event is not None else None
    if isinstance(value, str) and value in known:
        return replace(action, params=MappingProxyType({**action.params, "form": value})), None
    location = f"{pathway.id}@{pathway.version}/{rule.id}/do[{action.index}]/questionnaire/form"
    event_text = f"{event.type} {event.id}" if event is not None else "no event"
    problem = EvaluationProblem(
        CODE,
        location,
        f"{event_text} names the form {value!r} in {field}, which is not a published form",
    )
    task = Action(
        "task",
        action.index,
        MappingProxyType(
            {
                "title": "考试表单未能发送，请核对",
                "assign": "school",
                "priority": "high",
                "due": "1d",
                "script": (
                    f"规则 {pathway.id}/{rule.id} 要发送事件 {event_text} 的 {field} 字段指定的表单"
                    f"“{value if value is not None else '（空）'}”，但没有已发布的这个表单。"
                    f"请核对课程的考试表单设置，并为她手动发送考试。（{CODE}：{location}）"
                ),
            }
        ),
    )
    return task, problem
