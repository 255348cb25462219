"""The ``carepath`` command line: one root group, noun/verb subgroups.

Heavy imports live inside the commands so that ``carepath --help`` stays fast. Errors are
translated here, once: located problems print as ``PATH:LINE:COL: CODE: message`` and exit 1;
usage errors exit 2 (click's own convention).
"""

from __future__ import annotations

import re
import sys
from datetime import date
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from carepath.engine.clock import Dating

EXIT_INVALID = 1


class IsoDate(click.ParamType):
    """A calendar date written ``YYYY-MM-DD``; impossible dates (2026-02-30) are usage errors."""

    name = "date"
    _shape = re.compile(r"\d{4}-\d{2}-\d{2}")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        if not self._shape.fullmatch(str(value)):
            self.fail(f"{value!r} is not a date; write YYYY-MM-DD", param, ctx)
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            self.fail(f"{value!r} is not a calendar date: {exc}", param, ctx)


ISO_DATE = IsoDate()


#: Kept in step with ``carepath.engine.matchers.MATCHER_KINDS`` (a test checks), so that
#: ``carepath --help`` need not import the engine.
MATCHER_KINDS = ("compiled", "durable")


@click.group()
@click.version_option(package_name="carepath")
@click.option(
    "--matcher",
    type=click.Choice(MATCHER_KINDS),
    default="compiled",
    show_default=True,
    envvar="CAREPATH_MATCHER",
    show_envvar=True,
    help="Which matcher evaluates conditions (both must agree; durable is the cross-check).",
)
@click.pass_context
def cli(ctx: click.Context, matcher: str) -> None:
    """carepath: care pathways for the pregnancy school and prenatal care."""
    ctx.meta["carepath.matcher"] = matcher


def matcher_kind(ctx: click.Context | None = None) -> str:
    """The matcher every command hands to ``Library``: ``--matcher`` or ``CAREPATH_MATCHER``.

    The environment is read here, at the CLI edge, never by the engine.
    """
    ctx = ctx or click.get_current_context()
    return str(ctx.meta.get("carepath.matcher", "compiled"))


@cli.group()
def pathway() -> None:
    """Validate, dry-run and simulate pathways."""


def expand_paths(paths: tuple[str, ...]) -> list[str]:
    """Files as given; a directory stands for its ``*.yaml`` files, sorted."""
    from pathlib import Path

    expanded: list[str] = []
    for given in paths:
        if Path(given).is_dir():
            expanded += sorted(
                str(Path(given) / p.name) for p in Path(given).iterdir() if p.suffix in (".yaml", ".yml")
            )
        else:
            expanded.append(given)
    return expanded


@pathway.command("validate")
@click.argument("paths", nargs=-1)
@click.option("--patient", "patients", multiple=True, metavar="FILE", help="Check a patient file.")
@click.option("--events", "events", multiple=True, metavar="FILE", help="Check an events file.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
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
    if pathway_files:
        problems += list(compile_paths(pathway_files).problems)
    for path in patients:
        problems += list(check_patient(path).problems)
    for path in events:
        problems += list(check_events(path).problems)
    for problem in problems:
        click.echo(str(problem))
    failed = any(p.severity == "error" or strict for p in problems)
    checked = len(pathway_files) + len(patients) + len(events)
    if failed:
        sys.exit(EXIT_INVALID)
    click.echo(f"ok: {checked} file(s) valid", err=True)


@cli.command()
@click.option("--lmp", type=ISO_DATE, help="First day of the last menstrual period.")
@click.option("--cycle", type=int, metavar="DAYS", help="Cycle length for --lmp (default 28).")
@click.option("--us-date", type=ISO_DATE, help="Date of a dating ultrasound.")
@click.option("--us-ga", metavar="W+D", help="GA the ultrasound measured, e.g. 8+2.")
@click.option("--transfer", type=ISO_DATE, help="IVF embryo transfer date.")
@click.option("--embryo-day", type=int, metavar="3|5", help="Embryo age at transfer (3 or 5).")
@click.option("--edd", type=ISO_DATE, help="An EDD already documented.")
@click.option("--on", "on", type=ISO_DATE, help="Report the GA on this date (default today).")
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text",
    show_default=True,
)  # fmt: skip
def dating(
    *,
    lmp: date | None,
    cycle: int | None,
    us_date: date | None,
    us_ga: str | None,
    transfer: date | None,
    embryo_day: int | None,
    edd: date | None,
    on: date | None,
    output_format: str,
) -> None:
    """Date a pregnancy: EDD, gestational age and trimester.

    \b
    Give one of:
      --lmp DATE [--cycle N] [--us-date DATE --us-ga W+D]   (ACOG CO 700 redating)
      --us-date DATE --us-ga W+D                            (ultrasound alone)
      --transfer DATE --embryo-day 3|5                      (IVF, never redated)
      --edd DATE                                            (documented EDD)
    """
    import json

    from carepath.engine.clock import date_pregnancy, parse_gestational_age
    from carepath.errors import DatingError

    _check_dating_options(
        lmp=lmp, cycle=cycle, us_date=us_date, us_ga=us_ga,
        transfer=transfer, embryo_day=embryo_day, edd=edd,
    )  # fmt: skip
    try:
        scan_ga_days = None if us_ga is None else parse_gestational_age(us_ga)
        result = date_pregnancy(
            lmp=lmp, cycle_length=cycle, scan_date=us_date, scan_ga_days=scan_ga_days,
            transfer_date=transfer, embryo_day=embryo_day, edd=edd,
        )  # fmt: skip
    except DatingError as exc:
        click.echo(f"error: {exc.code}: {exc.message}", err=True)
        sys.exit(EXIT_INVALID)
    report = _dating_report(result, date.today() if on is None else on)
    if output_format == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(_dating_text(report))


