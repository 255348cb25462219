"""``carepath hospital settings show|set|import``: a hospital's settings from the command line
(the back office will have a page). Values are checked by ``store/hospital_settings.py``; a
refused value prints ``SETTING: CODE: message`` and exits 1, with nothing written.
``import_settings`` also runs on ``serve --config`` and ``delivery run --config``.
"""

from __future__ import annotations

import json
from typing import Any

import click

from carepath.cli.common import cli_actor, fail_with, load_app


@click.group("settings")
def settings() -> None:
    """A hospital's settings: send window, daily cap, drafts, contacts, hours, base URL."""


def _one_hospital(session: Any, hospital_id: str | None) -> str:
    """``--hospital``, or the only hospital there is."""
    from sqlalchemy import select

    from carepath.store.models import Hospital

    known = list(session.scalars(select(Hospital.id).order_by(Hospital.id)))
    if hospital_id is not None:
        if hospital_id not in known:
            fail_with([f"unknown-hospital: no hospital {hospital_id!r}"])
        return hospital_id
    if len(known) != 1:
        raise click.UsageError(
            f"name the hospital with --hospital ({', '.join(known) or 'there is none yet'})"
        )
    return str(known[0])


@settings.command("show")
@click.option("--hospital", "hospital_id", help="The hospital (default: the only one).")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
def settings_show(hospital_id: str | None, output_format: str) -> None:
    """Print a hospital's settings (the defaults when none were stored)."""
    from carepath.store import hospital_settings

    with load_app().extensions["carepath.db"].reading() as session:
        hospital_id = _one_hospital(session, hospital_id)
        current = hospital_settings.get(session, hospital_id)
    shown = hospital_settings.as_json(current, hospital_id)
    if output_format == "json":
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2))
        return
    if current.version:
        click.echo(
            f"hospital {hospital_id}: version {current.version}, "
            f"changed {shown['updated_at']} by {current.updated_by}"
        )
    else:
        click.echo(f"hospital {hospital_id}: no settings stored, these are the defaults")
    for setting in hospital_settings.FIELDS:
        value = shown["settings"][setting.name]
        text = "(not set)" if value is None else json.dumps(value, ensure_ascii=False)
        click.echo(f"  {setting.name:<16} {text}")
        click.echo(f"  {'':<16} {setting.description}")
    for warning in shown["warnings"]:
        click.echo(f"warning: {warning}")


@settings.command("set")
@click.option("--hospital", "hospital_id", required=True, help="The hospital.")
@click.argument("assignments", nargs=-1, required=True, metavar="KEY=VALUE...")
def settings_set(hospital_id: str, assignments: tuple[str, ...]) -> None:
    """Change settings, e.g. `daily_cap=2 window_opens=08:30`; JSON for on_call and
    working_hours. Every value is checked first: one bad value and nothing is written."""
    from carepath.store import hospital_settings

    changes: dict[str, str] = {}
    for assignment in assignments:
        key, equals, value = assignment.partition("=")
        if not equals or not key.strip():
            raise click.UsageError(f"{assignment!r}: write KEY=VALUE")
        changes[key.strip()] = value
    app = load_app()
    try:
        with app.extensions["carepath.db"].transaction() as session:
            updated = hospital_settings.update(
                session, hospital_id, changes, actor=cli_actor(hospital_id), now=app.config["CLOCK"]()
            )
    except hospital_settings.InvalidSettingsError as error:
        fail_with(error.problems)
    except hospital_settings.UnknownHospitalError as error:
        fail_with([f"{error.code}: {error.message}"])
    click.echo(f"hospital {hospital_id}: settings version {updated.version}")


@settings.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--hospital", "hospital_id", help="The hospital (default: the file's `hospital:`).")
def settings_import(file: str, hospital_id: str | None) -> None:
    """Copy a channels file's `delivery:` window and daily cap into the hospital's settings,
    once: a hospital that has settings keeps them (the database wins)."""
    from pathlib import Path

    import yaml

    config = yaml.safe_load(Path(file).read_text(encoding="utf-8")) or {}
    hospital_id = hospital_id or config.get("hospital")
    if not hospital_id:
        raise click.UsageError(f"{file} names no `hospital:`; give --hospital")
    result = import_settings(load_app(), config, file, hospital_id=str(hospital_id), strict=True)
    if result is None:
        return
    if result.created:
        click.echo(
            f"hospital {hospital_id}: settings imported from {file} (version {result.settings.version})"
        )
        return
    click.echo(
        f"hospital {hospital_id} has settings already (version {result.settings.version}); the "
        "database wins: change them with `carepath hospital settings set`"
    )
    for name, from_file, in_database in result.ignored:
        click.echo(f"  ignored {name} {from_file} from {file} (database: {in_database})")


def import_settings(
    app: Any, config: dict[str, Any], path: str, *, hospital_id: str | None = None, strict: bool = False
) -> Any:
    """The one-time import on `serve --config`, `delivery run --config` and `hospital settings
    import`: None when there was nothing to import into (no such hospital yet; an error when
    ``strict``). A refused value stops the command with the located problems."""
    import logging

    from carepath.store import hospital_settings
    from carepath.store.models import Hospital

    hospital_id = hospital_id or config.get("hospital")
    delivery = config.get("delivery") or {}
    if not hospital_id or not isinstance(delivery, dict):
        return None
    with app.extensions["carepath.db"].transaction() as session:
        if session.get(Hospital, hospital_id) is None:
            if strict:
                fail_with([f"unknown-hospital: no hospital {hospital_id!r}; create it first"])
            logging.getLogger("carepath.cli").warning(
                "%s: hospital %s does not exist yet; its settings are not imported", path, hospital_id
            )
            return None
        try:
            return hospital_settings.import_delivery(
                session,
                str(hospital_id),
                delivery,
                source=path,
                actor=cli_actor(str(hospital_id)),
                now=app.config["CLOCK"](),
            )
        except hospital_settings.InvalidSettingsError as error:
            fail_with(error.problems)
    return None
