"""Dry-run: one pregnancy on a virtual clock, over the very ``evaluate()`` production runs.

The clock jumps from event to wake-up to event, never day by day, so a whole pregnancy costs
a few dozen evaluations. Every action that takes effect becomes a row; scheduled actions that
are later replaced or cancelled keep their row with that status.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from carepath.engine import loss
from carepath.engine.clock import format_gestational_age, gestational_days
from carepath.engine.facts import Event, Facts, apply_event
from carepath.engine.her_calendar import HerCalendar
from carepath.engine.library import Library
from carepath.engine.runtime import Emitted, Evaluation, Settings, State, evaluate
from carepath.errors import EvaluationError

#: A pregnancy's dry-run never needs more evaluations than this; a bug that stops the clock must not hang.
MAX_STEPS = 20_000


@dataclass(frozen=True)
class Row:
    """One action in the dry-run timeline (docs/language.md, "The dry-run", lists the JSON fields)."""

    at: datetime
    gestational_age: str
    pathway: str
    version: str
    rule: str
    action: str
    params: Mapping[str, Any]
    dedupe_key: str
    status: str
    why: str = ""
    sequence: int = 0  # emission order: ties in time keep the engine's evaluation order
    channels: tuple[str, ...] = ()  # the rule's narrowing of her channels, if any

    @property
    def summary(self) -> str:
        """What the action is, in a few words: content key, form, task title, tags, colour."""
        params = self.params
        if self.action in ("push", "remind"):
            return str(params.get("content", ""))
        if self.action == "questionnaire":
            return str(params.get("form", ""))
        if self.action == "task":
            return f"{params.get('title', '')} → {params.get('assign', '')} ({params.get('priority', '')})"
        if self.action == "tag":
            added = [f"+{t}" for t in params.get("add", ())]
            return " ".join(added + [f"-{t}" for t in params.get("remove", ())])
        if self.action == "risk":
            colour = params.get("colour") or ("purple" if params.get("purple") else "")
            return f"{colour}: {params.get('reason', '')}"
        return ", ".join(f"{k}={v}" for k, v in params.items())

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "gestational_age": self.gestational_age,
            "pathway": self.pathway,
            "version": self.version,
            "rule": self.rule,
            "action": self.action,
            "params": dict(self.params),
            "dedupe_key": self.dedupe_key,
            "status": self.status,
        }


def event_id(raw: Mapping[str, Any]) -> str:
    """An events file may omit ids; a hash of the event's content stands in."""
    if raw.get("id"):
        return str(raw["id"])
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str)
    return "sha-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


def events_from_file(raw_events: Sequence[Mapping[str, Any]]) -> list[Event]:
    """Checked events-file entries as Events, in ``occurred_at`` order (stable for ties)."""
    events = [
        Event(event_id(raw), raw["type"], datetime.fromisoformat(raw["occurred_at"]), raw.get("data") or {})
        for raw in raw_events
    ]
    return sorted(events, key=lambda e: e.occurred_at)


def timeline(
    library: Library,
    facts: Facts,
    events: Iterable[Event] = (),
    *,
    start: datetime | None = None,
    until: datetime,
    settings: Settings | None = None,
    extra_ticks: Iterable[datetime] = (),
    state: State | None = None,
) -> Iterator[Evaluation]:
    """Every evaluation of one pregnancy from ``start`` (default: her registration) to ``until``.

    The clock visits each event and each wake-up the engine asks for, nothing else, except
    ``extra_ticks``: evaluations at other moments, which must change nothing (the tests
    check it), just as a scheduler that wakes too often must not send twice.

    ``state`` continues a pregnancy from where an earlier run (or the store) left her: her
    facts are the state's, and ``events`` are only those still to come (after ``start``).
    """
    settings = settings or Settings()
    if state is not None:
        facts = state.facts
    start = start or facts.enrolled_at
    pending_events = sorted(events, key=lambda e: e.occurred_at)
    while pending_events and pending_events[0].occurred_at < start:
        facts = apply_event(facts, pending_events.pop(0), settings.scorer)  # history before the window
    ticks = sorted(t for t in extra_ticks if start < t <= until)
    state = State(facts) if state is None else replace(state, facts=facts)
    now: datetime | None = start
    calendar = HerCalendar()  # her anchors and timetables, kept from one evaluation to the next
    for _ in range(MAX_STEPS):
        if now is None or now > until:
            return
        event = pending_events.pop(0) if pending_events and pending_events[0].occurred_at <= now else None
        evaluation = evaluate(library, state, event, now, settings, calendar=calendar)
        yield evaluation
        state = evaluation.state
        while ticks and ticks[0] <= now:
            ticks.pop(0)
        if pending_events and pending_events[0].occurred_at <= now:
            continue  # another event at this very moment: evaluate it next, same clock
        moments = [t for t in (evaluation.next_wakeup,) if t is not None and t > now]
        if pending_events:
            moments.append(pending_events[0].occurred_at)
        if ticks:
            moments.append(ticks[0])
        now = min(moments) if moments else None
    raise EvaluationError(f"the dry-run did not finish in {MAX_STEPS} steps", code="dry-run-stuck")


