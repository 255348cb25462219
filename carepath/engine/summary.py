"""Cohort simulation: every member's dry-run, summed into what an analyst needs to see.

Per pathway and rule, how many actions took effect; how many patients each pathway reached;
and the load on her phone — external messages (push, questionnaire, remind) per patient per
week — as mean, p95 and max, because a pathway set that sends eight messages in one week is
a pathway set women mute.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from carepath.engine.clock import TERM_DAYS
from carepath.engine.cohort import Member
from carepath.engine.library import Library
from carepath.engine.runtime import Settings
from carepath.engine.scheduling import TO_HER
from carepath.engine.simulate import timeline


@dataclass
class CohortSummary:
    patients: int = 0
    evaluations: int = 0
    actions: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (pathway, rule, kind)
    reached: Counter[str] = field(default_factory=Counter)  # pathway -> patients enrolled
    weekly_messages: Counter[int] = field(default_factory=Counter)  # messages in a week -> patient-weeks

    def add(self, other: CohortSummary) -> None:
        self.patients += other.patients
        self.evaluations += other.evaluations
        self.actions.update(other.actions)
        self.reached.update(other.reached)
        self.weekly_messages.update(other.weekly_messages)

    def weekly_stats(self) -> dict[str, float]:
        """Mean, p95 and max of external messages per patient-week."""
        weeks = sum(self.weekly_messages.values())
        if not weeks:
            return {"mean": 0.0, "p95": 0.0, "max": 0.0}
        total = sum(count * n for count, n in self.weekly_messages.items())
        threshold = 0.95 * weeks
        running = 0
        p95 = 0
        for count in sorted(self.weekly_messages):
            running += self.weekly_messages[count]
            if running >= threshold:
                p95 = count
                break
        return {"mean": round(total / weeks, 3), "p95": float(p95), "max": float(max(self.weekly_messages))}

    def as_json(self) -> dict[str, Any]:
        by_pathway: Counter[str] = Counter()
        for (pathway, _, _), n in self.actions.items():
            by_pathway[pathway] += n
        return {
            "patients": self.patients,
            "evaluations": self.evaluations,
            "actions_by_pathway": dict(sorted(by_pathway.items())),
            "actions_by_rule": [
                {"pathway": p, "rule": r, "action": k, "count": n}
                for (p, r, k), n in sorted(self.actions.items())
            ],
            "patients_reached": dict(sorted(self.reached.items())),
            "external_messages_per_patient_week": self.weekly_stats(),
        }


def simulate_member(
    library: Library, member: Member, until_ga_days: int | None, settings: Settings
) -> CohortSummary:
    """One member's dry-run to ``until_ga_days`` (None: 12 weeks after her EDD), summarised."""
    facts = member.facts
    edd = facts.edd
    summary = CohortSummary(patients=1)
    if edd is None:
        return summary
    end_day = (
        edd - timedelta(days=TERM_DAYS - until_ga_days)
        if until_ga_days is not None
        else edd + timedelta(weeks=12)
    )
    until = datetime.combine(end_day, time(23, 59, 59), settings.window.zone)
    start = facts.enrolled_at
    if until < start:
        return summary
    taken: dict[str, tuple[str, str, str, datetime]] = {}
    enrolled: set[str] = set()
    for evaluation in timeline(library, facts, member.events, until=until, settings=settings):
        summary.evaluations += 1
        for action in evaluation.actions:
            taken.setdefault(action.dedupe_key, (action.pathway_id, action.rule_id, action.kind, action.at))
        for cancelled in evaluation.cancellations:
            taken.pop(cancelled.dedupe_key, None)
        enrolled.update(e.pathway_id for e in evaluation.enrolled)
    weeks = (until - start).days // 7 + 1
    per_week = [0] * weeks
    for pathway, rule, kind, at in taken.values():
        if at > until:
            continue
        summary.actions[(pathway, rule, kind)] += 1
        if kind in TO_HER:
            per_week[min((at - start).days // 7, weeks - 1)] += 1
    summary.weekly_messages.update(per_week)
    summary.reached.update(enrolled)
    return summary
