"""``carepath db upgrade``: the store's schema, migrated by Alembic."""

from __future__ import annotations

import click

from carepath.cli.common import load_app


@click.group()
def db() -> None:
    """The store's database."""


@db.command("upgrade")
@click.option("--url", help="Database URL (default: the app's DATABASE_URL).")
def db_upgrade(url: str | None) -> None:
    """Create or migrate the schema to the newest revision (Alembic)."""
    from carepath.store.db import upgrade

    target = url or load_app().config["DATABASE_URL"]
    upgrade(target)
    click.echo(f"database at head: {_safe_url(target)}", err=True)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
