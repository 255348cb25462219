"""``carepath content lint|go-live``: the education library and the forms.

``lint`` checks them as files. ``go-live`` lists the content items and forms that a hospital's
current pathways send to patients and no reviewer approved; it exits 1 when there is any, so
that a deployment can wait for the reviews (production sends only approved content;
``store/approvals.py``).
"""

from __future__ import annotations

import sys

import click

from carepath.cli.common import EXIT_INVALID, lang_option, load_app, print_problems

EXIT_UNAPPROVED = 1


@click.group()
def content() -> None:
    """Check the education library and the forms."""


@content.command("go-live")
@click.option("--hospital", "hospital_id", help="One hospital (default: every hospital).")
def go_live(hospital_id: str | None) -> None:
    """List the unapproved content and forms that published pathways use (exit 1 if any)."""
    from sqlalchemy import select

    from carepath.store import approvals, hospital_settings
    from carepath.store.models import Hospital

    app = load_app()
    unapproved = 0
    with app.extensions["carepath.db"].reading() as session:
        hospitals = list(session.scalars(select(Hospital.id).order_by(Hospital.id)))
        if hospital_id is not None:
            if hospital_id not in hospitals:
                click.echo(f"unknown-hospital: no hospital {hospital_id!r}", err=True)
                raise SystemExit(EXIT_UNAPPROVED)
            hospitals = [hospital_id]
        if not hospitals:
            raise click.UsageError("there is no hospital yet (carepath hospital create)")
        for hospital in hospitals:
            missing = approvals.go_live(session, hospital)
            unapproved += len(missing)
            for item in missing:
                state = "not approved" if item.exists else "missing"
                used = ", ".join(item.used_by[:3]) + (
                    f" and {len(item.used_by) - 3} more" if len(item.used_by) > 3 else ""
                )
                click.echo(f"{hospital}: {item.kind} {item.name}: {state} (sent by {used})")
            if missing and hospital_settings.get(session, hospital).drafts_allowed:
                click.echo(f"{hospital}: drafts_allowed is on: these are being sent to patients", err=True)
    if unapproved:
        click.echo(f"{unapproved} unapproved item(s): a reviewer approves each in /editor/review", err=True)
        raise SystemExit(EXIT_UNAPPROVED)
    click.echo("every content item and form the published pathways send is approved", err=True)


@content.command("lint")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--review", "list_review", is_flag=True, help="Also list each item's and form's review status.")
@lang_option
def content_lint(paths: tuple[str, ...], list_review: bool) -> None:
    """Lint content items (.md) and forms (.yaml); default: the built-in library.

    Prints one ``PATH:LINE:COL: CODE: message`` line per problem and a review summary on
    stderr; exits 1 if any error was found.
    """
    from pathlib import Path

    from carepath.delivery.rendering import check_template
    from carepath.engine.content_lint import lint_paths

    def template_check(text: str) -> list[tuple[int, str]]:
        return [(problem.line, problem.message) for problem in check_template(text)]

    report = lint_paths([Path(p) for p in paths], template_check=template_check)
    print_problems(report.problems)
    if list_review:
        for path, status in sorted(
            [(item.path, item.review_status) for item in report.items]
            + [(form.path, form.review_status) for form in report.forms]
        ):
            click.echo(f"{path}: review: {status}")
    counts = report.review_counts()
    click.echo(
        f"{len(report.items)} items, {len(report.forms)} forms; review: "
        f"{counts.get('draft', 0)} draft, {counts.get('approved', 0)} approved; "
        f"{len(report.errors)} errors",
        err=True,
    )
    if report.errors:
        sys.exit(EXIT_INVALID)
