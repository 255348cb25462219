"""``carepath pathway simulate|impact``: the pathways over a whole cohort, a CSV or synthetic
pregnancies, in worker processes: what they would do, and what publishing an edit would change.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import click

from carepath.cli.common import ISO_DATE, fail_on, fail_with, lang_option, matcher_kind
from carepath.cli.pathway import expand_paths, load_library

if TYPE_CHECKING:
    from carepath.engine.cohort import Member


def _read_cohort(cohort_path: str) -> list[Member]:
    """The members of a cohort CSV, or exit 1 with its located problems."""
    from pathlib import Path

    from carepath.engine.cohort import read_cohort_csv
    from carepath.errors import Location, Problem

    try:
        text = Path(cohort_path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        fail_with([Problem(Location(cohort_path), "unreadable", str(exc))])
    members, problems = read_cohort_csv(text, cohort_path)
    if problems:
        fail_with(problems)
    return members


@click.command("simulate")
@lang_option
@click.argument("paths", nargs=-1, required=True)
@click.option("--cohort", "cohort_path", metavar="COHORT.csv", help="One row per patient (docs/language.md).")
@click.option("--synthetic", type=click.IntRange(1, 1_000_000), metavar="N", help="N synthetic pregnancies.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the synthetic cohort.")
@click.option("--until-ga", metavar="W+D", help="Stop each pregnancy at this GA (default: EDD + 12 weeks).")
@click.option("--jobs", type=click.IntRange(1, 64), help="Worker processes (default: one per CPU).")
@click.option("--format", "output_format", type=click.Choice(["summary", "json"]), default="summary")
def pathway_simulate(
    *,
    paths: tuple[str, ...],
    cohort_path: str | None,
    synthetic: int | None,
    seed: int,
    until_ga: str | None,
    jobs: int | None,
    output_format: str,
) -> None:
    """Run the pathways over a whole cohort and summarise what they would do."""
    import json
    import os
    import time as timer

    from rich.progress import Progress

    from carepath.engine.clock import parse_gestational_age
    from carepath.engine.parallel import CHUNK, Job, simulate_cohort, split
    from carepath.errors import CarepathError

    if bool(cohort_path) == bool(synthetic):
        raise click.UsageError("give exactly one of --cohort or --synthetic")
    until_days = None
    if until_ga:
        try:
            until_days = parse_gestational_age(until_ga)
        except CarepathError as exc:
            raise click.BadParameter(exc.message, param_hint="--until-ga") from None
    load_library(paths)  # compile here first: errors are reported once, located, before any work
    base = Job(tuple(expand_paths(paths)), matcher_kind(), until_days, seed)
    if cohort_path:
        members = _read_cohort(cohort_path)
        size = len(members)
        work = [
            Job(base.pathway_files, base.matcher, until_days, members=tuple(members[i : i + CHUNK]))
            for i in range(0, size, CHUNK)
        ]
    else:
        size = synthetic or 0
        work = split(size, base)
    processes = min(jobs or os.cpu_count() or 1, len(work))
    started = timer.perf_counter()
    with Progress(transient=True, console=_stderr_console()) as progress:
        task = progress.add_task("simulating", total=size)
        try:
            total = simulate_cohort(work, processes, lambda n: progress.advance(task, n))
        except CarepathError as exc:
            fail_on(exc)
    elapsed = timer.perf_counter() - started
    report = total.as_json() | {"wall_seconds": round(elapsed, 2), "processes": processes}
    if output_format == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    _print_summary(report)


def _stderr_console():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=True)


def _print_summary(report: dict) -> None:  # type: ignore[type-arg]
    from rich.console import Console
    from rich.table import Table

    console = Console(width=120)
    weekly = report["external_messages_per_patient_week"]
    console.print(
        f"{report['patients']} patients, {report['evaluations']} evaluations in {report['wall_seconds']} s; "
        f"external messages per patient-week: mean {weekly['mean']}, "
        f"p95 {weekly['p95']:g}, max {weekly['max']:g}"
    )
    reached = Table(title="patients reached")
    reached.add_column("pathway")
    reached.add_column("patients", justify="right")
    reached.add_column("actions", justify="right")
    for pathway_id, count in report["patients_reached"].items():
        reached.add_row(pathway_id, str(count), str(report["actions_by_pathway"].get(pathway_id, 0)))
    console.print(reached)
    rules = Table(title="actions by rule")
    for column in ("pathway", "rule", "action", "count"):
        rules.add_column(column, justify="right" if column == "count" else "left")
    for row in report["actions_by_rule"]:
        rules.add_row(row["pathway"], row["rule"], row["action"], str(row["count"]))
    console.print(rules)


@click.command("impact")
@lang_option
@click.option(
    "--base", "base_paths", multiple=True, required=True, metavar="DIR", help="The published library."
)
@click.option(
    "--candidate", "candidate_paths", multiple=True, required=True, metavar="DIR", help="The edited one."
)
@click.option("--cohort", "cohort_path", metavar="COHORT.csv", help="One row per patient (docs/language.md).")
@click.option("--synthetic", type=click.IntRange(1, 1_000_000), metavar="N", help="N synthetic pregnancies.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the synthetic cohort.")
@click.option("--now", "now_day", type=ISO_DATE, help="The day of publication (default: today), at noon.")
@click.option(
    "--weeks", type=click.IntRange(1, 52), default=8, show_default=True, help="How far ahead to look."
)
@click.option("--jobs", type=click.IntRange(1, 64), help="Worker processes (default: one per CPU).")
@click.option("--everything", is_flag=True, help="Simulate every pathway, not only those the edit can reach.")
@click.option(
    "--limit", type=click.IntRange(0, 1_000_000), default=100, show_default=True, help="Affected ids shown."
)
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table")
def pathway_impact(
    *,
    base_paths: tuple[str, ...],
    candidate_paths: tuple[str, ...],
    cohort_path: str | None,
    synthetic: int | None,
    seed: int,
    now_day: date | None,
    weeks: int,
    jobs: int | None,
    everything: bool,
    limit: int,
    output_format: str,
) -> None:
    """What publishing the candidate would change for every pregnancy in care, over the next
    weeks: actions gained, lost and moved, and messages per patient-week, for both choices
    (enrolled women stay pinned, or migrate to the candidate)."""
    import json
    import os
    import time as timer
    from datetime import datetime, time

    from carepath.engine.cohort import synthetic_cohort
    from carepath.engine.forms import make_scorer, make_tagger
    from carepath.engine.impact import Plan, impact_json
    from carepath.engine.parallel import parallel_impact
    from carepath.engine.runtime import Settings
    from carepath.errors import CarepathError

    if bool(cohort_path) == bool(synthetic):
        raise click.UsageError("give exactly one of --cohort or --synthetic")
    base, candidate = load_library(base_paths), load_library(candidate_paths)
    settings = Settings(scorer=make_scorer(), tagger=make_tagger())
    now = datetime.combine(now_day or date.today(), time(12, 0), settings.window.zone)
    members = _read_cohort(cohort_path) if cohort_path else list(synthetic_cohort(synthetic or 0, seed))
    plan = Plan.build(base, candidate, now, weeks, settings, everything=everything)
    started = timer.perf_counter()
    try:
        impact = parallel_impact(plan, members, min(jobs or os.cpu_count() or 1, 64))
    except CarepathError as exc:
        fail_on(exc)
    report = impact_json(plan, impact, limit) | {"wall_seconds": round(timer.perf_counter() - started, 2)}
    if output_format == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    _print_impact(report)


def _print_impact(report: dict) -> None:  # type: ignore[type-arg]
    from rich.console import Console
    from rich.table import Table

    console = Console(width=140)
    changed = ", ".join(report["changed_pathways"]) or "nothing"
    console.print(
        f"{report['patients']} pregnancies in care on {report['now'][:10]}, next {report['weeks']} weeks; "
        f"changed: {changed}; simulated: {', '.join(report['simulated_pathways']) or 'nothing'} "
        f"({report['wall_seconds']} s)"
    )
    before = report["messages_per_patient_week_before"]
    for choice, heading in (("pin", "enrolled women stay pinned"), ("migrate", "enrolled women migrate")):
        part = report[choice]
        after = part["messages_per_patient_week"]
        table = Table(title=f"{choice}: {heading} — {part['affected_patients']} patients affected")
        for column in ("pathway", "rule", "action", "gain", "lose", "moved"):
            table.add_column(column, justify="right" if column in ("gain", "lose", "moved") else "left")
        for row in part["by_action"]:
            table.add_row(
                row["pathway"],
                row["rule"],
                row["action"],
                str(row["patients_gaining"]),
                str(row["patients_losing"]),
                str(row["patients_moved"]),
            )
        console.print(table)
        console.print(
            f"messages per patient-week (simulated pathways): mean {before['mean']} → {after['mean']}, "
            f"p95 {before['p95']:g} → {after['p95']:g}, max {before['max']:g} → {after['max']:g}"
        )
        if part["affected"]:
            console.print("affected: " + " ".join(part["affected"]))
