"""What ``evaluate()`` (``runtime.py``) takes and returns: its settings, her state between
evaluations (facts, enrolments, pending actions) and one evaluation's outcome.

Plain frozen values, kept apart from the evaluation itself so that the store, the dry-run and
the staff pages can read them without the machinery that produces them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from carepath.engine import plans
from carepath.engine.event_forms import EvaluationProblem
from carepath.engine.facts import Facts, Scorer, Tagger
from carepath.engine.spec import Pathway
from carepath.engine.timing import SendWindow


@dataclass(frozen=True)
class Settings:
    window: SendWindow = field(default_factory=SendWindow)
    scorer: Scorer | None = None
    #: Adds the tags of her chosen answers when a form arrives (None: answers carry no tags).
    tagger: Tagger | None = None
    max_chain_depth: int = 8
    #: Published form ids a form named by an event must be one of (None: the built-in forms).
    forms: frozenset[str] | None = None


@dataclass(frozen=True)
class Enrolment:
    id: str
    pathway_id: str
    version: str
    started_at: datetime
    ended_at: datetime | None = None
    reason: str = ""
    #: Issue 16 item 4 (plans): begun by a staff request (plan.enrol_requested), not an audience.
    manual: bool = False
    #: Ended by a staff request (plan.end_requested): only staff may enrol her in it again.
    ended_by_staff: bool = False

    @property
    def active(self) -> bool:
        return self.ended_at is None


@dataclass(frozen=True)
class Emitted:
    """An action that takes effect at ``at`` (or, while ``at`` is ahead, is pending)."""

    dedupe_key: str
    pathway_id: str
    version: str
    rule_id: str
    kind: str
    params: Mapping[str, Any]
    at: datetime
    enrolment_id: str
    occurrence: str
    slot: str | None = None
    channels: tuple[str, ...] = ()
    why: str = ""


@dataclass(frozen=True)
class Cancellation:
    dedupe_key: str
    status: str  # "cancelled" (her enrolment ended) or "replaced" (a newer action took its slot)
    reason: str
    replaced_by: str | None = None


@dataclass(frozen=True)
class State:
    """Her state between evaluations; the store persists exactly this."""

    facts: Facts
    enrolments: tuple[Enrolment, ...] = ()
    pending: tuple[Emitted, ...] = ()
    evaluated_at: datetime | None = None


@dataclass(frozen=True)
class Evaluation:
    actions: tuple[Emitted, ...]
    cancellations: tuple[Cancellation, ...]
    state: State
    next_wakeup: datetime | None
    enrolled: tuple[Enrolment, ...] = ()
    exited: tuple[Enrolment, ...] = ()
    #: The trigger repeated her facts (``facts.repeats``): recorded, no event rule fired.
    repeat: bool = False
    #: Located problems that did not stop the evaluation (a form an event named is unknown).
    problems: tuple[EvaluationProblem, ...] = ()
    #: Dedupe key -> when a message to her fired, for those whose notice the send window
    #: moved later: her inbox copy is filed when it fires (issue 16 item 11). Only the outbox
    #: row needs it, never her state.
    fired_at: Mapping[str, datetime] = field(default_factory=lambda: MappingProxyType({}))
    #: Staff requests (plan.enrol_requested / plan.end_requested) that changed nothing, and why.
    plan_notes: tuple[plans.PlanNote, ...] = ()
    #: Issue 16 item 7 (loss.py): the hold on her messages began (``held``), ended with the
    #: pregnancy (``confirmed``) or lifted (``lifted``); None: unchanged.
    loss: str | None = None


def dedupe_key(pregnancy_id: str, pathway: Pathway, rule_id: str, occurrence: str, index: int) -> str:
    """docs/language.md, "Dedupe key": pregnancy, pathway and version, rule, occurrence, action index."""
    return f"{pregnancy_id}/{pathway.id}@{pathway.version}/{rule_id}/{occurrence}/{index}"
