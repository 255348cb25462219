"""``carepath library adopt``: a hospital adopts a release of the shipped library, the women
already enrolled moved to it (issue 17 item 14; ``store/release.py`` says what that means).

Exit codes: 0 adopted, or nothing left to adopt; 1 an error (no release, not a safety
release, an unknown hospital, a library that does not compile); 2 a usage error (``--safety``
missing); 3 adopted what the command may, but the hospital's own copies of documents in the
release wait for its review on the editor's upstream page (listed).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from carepath.cli.common import cli_actor, fail, load_app

#: Adopted what it could; the hospital's own copies need its review (see the module's text).
EXIT_REVIEW_NEEDED = 3


@click.group()
def library() -> None:
    """The shipped library: releases and their adoption by a hospital."""


@library.command("adopt")
@click.option("--hospital", "hospital_id", required=True, help="The hospital adopting the release.")
@click.option(
    "--safety",
    is_flag=True,
    help="Required: adopt the safety-relevant release, moving the women already enrolled to it.",
)
@click.option("--weeks", type=click.IntRange(1, 26), default=8, show_default=True, help="Impact window.")
@click.option("--dry-run", "dry_run", is_flag=True, help="Print the impact; publish and move nothing.")
def library_adopt(hospital_id: str, safety: bool, weeks: int, dry_run: bool) -> None:
    """Print the cohort impact of the shipped safety release for a hospital, then publish its
    pathways with migrate (the women already enrolled move to them)."""
    if not safety:
        raise click.UsageError(
            "--safety is required: this command adopts only a safety-relevant release"
            " (others go through the editor's upstream review)"
        )
    app = load_app()
    database = app.extensions["carepath.db"]
    try:  # the engine's connections closed however the command ends (an exit code included)
        _adopt(database, app.config["CLOCK"](), hospital_id, weeks=weeks, dry_run=dry_run)
    finally:
        database.dispose()


def _adopt(database: Any, now: Any, hospital_id: str, *, weeks: int, dry_run: bool) -> None:
    from carepath.engine.forms import make_scorer
    from carepath.engine.runtime import Settings
    from carepath.store import release
    from carepath.store.models import Hospital

    try:
        with database.reading() as session:
            if session.get(Hospital, hospital_id) is None:
                fail("unknown-hospital", f"no hospital {hospital_id!r}")
            found = release.pending(session, hospital_id)
            if found is None:
                fail("no-release", "the shipped library has no release manifest")
            if not found.release.safety:
                fail("not-a-safety-release", f"release {found.release.version} is not marked safety: true")
            report = (
                release.impact(
                    session, hospital_id, found, now, weeks=weeks, settings=Settings(scorer=make_scorer())
                )
                if found.builtin
                else None
            )
    except release.ReleaseError as error:
        fail(error.code, error.message)
    _print_release(found, report, weeks)
    if dry_run or not found.builtin:
        if not found.builtin:
            click.echo(
                "nothing to publish: every pathway of the release is current"
                " and no one is left on an older version"
            )
        _exit_for(found)
        return
    with database.transaction() as session:
        again = release.pending(session, hospital_id)  # under the write: what is still pending now
        assert again is not None
        moved = release.adopt(session, hospital_id, again, now, cli_actor(hospital_id))
    for pathway_id, count in sorted(moved.items()):
        click.echo(
            f"published {pathway_id}@{again.versions[pathway_id]} (built-in); moved {count} enrolment(s)"
        )
    _exit_for(found)


def _print_release(found: Any, report: dict[str, Any] | None, weeks: int) -> None:
    click.echo(f"release {found.release.version} (safety: {'yes' if found.release.safety else 'no'})")
    click.echo(found.release.summary)
    for pathway_id in sorted(found.builtin):
        click.echo(
            f"  {pathway_id}: {found.pinned.get(pathway_id, 0)} active enrolment(s) on an older version"
        )
    if report is not None:
        click.echo(f"impact over the next {weeks} week(s): {report['patients']} pregnancies in care")
        for choice, label in (("migrate", "move (proposed)"), ("pin", "stay pinned")):
            part = report[choice]
            click.echo(f"  {label}: {part['affected_patients']} pregnancies affected")
            for row in part["by_action"]:
                click.echo(
                    f"    {row['pathway']}/{row['rule']} {row['action']}: +{row['patients_gaining']}"
                    f" -{row['patients_losing']} ~{row['patients_moved']} pregnancies"
                )


def _exit_for(found: Any) -> None:
    if found.own:
        for change in found.own:
            click.echo(
                f"review needed: {change.kind} {change.name}: the hospital's own copy; adopt it on"
                " /editor/review and publish it choosing to move enrolled women",
                err=True,
            )
        sys.exit(EXIT_REVIEW_NEEDED)
