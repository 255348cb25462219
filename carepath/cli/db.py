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


@db.command("backfill-lookups")
@click.option(
    "--page", type=click.IntRange(min=1), default=1000, show_default=True, help="Rows per transaction."
)
def db_backfill_lookups(page: int) -> None:
    """Fill the search lookups rows written before migration 0026 lack (names' keyed hashes,
    stored EDDs), page by page with the configured keys; safe to stop and run again."""
    from carepath.store.lookups import backfill

    app = load_app()
    done = backfill(app.extensions["carepath.db"], app.extensions["carepath.cipher"], page=page)
    click.echo(f"filled {done.names} name lookups and {done.edds} stored EDDs", err=True)
