"""Cohort impact of a one-rule edit: 10k pregnancies in care, the next 8 weeks, both choices.

Target (issue 10, measured, not asserted): <= 3 s on this machine. The edit moves the
checkup schedule's OGTT reminder from 23+4 to 25+4 weeks, the kind of change the editor
exists for. The cohort is synthetic (cohort.py): members are drawn until ``--patients`` of
them are in care on ``--now``.

    python bench/impact.py [--patients 10000] [--weeks 8] [--jobs 1,2] [--now 2026-09-01]

Prints wall and CPU seconds for preparing the plan, advancing members to now (their
history, which a real store already holds) and the impact itself.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from datetime import date, datetime
from datetime import time as clock_time
from pathlib import Path

from carepath.engine.cohort import Member, synthetic_cohort
from carepath.engine.compiler import Unit, compile_units
from carepath.engine.forms import make_scorer
from carepath.engine.impact import Enrolled, Plan, advance, impact_json
from carepath.engine.library import Library
from carepath.engine.parallel import parallel_impact
from carepath.engine.runtime import Settings
from carepath.store import state_codec
from carepath.webapi.staff.review_impact import cohort_report

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "carepath" / "pathways"
CATALOGUE_FILES = {"tags.yaml", "labs.yaml"}
EDITED = "checkup-schedule.yaml"
BEFORE, AFTER = 'at: {gestational_age: "23+4"}', 'at: {gestational_age: "25+4"}'


def library(texts: dict[str, str]) -> Library:
    result = compile_units([Unit(name, text.encode()) for name, text in texts.items()])
    if not result.ok:
        sys.exit("\n".join(str(p) for p in result.errors))
    return Library(result.pathways)


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def in_care_cohort(size: int, now: datetime) -> list[Member]:
    """The first ``size`` synthetic members registered by ``now`` and not delivered 12+ weeks ago."""
    members: list[Member] = []
    n = 0
    while len(members) < size:
        batch = list(synthetic_cohort(n + 4 * size, first=n))
        n += 4 * size
        for member in batch:
            edd = member.facts.edd
            if member.facts.enrolled_at <= now and edd is not None and (now.date() - edd).days < 60:
                members.append(member)
    return members[:size]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--jobs", default="1,2")
    parser.add_argument("--now", type=date.fromisoformat, default=date(2026, 9, 1))
    args = parser.parse_args()
    settings = Settings(scorer=make_scorer())
    now = datetime.combine(args.now, clock_time(12, 0), settings.window.zone)
    texts = {
        str(p): p.read_text(encoding="utf-8")
        for p in sorted(LIBRARY.glob("*.yaml"))
        if p.name not in CATALOGUE_FILES
    }
    edited = str(LIBRARY / EDITED)
    if BEFORE not in texts[edited]:
        sys.exit(f"{EDITED} no longer has {BEFORE!r}: choose another edit")
    print(f"Python {sys.version.split()[0]}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    base = library(texts)
    candidate = library(texts | {edited: texts[edited].replace(BEFORE, AFTER)})
    members = in_care_cohort(args.patients, now)

    started = time.perf_counter()
    plan = Plan.build(base, candidate, now, args.weeks, settings)
    print(f"plan: {time.perf_counter() - started:.3f} s; simulating {', '.join(sorted(plan.simulated))}")

    started, cpu = time.perf_counter(), cpu_seconds()
    states = [e for e in (advance(plan.before, m, now, settings) for m in members) if e is not None]
    print(
        f"history to now for {len(members)} members ({len(states)} in care): "
        f"{time.perf_counter() - started:.2f} s wall, {cpu_seconds() - cpu:.2f} s CPU"
        " (a store holds these states)"
    )
    columns = ("input", "jobs", "patients", "wall s", "CPU s", "migrate: affected", "pin: affected")
    print(" ".join(f"{c:>12}" for c in columns))
    cohorts: list[tuple[str, list[Member] | list[Enrolled]]] = [("states", states), ("members", members)]
    for label, cohort in cohorts:
        for jobs in (int(j) for j in args.jobs.split(",")):
            started, cpu = time.perf_counter(), cpu_seconds()
            impact = parallel_impact(plan, cohort, jobs)
            wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
            report = impact_json(plan, impact, 0)
            print(
                f"{label:>12} {jobs:>12} {impact.patients:>12} {wall:>12.2f} {cpu:>12.2f} "
                f"{report['migrate']['affected_patients']:>12} {report['pin']['affected_patients']:>12}"
            )
    # The review page's path: stored JSON states decoded as they are read, one worker, each
    # pregnancy run alone so that the first affected are listed with their changes. A store
    # knows no events still to come, so the page runs without them ("web (JSON)"); given the
    # same events as the rows above ("JSON+events") it must count exactly what they count.
    stored = [json.dumps(state_codec.dump_state(e.state)) for e in states]
    for label, events in (("web (JSON)", False), ("JSON+events", True)):
        started, cpu = time.perf_counter(), cpu_seconds()
        web = cohort_report(
            plan,
            (
                Enrolled(state_codec.load_state(json.loads(t)), e.events if events else ())
                for t, e in zip(stored, states, strict=True)
            ),
        )
        wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        print(
            f"{label:>12} {1:>12} {web['patients']:>12} {wall:>12.2f} {cpu:>12.2f} "
            f"{web['migrate']['affected_patients']:>12} {web['pin']['affected_patients']:>12}"
        )
    for row in report["migrate"]["by_action"]:
        print("migrate:", row)
    print("messages per patient-week before:", report["messages_per_patient_week_before"])
    print("after, migrate:", report["migrate"]["messages_per_patient_week"])


if __name__ == "__main__":
    main()
