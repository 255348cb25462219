"""``carepath audit purge --older-than DAYS``: delete audit rows older than DAYS days, never
fewer than 183 (six months, Cybersecurity Law art. 21; ``store/audit_retention.py``)."""

from __future__ import annotations

import click

from carepath.cli.common import fail_on, load_app


@click.group()
def audit() -> None:
    """The audit log (who read or changed patient data)."""


@audit.command("purge")
@click.option(
    "--older-than",
    "older_than",
    type=int,
    required=True,
    metavar="DAYS",
    help="Delete rows older than DAYS days; at least 183 (six months).",
)
def audit_purge(older_than: int) -> None:
    """Delete audit rows older than DAYS days (refused under 183: exit 1, nothing deleted)."""
    import getpass
    from datetime import UTC, datetime

    from carepath.store import audit_retention

    try:
        audit_retention.cutoff(older_than, datetime.now(UTC))
    except audit_retention.RetentionFloorError as error:
        fail_on(error)
    app = load_app()
    purged = audit_retention.purge(
        app.extensions["carepath.db"], older_than, datetime.now(UTC), by=getpass.getuser()
    )
    for hospital_id, count in purged.items():
        click.echo(f"{hospital_id}: purged {count} row(s)")
    click.echo(f"purged {sum(purged.values())} audit row(s) older than {older_than} days", err=True)