def dry_run(
    library: Library,
    facts: Facts,
    events: Iterable[Event] = (),
    *,
    start: datetime | None = None,
    until: datetime,
    settings: Settings | None = None,
    extra_ticks: Iterable[datetime] = (),
) -> list[Row]:
    """Every action from ``start`` to ``until``, in time order (see ``timeline``)."""
    settings = settings or Settings()
    rows: dict[str, Row] = {}
    for evaluation in timeline(
        library, facts, events, start=start, until=until, settings=settings, extra_ticks=extra_ticks
    ):
        now = evaluation.state.evaluated_at
        if evaluation.loss is not None and now is not None:
            _loss_hold(rows, evaluation.loss, now)
        held = evaluation.state.facts.loss_suspected
        for emitted in evaluation.actions:
            if emitted.dedupe_key not in rows:
                row = _row(emitted, evaluation.state.facts, settings, len(rows))
                rows[emitted.dedupe_key] = _with_status(row, "held") if held and _to_her(row) else row
        for cancelled in evaluation.cancellations:
            if cancelled.dedupe_key in rows:
                rows[cancelled.dedupe_key] = _with_status(rows[cancelled.dedupe_key], cancelled.status)
    return sorted(
        (row for row in rows.values() if row.at <= until),
        key=lambda r: (r.at, r.sequence),
    )


def _row(emitted: Emitted, facts: Facts, settings: Settings, sequence: int) -> Row:
    edd = facts.edd
    local_day = settings.window.local_date(emitted.at)
    ga = format_gestational_age(gestational_days(edd, local_day)) if edd else ""
    return Row(
        at=emitted.at,
        gestational_age=ga,
        pathway=emitted.pathway_id,
        version=emitted.version,
        rule=emitted.rule_id,
        action=emitted.kind,
        params=emitted.params,
        dedupe_key=emitted.dedupe_key,
        status="due",
        why=emitted.why,
        sequence=sequence,
        channels=emitted.channels,
    )


#: The actions that are messages to her (the outbox rows the dispatcher delivers).
MESSAGES = frozenset({"push", "remind", "questionnaire"})


def _to_her(row: Row) -> bool:
    return row.action in MESSAGES


def _loss_hold(rows: dict[str, Row], change: str, now: datetime) -> None:
    """Issue 16 item 7, as the store does it (engine/loss.py): a suspected loss holds every
    message to her not yet sent (``held``); ``loss.confirmed`` cancels every message not yet
    sent; ``loss.rejected`` releases those whose moment is still ahead and skips the others
    (``skipped``, reason stale-after-hold). Runs before the evaluation's own actions are added,
    which are not touched (the follow-up a confirmation starts is sent)."""
    for key, row in list(rows.items()):
        if not _to_her(row):
            continue
        unsent = row.status == "held" or (row.status == "due" and row.at >= now)
        if change == loss.HELD and row.status == "due" and row.at >= now:
            rows[key] = _with_status(row, "held")
        elif change == loss.CONFIRMED and unsent:
            rows[key] = _with_status(row, "cancelled")
        elif change == loss.LIFTED and row.status == "held":
            rows[key] = _with_status(row, "due" if row.at > now else "skipped")


def _with_status(row: Row, status: str) -> Row:
    return Row(**{**row.__dict__, "status": status})