def _check_dating_options(
    *,
    lmp: date | None,
    cycle: int | None,
    us_date: date | None,
    us_ga: str | None,
    transfer: date | None,
    embryo_day: int | None,
    edd: date | None,
) -> None:
    """Reject combinations the command line does not offer, as usage errors (exit 2)."""
    has_us = us_date is not None or us_ga is not None
    has_ivf = transfer is not None or embryo_day is not None
    if (us_date is None) != (us_ga is None):
        raise click.UsageError("--us-date and --us-ga go together: give both or neither")
    if (transfer is None) != (embryo_day is None):
        raise click.UsageError("--transfer and --embryo-day go together: give both or neither")
    if cycle is not None and lmp is None:
        raise click.UsageError("--cycle adjusts an LMP date: give --lmp too")
    if has_ivf and (lmp is not None or has_us):
        raise click.UsageError(
            "--transfer dates an IVF pregnancy by itself: drop --lmp, --us-date and --us-ga"
        )
    if edd is not None and (lmp is not None or has_us or has_ivf):
        raise click.UsageError("--edd is a dating by itself: give it without other dating options")
    if edd is None and lmp is None and not has_us and not has_ivf:
        raise click.UsageError(
            "give a dating: --lmp DATE, --us-date DATE --us-ga W+D,"
            " --transfer DATE --embryo-day 3|5, or --edd DATE"
        )


_METHOD_LABELS = {
    "lmp": "LMP, Naegele",
    "ultrasound": "ultrasound",
    "ivf": "IVF",
    "edd": "documented",
}


def _dating_report(result: Dating, on: date) -> dict[str, Any]:
    """The JSON shape of a dating: stable keys first, explanations after."""
    from carepath.engine.clock import format_gestational_age, trimester

    days = result.gestational_days(on)
    band = result.band

    def iso(value: date | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "edd": result.edd.isoformat(),
        "gestational_age": format_gestational_age(days),
        "method": result.method,
        "trimester": trimester(days),
        "on": on.isoformat(),
        "gestational_days": days,
        "redated": result.redated,
        "reason": result.reason,
        "lmp_edd": iso(result.lmp_edd),
        "ultrasound_edd": iso(result.ultrasound_edd),
        "difference_days": result.difference_days,
        "acog_band": (None if band is None else {"ga_by_lmp": band.label, "limit_days": band.limit_days}),
    }


def _dating_text(report: dict[str, Any]) -> str:
    """A few readable lines for a clinician at a terminal."""
    label = _METHOD_LABELS[report["method"]]
    if report["redated"]:
        label += ", redated from LMP"
    ga_line = f"GA 孕周 {report['gestational_age']} on {report['on']}"
    return "\n".join(
        [
            f"EDD 预产期 {report['edd']} ({label})",
            f"{ga_line}, trimester {report['trimester']}",
            f"why: {report['reason']}",
        ]
    )


def main() -> None:
    """Console entry point."""
    cli(prog_name="carepath")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(cli())
