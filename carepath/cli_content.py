"""``carepath content go-live``: the content items and forms that a hospital's current pathways
send to patients and no reviewer approved. Exits 1 when there is any, so that a deployment
can wait for the reviews (production sends only approved content; ``store/approvals.py``).
"""

from __future__ import annotations

import click

EXIT_UNAPPROVED = 1


@click.command("go-live")
@click.option("--hospital", "hospital_id", help="One hospital (default: every hospital).")
def go_live(hospital_id: str | None) -> None:
    """List the unapproved content and forms that published pathways use (exit 1 if any)."""
    from sqlalchemy import select

    from carepath.store import approvals, hospital_settings
    from carepath.store.models import Hospital
    from carepath.webapi import create_app

    app = create_app()
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
