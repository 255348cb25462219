"""``carepath inbox show``: one pregnancy's in-app inbox, as the mini program shows it."""

from __future__ import annotations

import click

from carepath.cli.common import cli_actor, load_app


@click.group()
def inbox() -> None:
    """Her in-app inbox (what the mini program shows)."""


@inbox.command("show")
@click.option("--pregnancy", "pregnancy_id", help="A pregnancy id.")
@click.option(
    "--patient", "his_patient_id", help="Her HIS patient id (her latest pregnancy); needs --hospital."
)
@click.option("--hospital", "hospital_id", help="The hospital (with --patient).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 200))
@click.option("--body", "with_body", is_flag=True, help="Print each item's full text too.")
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def inbox_show(
    *,
    pregnancy_id: str | None,
    his_patient_id: str | None,
    hospital_id: str | None,
    limit: int,
    with_body: bool,
    output_format: str,
) -> None:
    """One pregnancy's inbox, newest first, and what still waits in her outbox (audited)."""
    import json
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from carepath.store import inbox as inbox_service

    if (pregnancy_id is None) == (his_patient_id is None) or (his_patient_id and not hospital_id):
        raise click.UsageError("give --pregnancy ID, or --patient HIS_ID with --hospital H")
    app = load_app()
    database, now = app.extensions["carepath.db"], app.config["CLOCK"]()
    try:
        hospital, pregnancy = inbox_service.locate_pregnancy(
            database, pregnancy_id=pregnancy_id, hospital_id=hospital_id, his_patient_id=his_patient_id
        )
    except inbox_service.PregnancyNotFoundError as error:
        raise click.ClickException(f"{error.code}: {error.message}") from None
    actor = cli_actor(hospital)
    page = inbox_service.list_inbox(database, actor, pregnancy, now, limit=limit)
    waiting = inbox_service.waiting(database, hospital, pregnancy)
    if output_format == "json":
        page["waiting"] = [{"at": at.isoformat(), "count": count} for at, count in waiting]
        click.echo(json.dumps(page, ensure_ascii=False, indent=2))
        return
    shanghai = ZoneInfo("Asia/Shanghai")
    click.echo(
        f"inbox of pregnancy {pregnancy} (hospital {hospital}): "
        f"{page['total']} item(s), {page['unread']} unread"
    )
    for item in page["items"]:
        filed = datetime.fromisoformat(item["filed_at"]).astimezone(shanghai)
        mark = "  " if item["read_at"] else "* "
        click.echo(f"{mark}{filed:%Y-%m-%d %H:%M} #{item['id']} [{item['kind']}] {item['title']}")
        if with_body:
            click.echo("    " + item["body"].strip().replace("\n", "\n    "))
    for at, count in waiting:
        note = "due now" if at <= now else f"in {str(at - now).split('.')[0]}"
        click.echo(
            f"waiting: {count} message(s) at {at.astimezone(shanghai):%Y-%m-%d %H:%M} Asia/Shanghai ({note})"
        )
