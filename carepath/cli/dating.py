"""``carepath dating``: EDD, gestational age and trimester from an LMP, an ultrasound, an IVF
transfer or a documented EDD, with the reason for the method chosen (ACOG CO 700)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import click

from carepath.cli.common import ISO_DATE, fail, fail_on

if TYPE_CHECKING:
    from carepath.engine.clock import Dating


@click.command()
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
        fail_on(exc)
    report = _dating_report(result, date.today() if on is None else on)
    if report["gestational_days"] < 0:  # day 0+0 after the day asked about: a mistyped date
        fail("dating-in-the-future", _dating_sense(result, report))
    if output_format == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(_dating_text(report))
    if report["gestational_days"] > PLAUSIBLE_GESTATIONAL_DAYS:  # the dating stands; the GA does not
        click.echo(f"warning: past-any-pregnancy: {_dating_sense(result, report)}", err=True)


#: 44+0: no pregnancy runs longer; a GA beyond it means she has delivered or a date is wrong.
PLAUSIBLE_GESTATIONAL_DAYS = 44 * 7


def _dating_sense(result: Dating, report: dict[str, Any]) -> str:
    """Why a GA cannot be her GA today, naming the date that puts it there."""
    on = date.fromisoformat(report["on"])
    day_zero = result.implied_lmp
    if report["gestational_days"] < 0:
        return (
            f"this dating starts the pregnancy (GA 0+0) on {day_zero}, {(day_zero - on).days} day(s) after"
            f" {on}: check the date, or give --on for a later day"
        )
    return (
        f"GA {report['gestational_age']} on {on} is past 44+0: the pregnancy started (GA 0+0) on"
        f" {day_zero}, {(on - day_zero).days // 7} weeks ago; she has likely delivered; check the date"
    )


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
