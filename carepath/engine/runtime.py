"""``evaluate()``: the pure function at the heart of carepath.

Given compiled pathways, one pregnancy's state, a trigger (an event, or None for a clock
tick) and ``now``, it returns what takes effect: actions with their dedupe keys, the pending
scheduled actions it cancels or replaces, the new state and the next wake-up. It never reads
the wall clock, a database or the network, so the dry-run, the cohort simulation and
production run the very same code.

Order for one trigger (docs/language.md, "Evaluation order"): apply the event to her facts; check
exits; check audiences; then rules, by pathway id and declaration order, all against one
snapshot. ``tag``, ``risk`` and ``enroll`` change the facts afterwards and raise internal
events, evaluated next, to a depth of 8. An event that only repeats her facts (``facts.repeats``:
a diagnosis already active, a tag she has) is applied and its exits and audiences are checked,
but it fires no ``on: {event: ...}`` rule.

The compiled pathways it evaluates against are a ``Library`` (``library.py``); when a timed
rule fires and when an action takes effect is ``scheduling.py``'s arithmetic.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from carepath.engine import event_forms, loss, plans
from carepath.engine.event_forms import EvaluationProblem
from carepath.engine.facts import (
    Event,
    Facts,
    Grade,
    apply_event,
    date_facts,
    event_view,
    repeats,
    risk_level,
    snapshot,
)
from carepath.engine.firings import Firing, Step, describe_trigger
from carepath.engine.her_calendar import HerCalendar, Planned, planned_source
from carepath.engine.library import Library, Loaded

# The values evaluate() takes and returns live in run_state.py; they are imported from here too.
from carepath.engine.run_state import (
    Cancellation,
    Emitted,
    Enrolment,
    Evaluation,
    Settings,
    State,
    dedupe_key,
)
from carepath.engine.scheduling import TO_HER, due_occurrences, is_urgent, takes_effect
from carepath.engine.spec import (
    DELIVERABLE_KINDS,
    Action,
    OnEvent,
    Pathway,
    Rule,
)
from carepath.engine.timing import Anchors, Timetable
from carepath.engine.wakeups import Boundaries
from carepath.errors import EvaluationError

__all__ = [
    "Cancellation",
    "Emitted",
    "Enrolment",
    "Evaluation",
    "Settings",
    "State",
    "dedupe_key",
    "describe_trigger",
    "evaluate",
]


#: What keeps the audiences and exits found false within one evaluation (a test swaps in one
#: that keeps nothing, to show the keeping changes no outcome).
_kept_checks: type[dict[str, Facts]] = dict


class _Run:
    """The mutable working state of one evaluate() call."""

    def __init__(
        self, library: Library, state: State, now: datetime, settings: Settings, calendar: HerCalendar
    ) -> None:
        self.library = library
        self.calendar = calendar
        self.settings = settings
        self.window = settings.window
        self.now = now
        self.today = self.window.local_date(now)
        self.facts = state.facts
        self.previous = state.evaluated_at
        self.enrolments = list(state.enrolments)
        self.pending = [p for p in state.pending if p.at > now]
        self.emitted: list[Emitted] = []
        self.emitted_keys: set[str] = set()
        self.fired_at: dict[str, datetime] = {}
        self.cancellations: list[Cancellation] = []
        self.enrolled: list[Enrolment] = []
        self.exited: list[Enrolment] = []
        self.problems: list[EvaluationProblem] = []
        self.plan_notes: list[plans.PlanNote] = []
        self.queue: deque[Step] = deque()
        self._plans: dict[str, Planned] = {}
        # Worked out once and kept until an enrolment begins or ends, or her facts change.
        self._by_pathway: list[tuple[Enrolment, Loaded]] | None = None
        self._seen: set[str] | None = None
        self._view: tuple[Facts, dict[str, Any]] | None = None
        self._dates: dict[str, date | None] | None = None
        # Audiences (by pathway) and exits (by enrolment) found not to hold, with the facts they
        # were checked against: later steps of the chain with the same facts object skip them.
        # Exact: without an ``event`` condition (``entry_reads_event``) they read only her facts
        # and today, and her facts are replaced, never changed in place.
        self._no_audience: dict[str, Facts] = _kept_checks()
        self._no_exit: dict[str, Facts] = _kept_checks()
        self.repeat = False

    # --- the chain ---

    def run(self, event: Event | None) -> None:
        if event is not None:
            self.repeat = repeats(self.facts, event)  # against her facts *before* the event
            self.facts = apply_event(self.facts, event, self.settings.scorer)
        occurrence = event.id if event is not None else f"tick-{self.today.isoformat()}"
        first_step = Step(event, 0, occurrence, (), repeat=self.repeat)
        self.queue.append(first_step)
        if event is not None:
            self._loss_follows(event, first_step)
            self._answer_tags(event, first_step)
        pre_existing = {e.id for e in self.enrolments if e.active}
        first = True
        while self.queue:
            step = self.queue.popleft()
            if step.depth > self.settings.max_chain_depth:
                raise EvaluationError(
                    "a chain of internal events is deeper than "
                    f"{self.settings.max_chain_depth}: {' -> '.join(step.chain)}",
                    code="chain-too-deep",
                )
            self._step(step, timed_for=pre_existing if first else set())
            first = False

    def _loss_follows(self, event: Event, step: Step) -> None:
        """Issue 16 item 7 (loss.py): a loss code raises ``loss.suspected`` (and holds her
        messages); ``loss.confirmed`` raises ``pregnancy.ended`` with its reason."""
        if event.type == "diagnosis.added" and not self.repeat:
            code = str(event.data["code"])
            if loss.raises_suspicion(self.facts, code):  # a diagnosis changes neither status nor hold
                self.facts = replace(self.facts, loss_suspected=True)
                self._raise(loss.SUSPECTED, {"code": code, "source": "diagnosis"}, step, f"diagnosis {code}")
        elif event.type == loss.CONFIRMED_EVENT:
            reason = str(event.data.get("reason") or "")
            self._raise("pregnancy.ended", {"reason": reason}, step, loss.CONFIRMED_EVENT)

    def _answer_tags(self, event: Event, step: Step) -> None:
        """Issue 17 item 4: the tags her chosen choices carry (a registration screen's 瘢痕子宫,
        心脏病 ...) join her facts before any rule looks, and each new one raises ``tag.added``,
        as a ``tag`` action's would. A tag is never removed by a later answer: staff do that."""
        if event.type != "questionnaire.submitted" or self.settings.tagger is None or self.repeat:
            return
        form = str(event.data.get("form", ""))
        for tag in self.settings.tagger(form, event.data.get("answers") or {}):
            if tag not in self.facts.tags:
                self.facts = replace(self.facts, tags=self.facts.tags | {tag})
                self._raise("tag.added", {"tag": tag}, step, f"form {form}")

    def _snapshot(self, event: Event | None) -> dict[str, Any]:
        """Her snapshot for one step: the steps of one evaluation mostly share her facts and
        differ only in their event, so the view of her facts is built once per change."""
        view = self._view
        if view is None or view[0] is not self.facts:
            lasting = self.calendar.lasting(self.facts)
            view = self._view = (self.facts, snapshot(self.facts, self.today, lasting=lasting))
        if event is None:
            return view[1]
        return {**view[1], "event": event_view(event)}

    def _step(self, step: Step, timed_for: set[str]) -> None:
        snap = self._snapshot(step.event)
        self._exits(snap, step)
        if step.depth == 0 and step.event is not None and step.event.type in plans.REQUESTS:
            self._staff_request(snap, step, step.event)
        self._audiences(snap, step)
        effects: list[tuple[Emitted, Action, Rule]] = []
        for enrolment, loaded in self._active_by_pathway():
            pathway = loaded.pathway
            firings = self._event_firings(loaded, enrolment, step)
            if enrolment.id in timed_for or (step.enrolment_id == enrolment.id):
                firings += self._timed_firings(loaded, enrolment)
            if not firings:
                continue
            holding = loaded.matcher.holding(snap, sorted({f.rule.id for f in firings}))
            order = loaded.rule_order
            firings.sort(key=lambda f: (order[f.rule.id], f.at))
            for firing in firings:
                if firing.rule.id not in holding:
                    continue
                for action in firing.rule.actions:
                    emitted = self._emit(pathway, enrolment, firing, action)
                    if emitted is not None and action.kind not in DELIVERABLE_KINDS:
                        effects.append((emitted, action, firing.rule))
        for emitted, action, rule in effects:
            self._apply_effect(emitted, action, rule, step)

    def _active(self) -> list[Enrolment]:
        return [e for e in self.enrolments if e.active]

    def _active_by_pathway(self) -> list[tuple[Enrolment, Loaded]]:
        """Her active enrolments by pathway id (the evaluation order), with their pathways."""
        found = self._by_pathway
        if found is None:
            active = sorted(self._active(), key=lambda e: e.pathway_id)
            found = self._by_pathway = [(e, self._loaded(e)) for e in active]
        return found

    def _loaded(self, enrolment: Enrolment) -> Loaded:
        return self.library.loaded(enrolment.pathway_id, enrolment.version)

    # --- exits and audiences ---

    def _only_time_moved(self, step: Step) -> bool:
        """A clock tick after an earlier evaluation: her facts are those that were checked
        then, so only conditions on calendar-moving facts (GA, days since delivery) can have
        changed. Skipping the others is exact, and most evaluations are such ticks."""
        return step.depth == 0 and step.event is None and self.previous is not None

    def _exits(self, snap: Mapping[str, Any], step: Step) -> None:
        only_time = self._only_time_moved(step)
        facts, no_exit = self.facts, self._no_exit
        for enrolment, loaded in self._active_by_pathway():
            if only_time and not loaded.calendar_exit:
                continue
            if no_exit.get(enrolment.id) is facts:
                continue  # checked at an earlier step of this chain, against these very facts
            if loaded.matcher.exit(snap):
                self._end(enrolment, "exit condition met", step)
            elif not loaded.entry_reads_event:
                no_exit[enrolment.id] = facts

    def _end(self, enrolment: Enrolment, reason: str, step: Step, *, by_staff: bool = False) -> None:
        ended = replace(enrolment, ended_at=self.now, reason=reason, ended_by_staff=by_staff)
        self.enrolments[self.enrolments.index(enrolment)] = ended
        self._by_pathway = None
        self.exited.append(ended)
        for pending in [p for p in self.pending if p.enrolment_id == enrolment.id]:
            self.pending.remove(pending)
            self.cancellations.append(
                Cancellation(pending.dedupe_key, "cancelled", f"exited {enrolment.pathway_id}")
            )
        self._raise(
            "exited",
            {"pathway": enrolment.pathway_id, "reason": reason},
            step,
            f"{enrolment.pathway_id}:exit",
        )

    def _audiences(self, snap: Mapping[str, Any], step: Step) -> None:
        if self._seen is None:
            self._seen = {e.pathway_id for e in self.enrolments}
        seen = self._seen
        only_time = self._only_time_moved(step)
        facts, no_audience = self.facts, self._no_audience
        for loaded in self.library.ordered():
            pathway_id = loaded.pathway.id
            if pathway_id in seen:
                continue  # audiences enrol once per pregnancy; `enroll` actions may re-enrol
            if only_time and not loaded.calendar_entry:
                continue
            if no_audience.get(pathway_id) is facts:
                continue  # not for her at an earlier step of this chain, with these very facts
            if loaded.matcher.audience(snap) and not loaded.matcher.exit(snap):
                self._enrol(loaded.pathway, step, "audience")
            elif not loaded.entry_reads_event:
                no_audience[pathway_id] = facts

    def _enrol(self, pathway: Pathway, step: Step, cause: str, *, manual: bool = False) -> Enrolment:
        number = sum(1 for e in self.enrolments if e.pathway_id == pathway.id) + 1
        enrolment = Enrolment(
            id=f"{self.facts.pregnancy_id}/{pathway.id}#{number}",
            pathway_id=pathway.id,
            version=pathway.version,
            started_at=self.now,
            reason=cause,
            manual=manual,
        )
        self.enrolments.append(enrolment)
        self._by_pathway = self._seen = None
        self.enrolled.append(enrolment)
        event = Event(enrolment.id, "enrolled", self.now, MappingProxyType({"pathway": pathway.id}))
        self.queue.append(
            Step(event, step.depth + 1, enrolment.id, (*step.chain, f"{pathway.id}:enrolled"), enrolment.id)
        )
        return enrolment

    def _staff_request(self, snap: Mapping[str, Any], step: Step, event: Event) -> None:
        """Issue 16 item 4 (plans.py): enrol her by hand, or end her enrolment, in one pathway."""
        pathway_id = str(event.data["pathway"])
        target = self.library.current.get(pathway_id)
        if target is None:
            raise EvaluationError(
                f"{event.type} {event.id} names unknown pathway {pathway_id}", code="unknown-pathway"
            )
        active = next((e for e in self._active() if e.pathway_id == pathway_id), None)
        note = None
        if event.type == plans.ENROL:
            if active is not None:
                note = plans.ALREADY_ENROLLED
            elif self.library.loaded(target.id, target.version).matcher.exit(snap):
                note = plans.EXIT_HOLDS
            else:  # the audience is not asked: a clinician decided
                self._enrol(target, step, plans.enrol_reason(event.data), manual=True)
        elif active is None:
            note = plans.NOT_ENROLLED
        else:
            self._end(active, plans.end_reason(event.data), step, by_staff=True)
        if note is not None:
            self.plan_notes.append(plans.PlanNote(note, pathway_id, event.id))

    # --- triggers ---

    def _event_firings(self, loaded: Loaded, enrolment: Enrolment, step: Step) -> list[Firing]:
        event = step.event
        if event is None or step.repeat:
            return []
        firings = []
        if event.type == "enrolled" and step.enrolment_id == enrolment.id:
            firings += [Firing(rule, enrolment.id, self.now) for rule in loaded.on_enrolled]
        for rule in loaded.on_event.get(event.type, ()):
            trigger = rule.trigger
            assert isinstance(trigger, OnEvent)
            if all(event.data.get(k) == v for k, v in trigger.filters):
                firings.append(Firing(rule, step.occurrence, self.now, event))
        return firings

    def _plan(self, enrolment: Enrolment, loaded: Loaded | None = None) -> Planned:
        """Her anchors and timetable for this enrolment: one look-up per evaluation (her dates
        don't move within one), and from her calendar when an earlier evaluation found them.

        Her EDD and delivery date change only with the event applied before the first step,
        so one entry per enrolment serves the whole evaluation."""
        plan = self._plans.get(enrolment.id)
        if plan is None:
            facts = self.facts
            edd, delivered, window = facts.edd, facts.delivery_date, self.window
            source = planned_source(loaded, edd, delivered, enrolment.started_at, window)
            plan = self.calendar.planned(
                enrolment.id,
                source,
                lambda: Anchors(edd, delivered, window.local_date(enrolment.started_at)),
            )
            self._plans[enrolment.id] = plan
        return plan

    def _anchors(self, enrolment: Enrolment) -> Anchors:
        return self._plan(enrolment, self._loaded(enrolment)).anchors

    def _timetable(self, plan: Planned, loaded: Loaded) -> Timetable:
        if plan.timetable is None:
            plan.timetable = self.library.timetable(loaded, plan.anchors, self.window)
        return plan.timetable

    def _timed_firings(self, loaded: Loaded, enrolment: Enrolment) -> list[Firing]:
        """Occurrences since the last evaluation, after the catch-up policy."""
        since = self.previous if self.previous is not None and enrolment.started_at <= self.previous else None
        plan = self._plans.get(enrolment.id) or self._plan(enrolment, loaded)
        upcoming = plan.upcoming
        if since is not None and plan.looked_at == since and (upcoming is None or upcoming > self.now):
            return []  # only the clock moved, and not as far as this pathway's next occurrence
        occurrences = self._timetable(plan, loaded).between(since, self.now)
        if not occurrences:
            return []  # the common case: nothing of this pathway fell due since the last look
        due = due_occurrences(occurrences, plan.anchors.enrolled_on, self.now, self.window)
        return [Firing(rule, self.window.local_date(t).isoformat(), t) for rule, t in due]

    # --- actions ---

    def _emit(self, pathway: Pathway, enrolment: Enrolment, firing: Firing, action: Action) -> Emitted | None:
        action, problem = event_forms.resolve(
            pathway, firing.rule, action, firing.event, self.settings.forms
        )  # item 3: a form the event names, or a staff task when it is not published
        if problem is not None:
            self.problems.append(problem)
        at = self.now
        fired: datetime | None = None
        if action.kind in DELIVERABLE_KINDS:
            data = firing.event.data if firing.event is not None else None
            anchors = self._anchors(enrolment)
            placed = takes_effect(action, anchors, self.now, self.today, self.window, event_data=data)
            if placed is None:
                return None
            at = placed
            fired = placed  # the window moves only messages to her, and never an urgent one
            if action.kind in TO_HER and not is_urgent(action):
                fired = takes_effect(
                    action, anchors, self.now, self.today, self.window, event_data=data, placed=False
                )
        emitted = Emitted(
            dedupe_key=dedupe_key(
                self.facts.pregnancy_id, pathway, firing.rule.id, firing.occurrence, action.index
            ),
            pathway_id=pathway.id,
            version=pathway.version,
            rule_id=firing.rule.id,
            kind=action.kind,
            params=action.params,
            at=at,
            enrolment_id=enrolment.id,
            occurrence=firing.occurrence,
            slot=action.schedule.slot if action.schedule else None,
            channels=action.channels,
            why=firing.why,
        )
        if emitted.dedupe_key in self.emitted_keys:
            # Two internal events of one chain fired the same occurrence: deliver once, but
            # keep applying fact changes, so that a real loop runs into the depth limit.
            return None if action.kind in DELIVERABLE_KINDS else emitted
        self.emitted_keys.add(emitted.dedupe_key)
        if fired is not None and fired < at:
            self.fired_at[emitted.dedupe_key] = fired
        if emitted.slot and at > self.now:
            for pending in [
                p for p in self.pending if p.enrolment_id == enrolment.id and p.slot == emitted.slot
            ]:
                if pending.dedupe_key == emitted.dedupe_key:
                    continue
                self.pending.remove(pending)
                self.cancellations.append(
                    Cancellation(pending.dedupe_key, "replaced", f"slot {emitted.slot}", emitted.dedupe_key)
                )
        if at > self.now:
            self.pending = [p for p in self.pending if p.dedupe_key != emitted.dedupe_key] + [emitted]
        self.emitted.append(emitted)
        return emitted

    def _apply_effect(self, emitted: Emitted, action: Action, rule: Rule, step: Step) -> None:
        """tag, risk and enroll change her facts after the step and raise internal events."""
        params: Mapping[str, Any] = action.params
        cause = f"{emitted.pathway_id}/{rule.id}"
        if action.kind == "tag":
            for tag in params.get("add", ()):
                if tag not in self.facts.tags:
                    self.facts = replace(self.facts, tags=self.facts.tags | {tag})
                    self._raise("tag.added", {"tag": tag}, step, cause, emitted.occurrence)
            for tag in params.get("remove", ()):
                if tag in self.facts.tags:
                    self.facts = replace(self.facts, tags=self.facts.tags - {tag})
                    self._raise("tag.removed", {"tag": tag}, step, cause, emitted.occurrence)
        elif action.kind == "risk":
            self._apply_risk(params, step, cause, emitted.occurrence)
        elif action.kind == "enroll":
            target = self.library.current.get(str(params["pathway"]))
            if target is None:
                raise EvaluationError(
                    f"{cause} enrols in unknown pathway {params['pathway']}", code="unknown-pathway"
                )
            if not any(e.active and e.pathway_id == target.id for e in self.enrolments) and not (
                plans.ended_by_staff(self.enrolments, target.id)  # staff ended it: staff re-enrol
            ):
                self._enrol(target, replace(step, chain=(*step.chain, cause)), f"enrolled by {cause}")

    def _apply_risk(self, params: Mapping[str, Any], step: Step, cause: str, occurrence: str) -> None:
        """A ``risk`` action suggests a colour (issue 16 item 5): it is kept, with the rule that
        suggested it and when, if it is higher than the suggestion since the last confirmation
        (or ``lower: true``); conditions see it only when it is above the confirmed colour."""
        previous = (self.facts.risk_colour, self.facts.purple)
        colour = params.get("colour")
        if colour is not None:
            current = self.facts.suggested_risk
            if (
                current is None
                or risk_level(colour) > risk_level(current.colour)
                or (params.get("lower") and colour != current.colour)
            ):
                grade = Grade(colour, self.now, cause, str(params.get("reason", "")))
                self.facts = replace(self.facts, suggested_risk=grade)
        if params.get("purple") is True and not self.facts.purple:
            self.facts = replace(self.facts, purple=True)
        elif params.get("purple") is False and params.get("lower") and self.facts.purple:
            self.facts = replace(self.facts, purple=False)
        if (self.facts.risk_colour, self.facts.purple) != previous:
            data = {
                "colour": self.facts.risk_colour,
                "purple": self.facts.purple,
                "previous": previous[0],
                "reason": params.get("reason", ""),
            }
            self._raise("risk.changed", data, step, cause, occurrence)

    def _raise(
        self, kind: str, data: dict[str, Any], step: Step, cause: str, occurrence: str | None = None
    ) -> None:
        event = Event(f"{step.occurrence}:{kind}", kind, self.now, MappingProxyType(data))
        self.queue.append(Step(event, step.depth + 1, occurrence or step.occurrence, (*step.chain, cause)))

    # --- the result ---

    def next_wakeup(self) -> datetime | None:
        candidates: list[datetime] = [p.at for p in self.pending if p.at > self.now]
        now = self.now
        for enrolment, loaded in self._active_by_pathway():
            plan = self._plans.get(enrolment.id) or self._plan(enrolment, loaded)
            looked_at, upcoming = plan.looked_at, plan.upcoming
            if looked_at is None or looked_at > now or (upcoming is not None and upcoming <= now):
                upcoming = self._timetable(plan, loaded).next_after(now)
            # else: the first occurrence after the last look is still ahead, so it is the first
            # after now too (none fell in between), and her calendar keeps it for the next tick.
            plan.looked_at, plan.upcoming = now, upcoming
            if upcoming is not None:
                candidates.append(upcoming)
            if loaded.calendar_exit:
                key = (loaded.pathway.id, loaded.pathway.version, enrolment.id)
                candidates += self._condition_wakeups(key, (loaded.exit_bounds,), enrolment, loaded)
        enrolled_ids = {e.pathway_id for e in self.enrolments}
        waiting = tuple(  # the audiences she may yet enter as the calendar moves
            loaded.audience_bounds
            for loaded in self.library.ordered()
            if loaded.calendar_entry and loaded.audience_bounds and loaded.pathway.id not in enrolled_ids
        )
        if waiting:
            registration = Enrolment("", "", "", self.facts.enrolled_at)
            candidates += self._condition_wakeups(("audiences",), waiting, registration, None)
        return min(candidates) if candidates else None

    def _condition_wakeups(
        self,
        key: tuple[str, ...],
        bounds: tuple[Boundaries, ...],
        enrolment: Enrolment,
        loaded: Loaded | None,
    ) -> list[datetime]:
        """The first opening of the send window on a day one of these conditions may flip."""
        if self._dates is None:
            self._dates = date_facts(self.facts)
        anchors = self._plan(enrolment, loaded).anchors  # enrolment "": her registration
        day = self.calendar.first_day_after(key, bounds, anchors, self._dates, self.today)
        return [self.window.opening(day)] if day is not None else []


