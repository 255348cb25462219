"""``carepath team create|list|add-member|set-lead``: a hospital's care teams (issue 20), the
same service as the /staff/teams page (``store/care_teams.py``), audited as done at this terminal."""

from __future__ import annotations

import click

from carepath.cli.common import cli_actor, fail_on, load_app
from carepath.store.models_teams import TEAM_KINDS, TEAM_ROLES  # tables of names, no heavy import


@click.group()
def team() -> None:
    """Care teams: their members, roles and leads."""


@team.command("create")
@click.option("--hospital", "hospital_id", required=True, help="The hospital the team belongs to.")
@click.option("--name", required=True, help="The team's name, e.g. 产科一组 (unique in the hospital).")
@click.option("--kind", type=click.Choice(TEAM_KINDS), default="obstetric", show_default=True)
@click.option("--default", "is_default", is_flag=True, help="Make it the hospital's default team.")
def team_create(hospital_id: str, name: str, kind: str, is_default: bool) -> None:
    """Create a team and print its id."""
    from datetime import UTC, datetime

    from carepath.errors import CarepathError
    from carepath.store import care_teams

    app = load_app()
    try:
        team_id = care_teams.create_team(
            app.extensions["carepath.db"],
            cli_actor(hospital_id),
            name,
            kind,
            datetime.now(UTC),
            default=is_default,
        )
    except CarepathError as exc:
        fail_on(exc)
    click.echo(str(team_id))


@team.command("list")
@click.option("--hospital", "hospital_id", required=True)
def team_list(hospital_id: str) -> None:
    """The hospital's active teams: id, name, kind, lead and members (name:team role)."""
    from carepath.store import care_teams

    app = load_app()
    with app.extensions["carepath.db"].reading() as session:
        teams = care_teams.list_teams(session, hospital_id)
    for t in teams:
        lead = f"{t.lead.name}({t.lead.id})" if t.lead else "-"
        members = " ".join(f"{m.name}({m.staff_id}):{m.team_role}" for m in t.members) or "-"
        default = " default" if t.is_default else ""
        click.echo(f"{t.id}\t{t.name}\t{t.kind}{default}\tlead={lead}\t{members}")


@team.command("add-member")
@click.option("--hospital", "hospital_id", required=True)
@click.option("--team", "team_id", type=int, required=True)
@click.option("--staff", "staff_id", type=int, required=True, help="The staff member's id.")
@click.option(
    "--role", "team_role", type=click.Choice(TEAM_ROLES), required=True, help="Their role in the team."
)
def team_add_member(hospital_id: str, team_id: int, staff_id: int, team_role: str) -> None:
    """Add a staff member to a team (or change their role in it)."""
    from datetime import UTC, datetime

    from carepath.errors import CarepathError
    from carepath.store import care_teams

    app = load_app()
    try:
        care_teams.add_member(
            app.extensions["carepath.db"], cli_actor(hospital_id), team_id, staff_id,
            team_role=team_role, now=datetime.now(UTC),
        )  # fmt: skip
    except CarepathError as exc:
        fail_on(exc)
    click.echo(f"staff {staff_id} is {team_role} in team {team_id}")


@team.command("set-lead")
@click.option("--hospital", "hospital_id", required=True)
@click.option("--team", "team_id", type=int, required=True)
@click.option("--staff", "staff_id", type=int, help="A member's id; leave out for no lead.")
def team_set_lead(hospital_id: str, team_id: int, staff_id: int | None) -> None:
    """Set the team's lead: who receives its overdue tasks."""
    from datetime import UTC, datetime

    from carepath.errors import CarepathError
    from carepath.store import care_teams

    app = load_app()
    try:
        care_teams.set_lead(
            app.extensions["carepath.db"], cli_actor(hospital_id), team_id, staff_id, datetime.now(UTC)
        )
    except CarepathError as exc:
        fail_on(exc)
    click.echo(f"team {team_id}: lead is {staff_id if staff_id is not None else 'nobody'}")
