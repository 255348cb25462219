"""``carepath tasks escalate``: overdue staff tasks go to their hospital's team lead."""

from __future__ import annotations

import click

from carepath.cli.common import load_app


@click.group()
def tasks() -> None:
    """Staff tasks."""


@tasks.command("escalate")
def tasks_escalate() -> None:
    """Escalate overdue open tasks to their hospital's team lead, once (what the scheduler calls)."""
    from datetime import UTC, datetime

    from carepath.store.tasks import escalate_overdue

    app = load_app()
    escalated = escalate_overdue(app.extensions["carepath.db"], datetime.now(UTC))
    for item in escalated:
        click.echo(f"task {item.task_id} ({item.hospital_id}): {item.lead or 'no team lead on file'}")
    click.echo(f"escalated {len(escalated)} task(s)", err=True)