def evaluate(
    library: Library,
    state: State,
    event: Event | None,
    now: datetime,
    settings: Settings | None = None,
    *,
    calendar: HerCalendar | None = None,
) -> Evaluation:
    """Evaluate one trigger (an event, or None for a clock tick) for one pregnancy at ``now``.

    ``calendar`` keeps her anchors, timetables and wake-up days from one of her evaluations to
    the next (``her_calendar.py``): a dry-run passes one per pregnancy. It changes no outcome."""
    if now.tzinfo is None:
        raise EvaluationError("now must be timezone-aware", code="naive-datetime")
    run = _Run(library, state, now, settings or Settings(), calendar or HerCalendar())
    run.run(event)
    new_state = State(run.facts, tuple(run.enrolments), tuple(sorted(run.pending, key=lambda p: p.at)), now)
    return Evaluation(
        actions=tuple(run.emitted),
        cancellations=tuple(run.cancellations),
        state=new_state,
        next_wakeup=run.next_wakeup(),
        enrolled=tuple(run.enrolled),
        exited=tuple(run.exited),
        repeat=run.repeat,
        problems=tuple(run.problems),
        fired_at=MappingProxyType(run.fired_at),
        plan_notes=tuple(run.plan_notes),
        loss=loss.transition(state.facts, run.facts, event.type if event is not None else None),
    )
