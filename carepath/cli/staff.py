"""``carepath staff add|create|unlock``: staff members, their logins and locked accounts."""

from __future__ import annotations

import sys

import click

from carepath.cli.common import fail_on, load_app
from carepath.store.roles import ROLES  # a table of names, no heavy import


@click.group()
def staff() -> None:
    """Staff members and their logins."""


@staff.command("add")
@click.option("--hospital", "hospital_id", required=True, help="The hospital they work for.")
@click.option("--name", required=True, help="Their name.")
@click.option(
    "--role",
    required=True,
    help="Their job: doctor, nurse, midwife, admin (escalations go to a care team's lead).",
)
def staff_add(hospital_id: str, name: str, role: str) -> None:
    """Add a staff member and print their id (for the X-Carepath-Staff header)."""
    from carepath.errors import CarepathError
    from carepath.store.tasks import add_staff

    app = load_app()
    try:
        staff_id = add_staff(app.extensions["carepath.db"], hospital_id, name[:100], role[:40])
    except CarepathError as exc:
        fail_on(exc)
    click.echo(str(staff_id))


@staff.command("create")
@click.option("--hospital", "hospital_id", required=True, help="The hospital they work for.")
@click.option("--username", required=True, help="Their login name (unique across hospitals).")
@click.option(
    "--role",
    "roles",
    required=True,
    multiple=True,
    type=click.Choice(ROLES),
    help="A permission role (carepath/store/roles.py); repeat the option for several.",
)
@click.option("--name", help="Their name (default: the username).")
@click.option("--job", help="Their job: doctor, nurse, midwife ... (default: the first role).")
def staff_create(
    hospital_id: str, username: str, roles: tuple[str, ...], name: str | None, job: str | None
) -> None:
    """Create a staff login, e.g. the hospital's first admin. The password is prompted for (or
    read from the first line of stdin when it is not a terminal), never taken from arguments."""
    from datetime import UTC, datetime

    from carepath.errors import CarepathError
    from carepath.store import accounts

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    app = load_app()
    try:
        created = accounts.create_account(
            app.extensions["carepath.db"],
            hospital_id,
            username,
            password,
            list(roles),
            now=datetime.now(UTC),
            name=name,
            job=job,
            profile=app.config["PASSWORD_HASHER"],
        )
    except CarepathError as exc:
        fail_on(exc)
    click.echo(f"created staff {created.id} {created.username} ({', '.join(created.roles)}) in {hospital_id}")


@staff.command("unlock")
@click.argument("username")
def staff_unlock(username: str) -> None:
    """Unlock a login that failed logins locked (from any address), audited as done by the CLI."""
    from datetime import UTC, datetime

    from carepath.errors import CarepathError
    from carepath.store import accounts

    app = load_app()
    try:
        unlocked = accounts.unlock_username(app.extensions["carepath.db"], username, datetime.now(UTC))
    except CarepathError as exc:
        fail_on(exc)
    click.echo(f"unlocked staff {unlocked.id} {unlocked.username} in {unlocked.hospital_id}")
