"""``carepath serve``: the API, with the scheduler and dispatcher in the same process unless
``--no-scheduler``."""

from __future__ import annotations

from typing import Any

import click

from carepath.cli.common import load_app
from carepath.cli.scheduler import (
    CONFIG_OPTION,
    log_to_stderr,
    start_scheduler,
    stop_scheduler,
    with_interval_options,
)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-scheduler", is_flag=True, help="The API only (a scheduler runs elsewhere).")
@CONFIG_OPTION
@with_interval_options
def serve(
    *, host: str, port: int, no_scheduler: bool, config_path: str | None, sweep: float, dispatch: float
) -> None:
    """Serve the API with the scheduler and dispatcher in the same process (the embedded
    default; threaded, for one machine; gunicorn and `carepath scheduler` for more)."""
    app = load_app()
    if config_path:  # the WeChat callback endpoint reads its accounts' tokens from it too
        app.config["CHANNELS_CONFIG"] = config_path
    running = None
    _stop_on_sigterm()
    try:
        if not no_scheduler:
            log_to_stderr()
            running = start_scheduler(app, config_path, sweep, dispatch)
            _print_inbox_hint(app, host, port)
        app.run(host=host, port=port, threaded=True, use_reloader=False)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM before the server took over listening for it
        pass
    finally:
        if running is not None:
            stop_scheduler(running)


def _stop_on_sigterm() -> None:
    """SIGTERM (systemd, docker stop, kill) stops like Ctrl-C: the server returns and the
    scheduler releases its lock, instead of leaving the lease for the next start to wait out."""
    import signal

    def interrupt(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _print_inbox_hint(app: Any, host: str, port: int) -> None:
    """How to watch messages arrive: the console channel logs each one here; her inbox holds
    the full text of every item."""
    from sqlalchemy import select

    from carepath.store.models import OutboxRow

    with app.extensions["carepath.db"].reading() as session:
        pregnancy = session.scalar(
            select(OutboxRow.pregnancy_id)
            .where(OutboxRow.kind.in_(("remind", "questionnaire", "push")))
            .order_by(OutboxRow.due_at, OutboxRow.id)
            .limit(1)
        )
    example = pregnancy or "ID"
    click.echo(
        f"messages: the console channel logs each one here as it goes out; her inbox: "
        f"`carepath inbox show --pregnancy {example}`, or (signed) "
        f"GET http://{host}:{port}/api/v1/pregnancies/{example}/inbox",
        err=True,
    )
