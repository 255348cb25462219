"""``carepath pathway validate|dry-run``: check pathway, patient and events files, and play one
pregnancy through the pathways. ``simulate`` and ``impact``, over a whole cohort, are in
``cohort.py``; the tree is assembled in ``__init__.py``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

import click

from carepath.cli.common import (
    EXIT_INVALID,
    ISO_DATE,
    fail_on,
    fail_with,
    lang_option,
    matcher_kind,
    output_lang,
    print_problems,
)

if TYPE_CHECKING:
    from carepath.engine.library import Library
    from carepath.engine.simulate import Row


@click.group()
def pathway() -> None:
    """Validate, dry-run and simulate pathways."""


#: Catalogue files that sit beside the built-in pathways and are not pathways themselves.
CATALOGUE_FILES = frozenset({"tags.yaml", "labs.yaml"})


def expand_paths(paths: tuple[str, ...]) -> list[str]:
    """Files as given; a directory stands for its ``*.yaml`` files (not the tag and lab
    catalogues that live beside the built-in pathways), sorted."""
    from pathlib import Path

    expanded: list[str] = []
    for given in paths:
        if Path(given).is_dir():
            expanded += sorted(
                str(Path(given) / p.name)
                for p in Path(given).iterdir()
                if p.suffix in (".yaml", ".yml") and p.name not in CATALOGUE_FILES
            )
        else:
            expanded.append(given)
    return expanded


@pathway.command("validate")
@click.argument("paths", nargs=-1)
@click.option("--patient", "patients", multiple=True, metavar="FILE", help="Check a patient file.")
@click.option("--events", "events", multiple=True, metavar="FILE", help="Check an events file.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@lang_option
def pathway_validate(
    paths: tuple[str, ...], patients: tuple[str, ...], events: tuple[str, ...], strict: bool
) -> None:
    """Check pathways (files or directories, compiled together), patient and events files.

    Prints one line per problem, ``PATH:LINE:COL: CODE: message``, and exits 1 if any is an
    error (0 otherwise). Files named together share their pathways' tags.
    """
    from carepath.engine.compiler import compile_paths
    from carepath.engine.inputs import check_events, check_patient

    if not (paths or patients or events):
        raise click.UsageError("name at least one pathway, --patient or --events file")
    problems = []
    pathway_files = expand_paths(paths)
    if paths and not pathway_files:
        raise click.UsageError("the directories named hold no .yaml files")
    known = None  # the pathways a staff request may name: those named with it, if any
    if pathway_files:
        compiled = compile_paths(pathway_files)
        problems += list(compiled.problems)
        known = frozenset(p.id for p in compiled.pathways) if compiled.ok else None
    for path in patients:
        problems += list(check_patient(path).problems)
    for path in events:
        problems += list(check_events(path, pathways=known).problems)
    print_problems(problems)
    failed = any(p.severity == "error" or strict for p in problems)
    checked = len(pathway_files) + len(patients) + len(events)
    if failed:
        sys.exit(EXIT_INVALID)
    click.echo(f"ok: {checked} file(s) valid", err=True)


def load_library(paths: tuple[str, ...]) -> Library:
    """Compile pathway files or directories into a Library, or exit 1 with located errors."""
    from carepath.engine.compiler import compile_paths
    from carepath.engine.library import Library

    files = expand_paths(paths)
    if not files:
        raise click.UsageError("the pathway paths hold no .yaml files")
    result = compile_paths(files)
    if not result.ok:
        fail_with(result.errors)
    return Library(result.pathways, matcher=matcher_kind())


@pathway.command("dry-run")
@click.argument("paths", nargs=-1, required=True)
@click.option("--patient", "patient_path", required=True, metavar="PATIENT.yaml", help="One pregnancy.")
@click.option("--events", "events_path", metavar="EVENTS.yaml", help="HIS events to apply on the way.")
@click.option("--from", "from_", type=ISO_DATE, help="Start here instead of her registration.")
@click.option("--until", type=ISO_DATE, help="Stop at the end of this day.")
@click.option("--until-ga", metavar="W+D", help="Stop when she reaches this gestational age.")
@click.option("--show-cancelled", is_flag=True, help="Also list replaced and cancelled actions.")
@click.option("--format", "output_format", type=click.Choice(["table", "json", "csv"]), default="table")
@lang_option
def pathway_dry_run(
    *,
    paths: tuple[str, ...],
    patient_path: str,
    events_path: str | None,
    from_: date | None,
    until: date | None,
    until_ga: str | None,
    show_cancelled: bool,
    output_format: str,
) -> None:
    """What the pathways do to one woman over her pregnancy, action by action, and why.

    The clock starts at her registration (enrolled_at) and runs to --until, --until-ga or
    the end of the puerperium (EDD + 8 weeks).
    """
    from datetime import datetime, time, timedelta

    from carepath.engine.clock import parse_gestational_age
    from carepath.engine.facts import facts_from_patient
    from carepath.engine.forms import make_scorer, make_tagger
    from carepath.engine.inputs import check_events, check_patient
    from carepath.engine.runtime import Settings
    from carepath.engine.simulate import dry_run, events_from_file
    from carepath.errors import CarepathError

    if until and until_ga:
        raise click.UsageError("give --until or --until-ga, not both")
    library = load_library(paths)
    patient = check_patient(patient_path)
    if not patient.ok:
        fail_with(patient.problems)
    events = []
    if events_path:
        checked = check_events(events_path, pathways=frozenset(library.current))
        if not checked.ok:
            fail_with(checked.problems)
        events = events_from_file(checked.value)
    settings = Settings(scorer=make_scorer(), tagger=make_tagger())
    zone = settings.window.zone
    facts = facts_from_patient(patient.value)
    edd = facts.edd
    assert edd is not None  # the patient check requires dating
    if until_ga:
        try:
            ga_days = parse_gestational_age(until_ga)
        except CarepathError as exc:
            raise click.BadParameter(exc.message, param_hint="--until-ga") from None
        end_day = edd - timedelta(days=280 - ga_days)
    else:
        end_day = until or edd + timedelta(weeks=8)
    end = datetime.combine(end_day, time(23, 59, 59), zone)
    start = datetime.combine(from_, time(0, 0), zone) if from_ else None
    try:
        rows = dry_run(library, facts, events, start=start, until=end, settings=settings)
    except CarepathError as exc:
        fail_on(exc)
    if not show_cancelled:
        rows = [r for r in rows if r.status == "due"]
    _print_rows(rows, output_format, _explainer(library))


def _explainer(library: Library) -> Callable[[Row], str]:
    """The table's why column: the engine's record (``pathway/rule: fired at GA 23+4``) in
    English; with ``--lang zh`` the sentence the staff preview says, with titles, not ids."""
    lang = output_lang()
    if lang == "en":
        return lambda row: f"{row.pathway}/{row.rule}: {row.why}"
    from carepath.webapi.common.diagnostics_text import translator
    from carepath.webapi.staff.preview_text import row_why

    translate = translator(lang)
    return lambda row: row_why(row, library, translate)


def _print_rows(rows: list, output_format: str, explain: Callable[[Row], str]) -> None:  # type: ignore[type-arg]
    import csv
    import json

    if output_format == "json":
        for row in rows:
            click.echo(json.dumps(row.as_json(), ensure_ascii=False))
        return
    if output_format == "csv":
        writer = csv.writer(sys.stdout)
        fields = [
            "at",
            "gestational_age",
            "pathway",
            "version",
            "rule",
            "action",
            "params",
            "dedupe_key",
            "status",
        ]
        writer.writerow(fields)
        for row in rows:
            data = row.as_json()
            data["params"] = json.dumps(data["params"], ensure_ascii=False)
            writer.writerow([data[f] for f in fields])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False, header_style="bold")
    for column in ("week", "date", "what", "", "why"):
        table.add_column(column)
    for row in rows:
        what = row.action if row.status == "due" else f"{row.action} ({row.status})"
        table.add_row(
            row.gestational_age,
            row.at.strftime("%Y-%m-%d %H:%M"),
            what,
            row.summary,
            explain(row),
        )
    Console(width=160).print(table)
    click.echo(f"{len(rows)} action(s)")
