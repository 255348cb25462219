"""``carepath worker``: run sweep pages and dispatch batches from the broker's queues (the
scale-out mode, docs/cluster.md); the scheduler enqueues them with ``carepath scheduler
--enqueue``."""

from __future__ import annotations

import click

from carepath.cli.scheduler import CONFIG_OPTION, QUEUE_PREFIX_OPTION, QUEUE_URL_OPTION, log_to_stderr


@click.command("worker")
@CONFIG_OPTION
@QUEUE_URL_OPTION
@QUEUE_PREFIX_OPTION
@click.option(
    "--stage",
    "stages",
    type=click.Choice(["sweep", "dispatch"]),
    multiple=True,
    help="Which queues to take pages from (default both).",
)
@click.option("--name", default=None, help="The worker's name (default carepath-<pid>@<host>).")
def worker_command(
    config_path: str | None, queue_url: str, queue_prefix: str, stages: tuple[str, ...], name: str | None
) -> None:
    """Run sweep pages and dispatch batches from the queues, one page at a time, until stopped
    (SIGTERM finishes the running page; a killed worker's page goes back to the queue)."""
    import os
    import socket

    from carepath.cli.common import load_app
    from carepath.cli.delivery import delivery_setup
    from carepath.scheduler import default_holder
    from carepath.workers.queue import make_celery, queue_name
    from carepath.workers.tasks import Work, register, run_worker

    app = load_app()
    log_to_stderr()
    celery = make_celery(queue_url, prefix=queue_prefix)
    work = Work(
        db=app.extensions["carepath.db"],
        clock=app.config["CLOCK"],
        channels_for_hospital=delivery_setup(config_path, app),
        cipher=app.extensions["carepath.cipher"],
        holder=default_holder(),
    )
    register(celery, work)
    queues = [queue_name(queue_prefix, stage) for stage in (stages or ("sweep", "dispatch"))]
    click.echo(f"worker {default_holder()} taking pages from {', '.join(queues)}", err=True)
    with app.app_context():
        run_worker(celery, queues=queues, name=name or f"carepath-{os.getpid()}@{socket.gethostname()}")
