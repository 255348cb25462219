"""``carepath apikey create|revoke``: the keys integrators (the HIS) sign their requests with."""

from __future__ import annotations

import click

from carepath.cli.common import fail, fail_on, load_app


@click.group()
def apikey() -> None:
    """Integrator API keys."""


@apikey.command("create")
@click.option("--hospital", "hospital_id", required=True, help="The hospital the key acts for.")
@click.option("--integrator", default="his", show_default=True, help="The integrator's name.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
def apikey_create(hospital_id: str, integrator: str, output_format: str) -> None:
    """Create a key; the secret is printed once and cannot be shown again."""
    import json
    from datetime import UTC, datetime

    from carepath.errors import CarepathError
    from carepath.store.tenants import create_api_key

    app = load_app()
    try:
        with app.extensions["carepath.db"].transaction() as session:
            key = create_api_key(
                session, app.extensions["carepath.cipher"], hospital_id, integrator, datetime.now(UTC)
            )
    except CarepathError as exc:
        fail_on(exc)
    if output_format == "json":
        click.echo(json.dumps({"key_id": key.key_id, "secret": key.secret, "hospital": hospital_id}))
    else:
        click.echo(
            f"key id: {key.key_id}\nsecret: {key.secret}\n(store the secret now; it is not shown again)"
        )


@apikey.command("revoke")
@click.argument("key_id")
def apikey_revoke(key_id: str) -> None:
    """Revoke a key at once."""
    from datetime import UTC, datetime

    from carepath.store.tenants import revoke_api_key

    app = load_app()
    with app.extensions["carepath.db"].transaction() as session:
        found = revoke_api_key(session, key_id, datetime.now(UTC))
    if not found:
        fail("unknown-key", f"no key {key_id}")
