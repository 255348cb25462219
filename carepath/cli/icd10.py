"""``carepath icd10 import``: a hospital's own ICD-10 catalogue, mapped to the WHO codes."""

from __future__ import annotations

import sys

import click

from carepath.cli.common import EXIT_INVALID, fail_on, load_app, print_problems


@click.group()
def icd10() -> None:
    """ICD-10 catalogues: the built-in WHO codes and each hospital's own extended codes."""


@icd10.command("import")
@click.option("--hospital", "hospital_id", required=True, help="The hospital whose catalogue this is.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def icd10_import(hospital_id: str, file: str) -> None:
    """Load a hospital's catalogue (CSV with columns code,name; UTF-8, UTF-8 with BOM or GBK).

    Replaces the hospital's earlier catalogue in one transaction; each code is mapped to the WHO
    code it extends (O24.401 -> O24.4). A bad row anywhere: every problem as FILE:LINE: CODE:
    message, exit 1, nothing written. Codes that extend no WHO code are imported and listed.
    """
    from datetime import UTC, datetime
    from pathlib import Path

    from carepath.errors import CarepathError
    from carepath.store import icd10 as catalogue

    app = load_app()
    try:
        parsed, report = catalogue.import_file(
            app.extensions["carepath.db"], hospital_id, Path(file), datetime.now(UTC)
        )
    except catalogue.CatalogueFileError as exc:
        print_problems((problem.located(file) for problem in exc.problems), err=True)
        click.echo(f"{len(exc.problems)} problem(s); nothing imported", err=True)
        sys.exit(EXIT_INVALID)
    except CarepathError as exc:
        fail_on(exc)
    for row in report.unmapped:
        click.echo(
            f"{file}:{row.line}: warning: icd10-unmapped: {row.code} extends no WHO ICD-10 code "
            "of the catalogue (imported; pathways match it only by its own prefix)"
        )
    total = report.added + report.updated + report.unchanged
    click.echo(
        f"{hospital_id}: {total} code(s) from {file} ({parsed.encoding}): {report.added} added, "
        f"{report.updated} updated, {report.unchanged} unchanged, {report.removed} removed; "
        f"{report.mapped} mapped to a WHO code, {len(report.unmapped)} unmapped"
    )
