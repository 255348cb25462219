"""``carepath scheduler``: the wake-up sweep and the dispatcher without the API, and the pieces
``serve`` shares to run them in its own process (start, stop, report, the interval options)."""

from __future__ import annotations

from typing import Any

import click

from carepath.cli.common import load_app
from carepath.cli.delivery import delivery_setup

CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    help="A hospital's channels file (default: inbox and console for every hospital).",
)

QUEUE_URL_OPTION = click.option(
    "--queue-url",
    envvar="CAREPATH_QUEUE_URL",
    default="amqp://guest:guest@127.0.0.1:5672//",
    show_default=True,
    help="The broker: RabbitMQ (amqp://) or Redis (redis://). Environment: CAREPATH_QUEUE_URL.",
)
QUEUE_PREFIX_OPTION = click.option(
    "--queue-prefix",
    envvar="CAREPATH_QUEUE_PREFIX",
    default="carepath",
    show_default=True,
    help="Queues are <prefix>.sweep and <prefix>.dispatch (one prefix per database).",
)


def log_to_stderr() -> None:
    """The console channel and the scheduler speak through logging: show them."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for name in ("carepath.channels.console", "carepath.scheduler"):
        logging.getLogger(name).setLevel(logging.INFO)


def _on_report(app: Any) -> Any:
    """What the jobs did, one line each when there is something to say; when messages are
    held for the send window (or the cap), when they will go."""
    from sqlalchemy import func, select

    from carepath.store.models import OutboxRow

    def report(job: str, result: Any) -> None:
        if job == "on_call":  # urgent tasks outside working hours, to the on-call roster
            if result.sent or result.failed or result.recovered:
                click.echo(
                    f"on_call: sent {result.sent} failed {result.failed} retrying {result.retrying} "
                    f"recovered {result.recovered}",
                    err=True,
                )
            return
        if job in ("sweep", "escalate"):  # lists: the pregnancies woken, the tasks escalated
            if result:
                what = "pregnancies woken" if job == "sweep" else "overdue tasks escalated to the team lead"
                click.echo(f"{job}: {len(result)} {what}", err=True)
            return
        if not (result.claimed or result.failed or result.recovered):
            return
        click.echo(
            f"{job}: claimed {result.claimed} sent {result.sent} held {result.held} skipped {result.skipped} "
            f"dead {result.dead} retrying {result.retrying} failed {result.failed} "
            f"recovered {result.recovered}"
            + (
                f" ({', '.join(f'{k} {v}' for k, v in sorted(result.reasons.items()))})"
                if result.reasons
                else ""
            ),
            err=True,
        )
        if job == "dispatch" and result.held:
            with app.extensions["carepath.db"].reading() as session:
                waiting = session.execute(
                    select(OutboxRow.status_reason, func.min(OutboxRow.next_attempt_at), func.count())
                    .where(OutboxRow.status == "due", OutboxRow.next_attempt_at.is_not(None))
                    .group_by(OutboxRow.status_reason)
                ).all()
            for reason, until, count in waiting:
                click.echo(f"  {count} held ({reason}): the first goes out at {until.isoformat()}", err=True)

    return report


def start_scheduler(
    app: Any,
    config_path: str | None,
    sweep: float,
    dispatch: float,
    *,
    standby: bool = False,
    enqueue: Any = None,
) -> Any:
    """The single scheduler (sweep + dispatcher) in this process; exits if another holds the lock,
    or (``standby``) waits for it and takes over when the active one dies. ``enqueue`` (cluster
    mode, a ``workers.queue.Enqueuer``): the sweep and the dispatcher only enqueue pages."""
    from carepath.scheduler import Jobs, Scheduler, SchedulerLockedError, Settings

    settings = Settings(
        sweep_seconds=sweep,
        dispatch_seconds=dispatch,
        retry_max_seconds=float(app.config["SCHEDULER_RETRY_MAX_SECONDS"]),
    )
    jobs = Jobs(app, delivery_setup(config_path, app), settings, on_report=_on_report(app), enqueue=enqueue)
    running = Scheduler(jobs)
    try:
        running.start(standby=standby)
        _print_upcoming(app)
    except SchedulerLockedError as error:
        raise click.ClickException(
            f"{error}; stop it first, or run `carepath serve --no-scheduler`"
        ) from error
    except BaseException:  # interrupted (Ctrl-C, SIGTERM) while starting: the lock goes too
        stop_scheduler(running)
        raise
    state = "started" if running.holding.is_set() else "on standby"
    click.echo(
        f"scheduler {state} as {running.lock.holder}: sweep every {sweep:g}s, dispatch every {dispatch:g}s",
        err=True,
    )
    return running


def stop_scheduler(running: Any) -> None:
    running.shutdown()
    click.echo("scheduler stopped, lock released", err=True)


def _print_upcoming(app: Any, times: int = 5) -> None:
    """The schedule of what waits in the outbox (outside the send window nothing goes out)."""
    from zoneinfo import ZoneInfo

    from sqlalchemy import func, select

    from carepath.store.models import OutboxRow

    shanghai = ZoneInfo("Asia/Shanghai")
    when = func.coalesce(OutboxRow.next_attempt_at, OutboxRow.due_at)
    with app.extensions["carepath.db"].reading() as session:
        upcoming = session.execute(
            select(when, func.count())
            .where(OutboxRow.status == "due")
            .group_by(when)
            .order_by(when)
            .limit(times)
        ).all()
        held = session.scalar(select(func.count()).where(OutboxRow.status == "held"))
    now = app.config["CLOCK"]()
    for at, count in upcoming:
        local = at.astimezone(shanghai)
        note = "due now" if at <= now else f"in {str(at - now).split('.')[0]}"
        click.echo(f"outbox: {count} message(s) at {local:%Y-%m-%d %H:%M} Asia/Shanghai ({note})", err=True)
    if held:
        click.echo(
            f"outbox: {held} message(s) held until their content is approved (carepath content go-live)",
            err=True,
        )


_interval_options = [
    click.option(
        "--sweep-every", "sweep", default=60.0, show_default=True, help="Seconds between wake-up sweeps."
    ),
    click.option(
        "--dispatch-every", "dispatch", default=10.0, show_default=True, help="Seconds between dispatches."
    ),
]


def with_interval_options(command: Any) -> Any:
    for option in reversed(_interval_options):
        command = option(command)
    return command


@click.command("scheduler")
@CONFIG_OPTION
@with_interval_options
@click.option(
    "--standby",
    is_flag=True,
    help="If another scheduler holds the lock, wait and take over when it dies (tries every 10 s) "
    "instead of exiting.",
)
@click.option(
    "--enqueue",
    is_flag=True,
    help="Cluster mode: put sweep pages and dispatch batches on the broker's queues for "
    "`carepath worker` processes instead of running them here (docs/cluster.md).",
)
@QUEUE_URL_OPTION
@QUEUE_PREFIX_OPTION
def scheduler_command(  # noqa: PLR0917 - one argument per option
    config_path: str | None,
    sweep: float,
    dispatch: float,
    standby: bool,
    enqueue: bool,
    queue_url: str,
    queue_prefix: str,
) -> None:
    """Run the wake-up sweep and the dispatcher without the API, until interrupted."""
    import signal
    import threading

    app = load_app()
    log_to_stderr()
    enqueuer = None
    if enqueue:
        from carepath.workers.queue import Enqueuer, make_celery

        enqueuer = Enqueuer(make_celery(queue_url, prefix=queue_prefix), prefix=queue_prefix)
        click.echo(f"cluster mode: pages go to {queue_prefix}.sweep and {queue_prefix}.dispatch", err=True)
    running = start_scheduler(app, config_path, sweep, dispatch, standby=standby, enqueue=enqueuer)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):  # a lost lock is taken back by the scheduler itself
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stop_scheduler(running)
        if enqueuer is not None:
            enqueuer.close()
