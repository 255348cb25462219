"""``carepath qr create|list``: a hospital's sources and their QR codes (``store/sources.py``).

``create`` makes a source — a poster (hospital or ``--department``), a doctor's card
(``--doctor``), or a campaign (``--campaign NAME --days N``, 1 to 30) — prints its short URL
and, when the hospital has an official account in its channels file (``--config``, else
``CAREPATH_CHANNELS_CONFIG``), the account's parametric QR code's image URL; it writes the
codes as PNG and SVG in ``--out DIR`` (default: the instance's ``qr`` folder). ``list`` prints
the hospital's sources with their counts of scans, follows and registrations.

Short URLs are built on ``--base-url``, else the hospital's ``public_base_url`` setting
(``carepath hospital settings set``). Errors print ``error: CODE: message`` and exit 1;
usage errors exit 2.
"""

from __future__ import annotations

import json
from typing import Any

import click

from carepath.cli.common import fail, fail_on, load_app

FORMATS = click.Choice(["text", "json"])


@click.group()
def qr() -> None:
    """Sources (posters, doctors' cards, campaigns) and their QR codes."""


def _base_url(app: Any, hospital_id: str, given: str | None) -> str:
    from carepath.store import hospital_settings
    from carepath.store.models import Hospital

    with app.extensions["carepath.db"].reading() as session:
        if session.get(Hospital, hospital_id) is None:
            fail("unknown-hospital", f"no hospital {hospital_id!r}")
        found = hospital_settings.get(session, hospital_id).public_base_url
    if given:
        if not given.startswith(("http://", "https://")):
            fail("bad-base-url", f"--base-url must start with http:// or https://, not {given!r}")
        return given.rstrip("/")
    if not found:
        fail(
            "no-public-base-url",
            f"hospital {hospital_id!r} has no public_base_url: set it (carepath hospital settings set"
            " --hospital ... public_base_url=https://...) or pass --base-url",
        )
    return found.rstrip("/")


def _wechat(app: Any, hospital_id: str, config_path: str | None, client: Any) -> Any:
    """The hospital's official account's QR codes, or None when its channels file has none."""
    import os

    from carepath.cli.delivery import _token_store
    from carepath.delivery import receipts
    from carepath.delivery import sources as making

    paths = config_path or str(app.config.get("CHANNELS_CONFIG") or "")
    try:
        account = making.official_account(receipts.read_channels_files(paths), hospital_id, os.environ)
    except making.WechatConfigError as exc:
        fail_on(exc)
    except (OSError, ValueError) as exc:
        fail("wechat-config", f"the channels file cannot be read: {exc}")
    if account is None:
        return None
    return making.qr_codes(account, client, _token_store(app))


@qr.command("create")
@click.option("--hospital", "hospital_id", required=True, help="The hospital.")
@click.option("--department", help="The department's name (or id): a department's poster.")
@click.option("--doctor", help="The doctor's username (or staff id): her card.")
@click.option("--campaign", help="A campaign's name (needs --days): a temporary code.")
@click.option("--days", type=int, help="How long a campaign's WeChat code lives, 1 to 30 days.")
@click.option("--team", type=int, help="The care team (id) a woman registering through it joins.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Write the PNG and SVG codes here (default: the instance's qr folder).",
)
@click.option("--base-url", help="The public base URL of her pages (default: the hospital's setting).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    help="The hospital's channels file (default: CAREPATH_CHANNELS_CONFIG).",
)
@click.option("--format", "output_format", type=FORMATS, default="text", show_default=True)
def qr_create(
    *,
    hospital_id: str,
    department: str | None,
    doctor: str | None,
    campaign: str | None,
    days: int | None,
    team: int | None,
    out_dir: str | None,
    base_url: str | None,
    config_path: str | None,
    output_format: str,
) -> None:
    """Make a source and its QR codes; print its URLs."""
    from pathlib import Path

    from carepath.channels.base import ChannelError, make_http_client
    from carepath.cli.common import cli_actor
    from carepath.delivery import sources as making
    from carepath.errors import CarepathError
    from carepath.store import sources

    app = load_app()
    base = _base_url(app, hospital_id, base_url)
    client = make_http_client()
    try:
        wechat = _wechat(app, hospital_id, config_path, client)
        made = making.make_source(
            app.extensions["carepath.db"],
            hospital_id,
            app.config["CLOCK"](),
            cli_actor(hospital_id).label,
            department=department,
            doctor=doctor,
            campaign=campaign,
            days=days,
            wechat=wechat,
            team=team,
        )
    except ChannelError as exc:
        fail("wechat-qr-failed", f"WeChat did not make the QR code, nothing was saved: {exc}")
    except CarepathError as exc:
        fail_on(exc)
    finally:
        client.close()
    short = sources.short_url(base, made.source.code)
    # the command writes the pictures without --out: the instance's folder, as the demo's
    folder = Path(out_dir) if out_dir else Path(app.instance_path) / "qr"
    files = making.write_pictures(folder, made.source, short)
    found = {
        **made.source.as_json(),
        "short_url": short,
        "wechat_qr_url": made.wechat_show_url,
        "files": [str(path) for path in files],
    }
    if output_format == "json":
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    click.echo(f"source {made.source.code} ({made.source.qr_kind}) of {hospital_id}")
    click.echo(f"short URL:     {short}")
    if made.wechat_show_url:
        click.echo(f"WeChat QR:     {made.wechat_show_url}")
    for path in files:
        click.echo(f"wrote {path}")


@qr.command("list")
@click.option("--hospital", "hospital_id", required=True, help="The hospital.")
@click.option("--base-url", help="The public base URL of her pages (default: the hospital's setting).")
@click.option("--format", "output_format", type=FORMATS, default="text", show_default=True)
def qr_list(hospital_id: str, base_url: str | None, output_format: str) -> None:
    """The hospital's sources with their counts of scans, follows and registrations."""
    from carepath.channels.wechat_qr import show_url
    from carepath.errors import CarepathError
    from carepath.store import sources

    app = load_app()
    base = _base_url(app, hospital_id, base_url)
    try:
        with app.extensions["carepath.db"].reading() as session:
            found = sources.list_sources(session, hospital_id)
    except CarepathError as exc:
        fail_on(exc)
    rows = [
        {
            **view.as_json(),
            "short_url": sources.short_url(base, view.code),
            "wechat_qr_url": show_url(view.wechat_ticket) if view.wechat_ticket else None,
        }
        for view in found
    ]
    if output_format == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo(f"no sources in {hospital_id} yet (carepath qr create --hospital {hospital_id})")
        return
    click.echo(f"{'code':<9} {'kind':<9} {'scans':>6} {'follows':>7} {'registered':>10}  what")
    for view, row in zip(found, rows, strict=True):
        what = " / ".join(filter(None, [view.department, view.doctor, view.campaign])) or "(hospital)"
        counts = view.counts
        click.echo(
            f"{view.code:<9} {view.qr_kind:<9} {counts.scans:>6} {counts.follows:>7}"
            f" {counts.registrations:>10}  {what}  {row['short_url']}"
        )
