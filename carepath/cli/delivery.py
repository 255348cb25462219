"""``carepath delivery run|pause|resume``: the outbox dispatcher and its kill switches, and
``delivery_setup``, the channels each hospital sends through (``serve`` and ``scheduler`` use
it too)."""

from __future__ import annotations

from typing import Any

import click

from carepath.cli.common import load_app


@click.group()
def delivery() -> None:
    """The outbox dispatcher and its kill switches."""


def _token_store(app: Any) -> Any:
    """Where every process sending for an account shares its access token: Redis when
    ``REDIS_URL`` (``CAREPATH_REDIS_URL``) is set, else the database's ``provider_tokens``."""
    if app.config.get("REDIS_URL"):
        from carepath.channels.redis_tokens import RedisTokenStore, redis_client

        return RedisTokenStore(redis_client(app.config["REDIS_URL"]))
    from carepath.delivery.token_store import DatabaseTokenStore

    return DatabaseTokenStore(app.extensions["carepath.db"], clock=app.config["CLOCK"])


def delivery_setup(config_path: str | None, app: Any) -> Any:
    """``channels_for_hospital`` from a hospital's channels file (examples/hospital/channels.yaml):
    its channels and ``delivery:`` policy; every other hospital gets the inbox and the console.
    The send window and daily cap are each hospital's settings (imported from the file once)."""
    import os

    import yaml

    from carepath.channels.base import make_http_client
    from carepath.channels.console import ConsoleChannel
    from carepath.channels.inbox import InboxChannel, MemoryInbox
    from carepath.channels.registry import ChannelDeps, build_channels
    from carepath.delivery.dispatch_settings import HospitalDelivery
    from carepath.delivery.items import adapters_from_config
    from carepath.delivery.policy import HospitalPolicy, policy_from_config

    inbox = MemoryInbox()  # the dispatcher files inbox items in the store itself
    default = HospitalDelivery(
        channels={"inbox": InboxChannel(inbox), "console": ConsoleChannel()},
        policy=HospitalPolicy(fallback_order=("console", "inbox")),
    )
    if not config_path:
        return lambda hospital_id: default
    with open(config_path, encoding="utf-8") as handle:
        config = yaml.safe_load(handle) or {}
    deps = ChannelDeps(client=make_http_client(), token_store=_token_store(app), inbox=inbox)
    settings = config.get("delivery") or {}
    from carepath.cli.hospital_settings import import_settings

    import_settings(app, config, config_path)  # the window and cap, once; then the database wins
    channel_config = config.get("channels") or {}
    accounts = {
        name: str(channel_config[name]["appid"])
        for name in ("wechat_template", "wechat_subscribe")
        if isinstance(channel_config.get(name), dict) and "appid" in channel_config[name]
    }
    configured = HospitalDelivery(
        channels=build_channels(channel_config, deps, os.environ),
        policy=policy_from_config(settings),
        adapters=adapters_from_config(settings),
        accounts=accounts,
        link_base=str(settings.get("link_base", "/h5/inbox")),
    )
    hospital_id = config.get("hospital")
    return lambda hospital: configured if hospital == hospital_id else default


@delivery.command("run")
@click.option("--once", is_flag=True, help="One round, then exit (cron, tests).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    help="A hospital's channels file.",
)
@click.option("--interval", default=10.0, show_default=True, help="Seconds between rounds.")
@click.option("--batch", default=100, show_default=True, help="Rows claimed per transaction.")
@click.option(
    "--concurrency",
    default=8,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Provider calls at a time.",
)
def delivery_run(once: bool, config_path: str | None, interval: float, batch: int, concurrency: int) -> None:
    """Send what is due: recover rows a crash left in flight, then dispatch, every --interval.
    A round that fails (the database or Redis unreachable) is logged and tried again after a
    backoff; the command keeps running. With --once a failed round exits 1."""
    import threading

    from carepath.delivery.dispatcher import dispatch_once, recover_in_flight
    from carepath.delivery.runner import keep_dispatching

    app = load_app()
    database, cipher, clock = (
        app.extensions["carepath.db"],
        app.extensions["carepath.cipher"],
        app.config["CLOCK"],
    )
    channels_for_hospital = delivery_setup(config_path, app)

    def one_round() -> None:
        now = clock()
        recovered = recover_in_flight(database, now)
        report = dispatch_once(
            database, now, channels_for_hospital, batch, cipher=cipher, concurrency=concurrency
        )
        click.echo(
            f"{now.isoformat()} claimed {report.claimed} sent {report.sent} held {report.held} "
            f"skipped {report.skipped} dead {report.dead} retrying {report.retrying} "
            f"failed {report.failed + recovered.failed} recovered {recovered.recovered}"
            + (
                f" ({', '.join(f'{k} {v}' for k, v in sorted(report.reasons.items()))})"
                if report.reasons
                else ""
            ),
            err=True,
        )

    if once:
        try:
            one_round()
        except Exception as exc:
            from carepath.channels.base import brief_error

            raise click.ClickException(f"the delivery round failed: {brief_error(exc)}") from exc
        return
    keep_dispatching(one_round, interval=interval, stop=threading.Event())


def _switch(pathway: str | None, channel: str | None, everything: bool) -> tuple[str, str]:
    chosen = [
        (s, t)
        for s, t in (("pathway", pathway), ("channel", channel), ("all", "*" if everything else None))
        if t
    ]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --pathway P, --channel C, --all")
    return chosen[0]


_switch_options = [
    click.option("--pathway", help="One pathway id."),
    click.option("--channel", help="One channel (adapter name, e.g. sms_tencent)."),
    click.option("--all", "everything", is_flag=True, help="All sending."),
    click.option("--hospital", default="*", show_default=True, help="One hospital, or * for every one."),
]


def _with_switch_options(command: Any) -> Any:
    for option in reversed(_switch_options):
        command = option(command)
    return command


@delivery.command("pause")
@_with_switch_options
def delivery_pause(pathway: str | None, channel: str | None, everything: bool, hospital: str) -> None:
    """Kill switch: hold sending (stored in the database; every dispatcher obeys it at once)."""
    import getpass

    from carepath.store import delivery_state

    scope, target = _switch(pathway, channel, everything)
    app = load_app()
    with app.extensions["carepath.db"].transaction() as session:
        new = delivery_state.pause(
            session,
            scope=scope,
            target=target,
            hospital_id=hospital,
            by=f"cli:{getpass.getuser()}",
            at=app.config["CLOCK"](),
        )
    click.echo(f"paused {scope} {target} for hospital {hospital}" + ("" if new else " (already paused)"))


@delivery.command("resume")
@_with_switch_options
def delivery_resume(pathway: str | None, channel: str | None, everything: bool, hospital: str) -> None:
    """Lift a pause; what it held is due again at once."""
    from carepath.store import delivery_state

    scope, target = _switch(pathway, channel, everything)
    with load_app().extensions["carepath.db"].transaction() as session:
        lifted = delivery_state.resume(session, scope=scope, target=target, hospital_id=hospital)
    click.echo(f"resumed {scope} {target} for hospital {hospital}" + ("" if lifted else " (was not paused)"))
