"""What an edit to the library does: a behaviour diff per persona, and the cohort impact.

Two libraries are compared: the published one and a candidate (usually one pathway edited).
An action is the same action in both when its pathway, rule, kind, index in the rule and
params are the same; the version is not part of it (it is the content hash, and always
differs). Matched by time: an action at the same moment in both is unchanged, the rest pair
up in time order as *moved*, and what is left is *added* or *removed*.

The cohort impact runs every pregnancy in care at ``now`` for the next weeks three ways:

- *before*: the published library, as today;
- *pin*: the candidate is published and enrolled women stay on their pinned versions
  (ARCHITECTURE.md rule 5): only enrolments that start from now take the candidate;
- *migrate*: as *pin*, and her active enrolments in the changed pathways move to the
  candidate's version now. Actions already decided (pending in the outbox) stay; the new
  version's timed rules fire from now on, so an occurrence moved into the past is not
  caught up on.

Only the changed pathways, and the pathways they can influence or that can influence them
(``dependencies.closure``), are simulated; the others do the same in both libraries.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from carepath.engine.cohort import Member
from carepath.engine.dependencies import closure, differing_timed_rules, footprint, moving_events
from carepath.engine.facts import Event, Facts
from carepath.engine.library import Library
from carepath.engine.runtime import Emitted, Evaluation, Settings, State, evaluate
from carepath.engine.scheduling import TO_HER
from carepath.engine.simulate import Row, dry_run, timeline
from carepath.engine.summary import CohortSummary
from carepath.engine.timing import Anchors, occurrence_days

#: Her pregnancy is out of care this long after delivery (the puerperium and newborn care).
CARE_AFTER_DELIVERY = timedelta(days=84)
CHOICES = ("pin", "migrate")
#: Runs go on this long past the window, so that an action moved out of it is seen as moved,
#: not removed (an edit that moves a rule further than this shows as removed).
LOOKAHEAD_WEEKS = 4

Identity = tuple[str, str, str, int, str]  # pathway, rule, kind, index in the rule, params
Group = tuple[str, str, str]  # pathway, rule, kind
T = TypeVar("T")


def _params_text(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, ensure_ascii=False, default=list)


def _index(dedupe_key: str) -> int:
    return int(dedupe_key.rsplit("/", 1)[1])


def row_identity(row: Row) -> Identity:
    return (row.pathway, row.rule, row.action, _index(row.dedupe_key), _params_text(row.params))


def emitted_identity(action: Emitted) -> Identity:
    return (
        action.pathway_id,
        action.rule_id,
        action.kind,
        _index(action.dedupe_key),
        _params_text(action.params),
    )


@dataclass(frozen=True)
class Changes(Generic[T]):
    added: tuple[T, ...] = ()
    removed: tuple[T, ...] = ()
    moved: tuple[tuple[T, T], ...] = ()  # (before, after)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.moved)


def match(
    before: Iterable[tuple[Identity, datetime, T]], after: Iterable[tuple[Identity, datetime, T]]
) -> Changes[T]:
    """Pair the actions of two runs (see the module's docstring)."""
    groups: dict[Identity, tuple[list[tuple[datetime, T]], list[tuple[datetime, T]]]] = {}
    for identity, at, item in before:
        groups.setdefault(identity, ([], []))[0].append((at, item))
    for identity, at, item in after:
        groups.setdefault(identity, ([], []))[1].append((at, item))
    added: list[T] = []
    removed: list[T] = []
    moved: list[tuple[T, T]] = []
    for identity in sorted(groups):
        old, new = groups[identity]
        new_times = Counter(at for at, _ in new)
        old_times = Counter(at for at, _ in old)
        common = old_times & new_times
        left = _without(sorted(old, key=lambda p: p[0]), Counter(common))
        right = _without(sorted(new, key=lambda p: p[0]), Counter(common))
        pairs = min(len(left), len(right))
        moved += [(left[i][1], right[i][1]) for i in range(pairs)]
        removed += [item for _, item in left[pairs:]]
        added += [item for _, item in right[pairs:]]
    return Changes(tuple(added), tuple(removed), tuple(moved))


def _without(items: list[tuple[datetime, T]], times: Counter[datetime]) -> list[tuple[datetime, T]]:
    kept = []
    for at, item in items:
        if times[at] > 0:
            times[at] -= 1
        else:
            kept.append((at, item))
    return kept


# --- per persona ------------------------------------------------------------------------------


def diff_rows(before: Sequence[Row], after: Sequence[Row]) -> Changes[Row]:
    """Actions added, removed and moved between two dry-runs of one pregnancy (due rows only)."""
    return match(
        ((row_identity(r), r.at, r) for r in before if r.status == "due"),
        ((row_identity(r), r.at, r) for r in after if r.status == "due"),
    )


def persona_diff(
    base: Library,
    candidate: Library,
    facts: Facts,
    events: Iterable[Event] = (),
    *,
    until: datetime,
    start: datetime | None = None,
    settings: Settings | None = None,
) -> Changes[Row]:
    """The behaviour diff for one persona over her whole dry-run (a new enrolment: the
    candidate is what she would get)."""
    events = tuple(events)
    before = dry_run(base, facts, events, start=start, until=until, settings=settings)
    after = dry_run(candidate, facts, events, start=start, until=until, settings=settings)
    return diff_rows(before, after)


def changes_json(changes: Changes[Row]) -> dict[str, Any]:
    def row(r: Row) -> dict[str, Any]:
        return r.as_json() | {"why": r.why, "summary": r.summary}

    return {
        "added": [row(r) for r in changes.added],
        "removed": [row(r) for r in changes.removed],
        "moved": [{"before": row(b), "after": row(a)} for b, a in changes.moved],
    }


# --- the cohort -------------------------------------------------------------------------------


def changed_pathways(base: Library, candidate: Library) -> frozenset[str]:
    """Pathways whose current version differs, or that only one library has."""
    ids = set(base.current) | set(candidate.current)
    return frozenset(
        i
        for i in ids
        if i not in base.current
        or i not in candidate.current
        or base.current[i].version != candidate.current[i].version
    )


def pathways_to_simulate(base: Library, candidate: Library) -> frozenset[str]:
    """The changed pathways with everything they influence and everything influencing those."""
    versions: dict[str, list[Any]] = {}
    for library in (base, candidate):
        for pathway in library.versions():
            versions.setdefault(pathway.id, []).append(pathway)
    footprints = {i: footprint(v) for i, v in versions.items()}
    return closure(footprints, changed_pathways(base, candidate))


@dataclass(frozen=True)
class Enrolled:
    """A pregnancy in care at ``now``: her state (as the store keeps it) and events to come."""

    state: State
    events: tuple[Event, ...] = ()


def migrate(state: State, library: Library, pathway_ids: Iterable[str]) -> State:
    """Her active enrolments in these pathways re-pinned to the library's current versions."""
    ids = frozenset(pathway_ids)
    enrolments = tuple(
        replace(e, version=library.current[e.pathway_id].version)
        if e.active and e.pathway_id in ids and e.pathway_id in library.current
        else e
        for e in state.enrolments
    )
    return state if enrolments == state.enrolments else replace(state, enrolments=enrolments)


def restrict(state: State, pathway_ids: frozenset[str]) -> State:
    """Her state with only these pathways' enrolments and pending actions."""
    return replace(
        state,
        enrolments=tuple(e for e in state.enrolments if e.pathway_id in pathway_ids),
        pending=tuple(p for p in state.pending if p.pathway_id in pathway_ids),
    )


def in_care(facts: Facts, now: datetime) -> bool:
    """Registered by ``now``, and neither ended nor past the care after delivery."""
    if facts.enrolled_at > now or facts.status == "ended":
        return False
    delivered = facts.delivery_date
    return delivered is None or now.date() - delivered <= CARE_AFTER_DELIVERY


def advance(library: Library, member: Member, now: datetime, settings: Settings) -> Enrolled | None:
    """Her state at ``now`` under ``library`` (from her registration), or None if not in care."""
    if not _may_be_in_care(member, now):
        return None
    state: State | None = None
    for evaluation in timeline(library, member.facts, member.events, until=now, settings=settings):
        state = evaluation.state
    if state is None or not in_care(state.facts, now):
        return None
    return Enrolled(state, tuple(e for e in member.events if e.occurred_at > now))


def _may_be_in_care(member: Member, now: datetime) -> bool:
    """A cheap look before simulating her history: registered, and not delivered long ago."""
    if member.facts.enrolled_at > now:
        return False
    return not any(
        e.type in ("delivery", "pregnancy.ended") and e.occurred_at < now - CARE_AFTER_DELIVERY
        for e in member.events
    )


class Run:
    """One pregnancy's run under one library from ``start`` (at or after ``now``), advanced
    only as far as asked: most runs stop at the window's end, and only those with changes
    look further. ``decided``: what already takes effect from ``now`` when the run begins."""

    def __init__(
        self,
        library: Library,
        enrolled: Enrolled,
        now: datetime,
        horizon: datetime,
        settings: Settings,
        *,
        start: datetime | None = None,
        decided: Mapping[str, Emitted] | None = None,
    ) -> None:
        self._evaluations = timeline(
            library,
            enrolled.state.facts,
            enrolled.events,
            start=start or now,
            until=horizon,
            settings=settings,
            state=enrolled.state,
        )
        self._waiting: Evaluation | None = None
        self._taken: dict[str, Emitted] = (
            dict(decided) if decided is not None else {p.dedupe_key: p for p in enrolled.state.pending}
        )
        self.now = now
        self.enrolled_in: set[str] = set()  # pathways she was enrolled in on the way

    def through(self, end: datetime) -> tuple[Emitted, ...]:
        """What takes effect from ``now`` to ``end``: what was already pending and what the
        engine decides on the way, less what it cancels. An evaluation after ``end`` can
        neither add nor cancel anything due by ``end``."""
        while True:
            evaluation = self._waiting or next(self._evaluations, None)
            if evaluation is None:
                break
            if evaluation.state.evaluated_at is not None and evaluation.state.evaluated_at > end:
                self._waiting = evaluation
                break
            self._waiting = None
            for action in evaluation.actions:
                self._taken.setdefault(action.dedupe_key, action)
            for cancelled in evaluation.cancellations:
                self._taken.pop(cancelled.dedupe_key, None)
            self.enrolled_in.update(e.pathway_id for e in evaluation.enrolled)
        return tuple(sorted((a for a in self._taken.values() if self.now <= a.at <= end), key=lambda a: a.at))


def window_actions(
    library: Library, enrolled: Enrolled, now: datetime, end: datetime, settings: Settings
) -> tuple[Emitted, ...]:
    """What takes effect for her from ``now`` to ``end`` under ``library``."""
    return Run(library, enrolled, now, end, settings).through(end)


def _weekly(actions: Iterable[Emitted], now: datetime, end: datetime, weeks: int) -> list[int]:
    per_week = [0] * weeks
    for action in actions:
        if action.kind in TO_HER and action.at <= end:
            per_week[min((action.at - now).days // 7, weeks - 1)] += 1
    return per_week


def _group(action: Emitted) -> Group:
    return (action.pathway_id, action.rule_id, action.kind)


@dataclass
class ChoiceImpact:
    """The difference one choice (pin or migrate) makes against the published library."""

    patients_gaining: Counter[Group] = field(default_factory=Counter)
    patients_losing: Counter[Group] = field(default_factory=Counter)
    patients_moved: Counter[Group] = field(default_factory=Counter)
    added: Counter[Group] = field(default_factory=Counter)
    removed: Counter[Group] = field(default_factory=Counter)
    moved: Counter[Group] = field(default_factory=Counter)
    weekly_messages: Counter[int] = field(default_factory=Counter)  # messages in a week -> patient-weeks
    affected: list[str] = field(default_factory=list)

    def add(self, other: ChoiceImpact) -> None:
        for name in ("patients_gaining", "patients_losing", "patients_moved", "added", "removed", "moved"):
            getattr(self, name).update(getattr(other, name))
        self.weekly_messages.update(other.weekly_messages)
        self.affected += other.affected

    def record(self, pregnancy_id: str, changes: Changes[Emitted], weekly: list[int]) -> None:
        self.weekly_messages.update(weekly)
        if changes.empty:
            return
        self.affected.append(pregnancy_id)
        for actions, count, patients in (
            (changes.added, self.added, self.patients_gaining),
            (changes.removed, self.removed, self.patients_losing),
            (tuple(after for _, after in changes.moved), self.moved, self.patients_moved),
        ):
            groups = [_group(a) for a in actions]
            count.update(groups)
            patients.update(set(groups))

    def as_json(self, affected_limit: int | None = None) -> dict[str, Any]:
        groups = sorted(set(self.added) | set(self.removed) | set(self.moved))
        affected = sorted(self.affected)
        return {
            "by_action": [
                {
                    "pathway": p,
                    "rule": r,
                    "action": k,
                    "patients_gaining": self.patients_gaining[(p, r, k)],
                    "patients_losing": self.patients_losing[(p, r, k)],
                    "patients_moved": self.patients_moved[(p, r, k)],
                    "added": self.added[(p, r, k)],
                    "removed": self.removed[(p, r, k)],
                    "moved": self.moved[(p, r, k)],
                }
                for p, r, k in groups
            ],
            "messages_per_patient_week": weekly_stats(self.weekly_messages),
            "affected_patients": len(affected),
            "affected": affected if affected_limit is None else affected[:affected_limit],
        }


def weekly_stats(weekly: Counter[int]) -> dict[str, float]:
    return CohortSummary(weekly_messages=weekly).weekly_stats()


@dataclass
class CohortImpact:
    patients: int = 0
    weekly_before: Counter[int] = field(default_factory=Counter)
    pin: ChoiceImpact = field(default_factory=ChoiceImpact)
    migrate: ChoiceImpact = field(default_factory=ChoiceImpact)

    def add(self, other: CohortImpact) -> None:
        self.patients += other.patients
        self.weekly_before.update(other.weekly_before)
        self.pin.add(other.pin)
        self.migrate.add(other.migrate)


@dataclass(frozen=True)
class Plan:
    """Everything the cohort impact needs, prepared once: the libraries cut to the pathways
    that must run, and the window."""

    before: Library
    after: Library  # candidate current, published versions loaded for pinned enrolments
    changed: frozenset[str]
    simulated: frozenset[str]
    now: datetime
    weeks: int
    settings: Settings
    lookahead_weeks: int = LOOKAHEAD_WEEKS

    @classmethod
    def build(
        cls,
        base: Library,
        candidate: Library,
        now: datetime,
        weeks: int,
        settings: Settings | None = None,
        *,
        everything: bool = False,
    ) -> Plan:
        """``everything``: simulate every pathway (for absolute message counts), not just
        those the edit can reach."""
        simulated = (
            frozenset(base.current) | frozenset(candidate.current)
            if everything
            else pathways_to_simulate(base, candidate)
        )
        return cls(
            before=base.subset(simulated),
            after=candidate.subset(simulated, pinned_from=base),
            changed=changed_pathways(base, candidate),
            simulated=simulated,
            now=now,
            weeks=weeks,
            settings=settings or Settings(),
        )

    @property
    def end(self) -> datetime:
        return self.now + timedelta(weeks=self.weeks)

    def run(self, cohort: Iterable[Member | Enrolled]) -> CohortImpact:
        """The impact over these pregnancies (members are advanced to ``now`` first)."""
        impact = CohortImpact()
        for one in cohort:
            enrolled = (
                advance(self.before, one, self.now, self.settings)
                if isinstance(one, Member)
                else Enrolled(restrict(one.state, self.simulated), one.events)
            )
            if enrolled is not None:
                self._one(enrolled, impact)
        return impact

    def _one(self, enrolled: Enrolled, impact: CohortImpact) -> None:
        now, end, settings = self.now, self.end, self.settings
        horizon = end + timedelta(weeks=self.lookahead_weeks)
        impact.patients += 1
        # The moment of publication: she is evaluated at ``now`` under the published library,
        # so every choice starts from the same state, evaluated now. A migrated enrolment's
        # rules then fire from now on, whenever she happened to be evaluated last.
        tick = evaluate(self.before, enrolled.state, None, now, settings)
        decided = {p.dedupe_key: p for p in enrolled.state.pending}
        for action in tick.actions:
            decided.setdefault(action.dedupe_key, action)
        for cancelled in tick.cancellations:
            decided.pop(cancelled.dedupe_key, None)
        enrolled = replace(enrolled, state=tick.state)
        state = enrolled.state
        moments = [t for t in (tick.next_wakeup,) if t is not None and t > now]
        moments += [min(e.occurred_at for e in enrolled.events)] if enrolled.events else []
        after_tick = min(moments) if moments else horizon + timedelta(seconds=1)
        before_run = Run(self.before, enrolled, now, horizon, settings, start=after_tick, decided=decided)
        before = before_run.through(end)
        weekly_before = _weekly(before, now, end, self.weeks)
        impact.weekly_before.update(weekly_before)
        pregnancy = state.facts.pregnancy_id
        seen = {e.pathway_id for e in state.enrolments}
        runs: dict[str, Run | None] = {}
        if self.changed <= seen and not before_run.enrolled_in & self.changed:
            # Pinned, and never newly enrolled in a changed pathway: the candidate's versions
            # are never looked at, so this run is the published one.
            runs["pin"] = None
        else:
            runs["pin"] = Run(self.after, enrolled, now, horizon, settings, decided=decided)
        moved_state = migrate(state, self.after, self.changed)
        if moved_state is state:
            runs["migrate"] = runs["pin"]
        elif not self._migration_matters(enrolled, end):
            runs["migrate"] = None  # no rule that differs falls due for her in the window
        else:
            moved = replace(enrolled, state=moved_state)
            runs["migrate"] = Run(self.after, moved, now, horizon, settings, decided=decided)
        keyed_before: list[tuple[Identity, datetime, Emitted]] | None = None
        for name, choice in (("pin", impact.pin), ("migrate", impact.migrate)):
            run = runs[name]
            if run is None:
                choice.record(pregnancy, Changes(), weekly_before)
                continue
            after = run.through(end)
            if _same(before, after):
                choice.record(pregnancy, Changes(), weekly_before)
                continue
            # Something differs: look past the window, so that a move out of it is a move.
            if keyed_before is None:
                keyed_before = [(emitted_identity(a), a.at, a) for a in before_run.through(horizon)]
            changes = match(keyed_before, ((emitted_identity(a), a.at, a) for a in run.through(horizon)))
            choice.record(pregnancy, _within(changes, end), _weekly(after, now, end, self.weeks))

    def _migration_matters(self, enrolled: Enrolled, horizon: datetime) -> bool:
        """Could moving her enrolments to the candidate change anything due by ``horizon``?
        Only a rule that differs between her version and the candidate's can, and a timed one
        only on its occurrences; anything else (an event rule, a changed audience or exit, an
        event that moves her dates) is simulated."""
        state = enrolled.state
        since = state.evaluated_at
        if since is None:
            return True
        coming = {e.type for e in enrolled.events if e.occurred_at <= horizon}
        window = self.settings.window
        for enrolment in state.enrolments:
            target = self.after.current.get(enrolment.pathway_id)
            if not enrolment.active or target is None or target.version == enrolment.version:
                continue
            old = self.after.loaded(enrolment.pathway_id, enrolment.version)
            new = self.after.loaded(target.id, target.version)
            rules = differing_timed_rules(old.pathway, new.pathway)
            if rules is None or coming & moving_events(old.pathway, new.pathway, rules):
                return True
            anchors = Anchors(
                state.facts.edd, state.facts.delivery_date, window.local_date(enrolment.started_at)
            )
            through = window.local_date(horizon)
            for pathway in (old.pathway, new.pathway):
                for rule in pathway.rules:
                    if rule.id in rules and any(
                        since < window.opening(day) <= horizon
                        for day in occurrence_days(rule, anchors, through)
                    ):
                        return True
        return False


def _same(before: Sequence[Emitted], after: Sequence[Emitted]) -> bool:
    return len(before) == len(after) and all(
        a.at == b.at
        and a.rule_id == b.rule_id
        and a.pathway_id == b.pathway_id
        and a.dedupe_key.rsplit("/", 1)[1] == b.dedupe_key.rsplit("/", 1)[1]
        and a.params == b.params
        for a, b in zip(before, after, strict=True)
    )


def _within(changes: Changes[Emitted], end: datetime) -> Changes[Emitted]:
    """The changes that touch the window: a move counts when either end of it is inside."""
    return Changes(
        tuple(a for a in changes.added if a.at <= end),
        tuple(a for a in changes.removed if a.at <= end),
        tuple((b, a) for b, a in changes.moved if b.at <= end or a.at <= end),
    )


def cohort_impact(
    base: Library,
    candidate: Library,
    cohort: Iterable[Member | Enrolled],
    now: datetime,
    *,
    weeks: int = 8,
    settings: Settings | None = None,
) -> CohortImpact:
    """The cohort impact in this process (``parallel.parallel_impact`` spreads it over processes)."""
    return Plan.build(base, candidate, now, weeks, settings).run(cohort)


def impact_json(plan: Plan, impact: CohortImpact, affected_limit: int | None = 100) -> dict[str, Any]:
    return {
        "now": plan.now.isoformat(),
        "weeks": plan.weeks,
        "patients": impact.patients,
        "changed_pathways": sorted(plan.changed),
        "simulated_pathways": sorted(plan.simulated),
        "messages_per_patient_week_before": weekly_stats(impact.weekly_before),
        "pin": impact.pin.as_json(affected_limit),
        "migrate": impact.migrate.as_json(affected_limit),
    }
