"""``carepath demo setup``: synthetic demo data for ``make run`` (never a real patient)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from carepath.cli.common import load_app


@click.group()
def demo() -> None:
    """Synthetic demo data for `make run`."""


@demo.command("setup")
@click.option("--instance", default="instance", show_default=True, help="Instance folder (git-ignored).")
@click.option("--examples", default="examples", show_default=True, help="Examples folder (patients).")
@click.option(
    "--pathways",
    "pathways_dir",
    help="Pathways to publish (default: the built-in library, carepath/pathways/).",
)
@click.option(
    "--url",
    "base_url",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Where `carepath serve` will answer (make run passes HOST and PORT), for the printed hints.",
)
def demo_setup(instance: str, examples: str, pathways_dir: str | None, base_url: str) -> None:
    """Keys, database, example pathways, a demo hospital, key, pregnancies and staff logins
    (random passwords, printed)."""
    import os
    from pathlib import Path

    from carepath.store import demo as demo_data
    from carepath.store.db import upgrade
    from carepath.store.models import ApiKey

    folder = Path(instance).resolve()
    demo_data.instance_config(folder, os.environ.get("CAREPATH_DATABASE_URL"))
    os.environ["CAREPATH_INSTANCE_PATH"] = str(folder)
    app = load_app()
    upgrade(app.config["DATABASE_URL"])
    database, cipher = app.extensions["carepath.db"], app.extensions["carepath.cipher"]
    now = app.config["CLOCK"]()  # the demo's dates are relative to this day
    from carepath.engine.catalogue import PATHWAYS_DIR

    count = demo_data.publish_examples(database, Path(pathways_dir) if pathways_dir else PATHWAYS_DIR, now)
    key = demo_data.demo_key(database, cipher, folder, now)
    with database.reading() as session:
        integrator_id = session.get(ApiKey, key["key_id"]).integrator_id  # type: ignore[union-attr]
    patients = demo_data.register_patients(database, cipher, integrator_id, Path(examples) / "patients", now)
    from carepath.store import lookups

    lookups.backfill(database, cipher)  # a demo set up before 0026: her name's hash, to find her by it
    logins = demo_data.demo_staff(database, folder, now, app.config["PASSWORD_HASHER"])
    from carepath.store import demo_teams

    team_id = demo_teams.setup(database, cipher, integrator_id, patients, now)  # 产科一组, its work
    if demo_data.demo_settings(database, Path(examples), now, base_url.rstrip("/")).drafts_allowed:
        click.echo("the demo hospital sends unapproved content (drafts_allowed; staff pages warn)")
    click.echo(f"published {count} pathway versions; demo hospital {key['hospital']!r}")
    click.echo(
        f"demo pregnancies: {', '.join(patients)} (team {demo_teams.DEMO_TEAM}: demo-doctor, demo-nurse)"
    )
    click.echo(f"demo key id {key['key_id']} (secret in {folder / 'demo-key.json'})")
    base_url = base_url.rstrip("/")
    click.echo(
        f"post a signed event:  .venv/bin/python examples/post_event.py --key {folder / 'demo-key.json'}"
        f" --url {base_url}"
    )
    if patients:
        click.echo(
            f"her inbox:            .venv/bin/carepath inbox show --hospital {key['hospital']} "
            f"--patient {patients[0]}"
        )
    _her_qr_code(database, folder, now, base_url)
    demo_teams.join_source(database, team_id)  # a newcomer through the demo's QR joins 产科一组
    if patients:
        click.echo(f"her pages, signed in as {patients[0]}: {base_url}{_demo_sign_in(app, patients[0])}")
    if demo_teams.URGENT_FOR in patients:
        click.echo(
            f"her pages, signed in as {demo_teams.URGENT_FOR} (her BP log is due): "
            f"{base_url}{_demo_sign_in(app, demo_teams.URGENT_FOR)}"
        )
    if patients:
        click.echo(
            f"find a woman by name:  {base_url}/staff/patients, 姓名 {demo_data.demo_name(1)} ({patients[0]})"
        )
    click.echo(f"staff logins at {base_url}/login (demo passwords, also in {folder / 'demo-staff.json'}):")
    for login in logins:
        click.echo(f"  {login['username']:<14} {login['password']}   ({login['roles']})")


def _demo_sign_in(app: object, his_id: str) -> str:
    """The path that signs in as a demo patient on her pages (a demo instance only)."""
    from sqlalchemy import select

    from carepath.store.demo import DEMO_HOSPITAL
    from carepath.store.models import Patient
    from carepath.webapi.h5.demo import demo_token

    with app.extensions["carepath.db"].reading() as session:  # type: ignore[attr-defined]
        patient = session.scalar(
            select(Patient.id).where(Patient.hospital_id == DEMO_HOSPITAL, Patient.his_patient_id == his_id)
        )
    return f"/h5/demo/sign-in/{demo_token(app.secret_key, int(patient))}"  # type: ignore[attr-defined]


def _her_qr_code(database: Any, folder: Path, now: Any, base_url: str) -> None:
    """The demo hospital's QR URL (the demo doctor's card; issue 18), printed and drawn into the
    instance folder: open it at a phone's size, or scan the PNG, to register as a new woman."""
    from carepath.delivery.sources import write_pictures
    from carepath.store import demo as demo_data
    from carepath.store import sources

    code = demo_data.demo_source(database, now)
    url = sources.short_url(base_url, code)
    with database.reading() as session:
        [view] = sources.views(session, [sources.find_by_code(session, code)])  # type: ignore[list-item]
    write_pictures(folder / "qr", view, url)
    click.echo(f"her QR URL:           {url}   (QR code in {folder / 'qr' / code}.png)")
