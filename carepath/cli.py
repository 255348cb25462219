"""The ``carepath`` command line: one root group, noun/verb subgroups.

Heavy imports live inside the commands so that ``carepath --help`` stays fast. Errors are
translated here, once: located problems print as ``PATH:LINE:COL: CODE: message`` and exit 1;
usage errors exit 2 (click's own convention).
"""

from __future__ import annotations

import sys

import click

EXIT_INVALID = 1


@click.group()
@click.version_option(package_name="carepath")
def cli() -> None:
    """carepath: care pathways for the pregnancy school and prenatal care."""


@cli.group()
def pathway() -> None:
    """Validate, dry-run and simulate pathways."""


def main() -> None:
    """Console entry point."""
    cli(prog_name="carepath")


@cli.group()
def content() -> None:
    """Check the education library and the forms."""


@content.command("lint")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--review", "list_review", is_flag=True, help="Also list each item's and form's review status."
)
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
    for problem in report.problems:
        click.echo(str(problem))
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(cli())
