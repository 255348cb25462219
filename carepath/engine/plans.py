"""Staff enrol a pregnancy in a pathway, or end her enrolment, by hand (issue 16 item 4).

``plan.enrol_requested`` and ``plan.end_requested`` are a clinician's decisions, posted like any
HIS event (docs/language.md, "Enrolment by hand"). The runtime applies them after exits and
before audiences, so ``on: enrolled`` rules, exits and the cancellation of pending actions
behave as for any enrolment. The rule this module keeps:

- a request enrols her in the pathway's current version whatever its audience says (the
  audience never ends an enrolment, so it cannot undo a clinician's decision either); she is
  not enrolled when the pathway's exit condition already holds, as for an audience;
- an enrolment ended by hand stays ended for the pregnancy: neither the pathway's audience
  (which enrols once per pregnancy) nor an ``enroll`` action of another pathway enrols her
  in it again, only a new ``plan.enrol_requested``;
- a request that changes nothing (already enrolled, not enrolled, the exit holds) is a
  ``PlanNote`` in the evaluation, reported to whoever asked, never an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

ENROL = "plan.enrol_requested"
END = "plan.end_requested"
REQUESTS = frozenset({ENROL, END})

#: Codes of a request that changed nothing.
ALREADY_ENROLLED = "already-enrolled"
NOT_ENROLLED = "not-enrolled"
EXIT_HOLDS = "exit-condition-holds"

#: The enrolment's reason is kept in a column of 200 characters.
_REASON_LIMIT = 200


@dataclass(frozen=True)
class PlanNote:
    """A staff request that changed nothing, and why."""

    code: str  # ALREADY_ENROLLED, NOT_ENROLLED or EXIT_HOLDS
    pathway: str
    event_id: str


class _Enrolment(Protocol):
    @property
    def pathway_id(self) -> str: ...
    @property
    def ended_by_staff(self) -> bool: ...


def _reason_text(prefix: str, data: Mapping[str, Any]) -> str:
    who = str(data.get("requested_by", ""))
    code = data.get("reason_code")
    text = f"{prefix} ({who}{', ' + str(code) if code else ''}): {data.get('reason', '')}"
    return text[:_REASON_LIMIT]


def enrol_reason(data: Mapping[str, Any]) -> str:
    """The enrolment's reason: who asked, and why."""
    return _reason_text("enrolled by staff", data)


def end_reason(data: Mapping[str, Any]) -> str:
    """The ended enrolment's reason (also the ``exited`` event's): who asked, the code, why."""
    return _reason_text("ended by staff", data)


def ended_by_staff(enrolments: Iterable[_Enrolment], pathway_id: str) -> bool:
    """Her latest enrolment in the pathway was ended by hand: only staff may enrol her again."""
    latest = None
    for enrolment in enrolments:
        if enrolment.pathway_id == pathway_id:
            latest = enrolment
    return latest is not None and latest.ended_by_staff
