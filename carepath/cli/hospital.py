"""``carepath hospital create``: hospitals (tenants). ``hospital settings`` is in
``hospital_settings.py``; the tree is assembled in ``__init__.py``."""

from __future__ import annotations

import click

from carepath.cli.common import load_app


@click.group()
def hospital() -> None:
    """Hospitals (tenants)."""


@hospital.command("create")
@click.argument("hospital_id")
@click.option("--name", required=True, help="The hospital's name.")
def hospital_create(hospital_id: str, name: str) -> None:
    """Create a hospital (does nothing if it exists)."""
    from datetime import UTC, datetime

    from carepath.store.tenants import ensure_hospital

    app = load_app()
    with app.extensions["carepath.db"].transaction() as session:
        ensure_hospital(session, hospital_id, name, datetime.now(UTC))
    click.echo(hospital_id)
