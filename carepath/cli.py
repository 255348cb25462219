"""The ``carepath`` command line: one root group, noun/verb subgroups.

Heavy imports live inside the commands so that ``carepath --help`` stays fast. Errors are
translated here, once: located problems print as ``PATH:LINE:COL: CODE: message`` and exit 1;
usage errors exit 2 (click's own convention).
"""

from __future__ import annotations

import re
import sys
from datetime import date
from typing import TYPE_CHECKING, Any

import click

from carepath.cli_content import go_live as go_live_command
from carepath.cli_settings import settings as hospital_settings_commands
from carepath.store.roles import ROLES  # a table of names, no heavy import

if TYPE_CHECKING:
    from carepath.engine.clock import Dating

EXIT_INVALID = 1


class IsoDate(click.ParamType):
    """A calendar date written ``YYYY-MM-DD``; impossible dates (2026-02-30) are usage errors."""

    name = "date"
    _shape = re.compile(r"\d{4}-\d{2}-\d{2}")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        if not self._shape.fullmatch(str(value)):
            self.fail(f"{value!r} is not a date; write YYYY-MM-DD", param, ctx)
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            self.fail(f"{value!r} is not a calendar date: {exc}", param, ctx)


ISO_DATE = IsoDate()


#: Kept in step with ``carepath.engine.matchers.MATCHER_KINDS`` (a test checks), so that
#: ``carepath --help`` need not import the engine.
MATCHER_KINDS = ("compiled", "durable")


@click.group()
@click.version_option(package_name="carepath")
@click.option(
    "--matcher",
    type=click.Choice(MATCHER_KINDS),
    default="compiled",
    show_default=True,
    envvar="CAREPATH_MATCHER",
    show_envvar=True,
    help="Which matcher evaluates conditions (both must agree; durable is the cross-check).",
)
@click.pass_context
def cli(ctx: click.Context, matcher: str) -> None:
    """carepath: care pathways for the pregnancy school and prenatal care."""
    ctx.meta["carepath.matcher"] = matcher


def matcher_kind(ctx: click.Context | None = None) -> str:
    """The matcher every command hands to ``Library``: ``--matcher`` or ``CAREPATH_MATCHER``.

    The environment is read here, at the CLI edge, never by the engine.
    """
    ctx = ctx or click.get_current_context()
    return str(ctx.meta.get("carepath.matcher", "compiled"))


@cli.group()
def pathway() -> None:
    """Validate, dry-run and simulate pathways."""


#: Catalogue files that sit beside the built-in pathways and are not pathways themselves.
CATALOGUE_FILES = frozenset({"tags.yaml", "labs.yaml"})


def expand_paths(paths: tuple[str, ...]) -> list[str]:
    """Files as given; a directory stands for its ``*.yaml`` files (not the tag and lab
    catalogues that live beside the built-in pathways), sorted."""
    from pathlib import Path

    expanded: list[str] = []
    for given in paths:
        if Path(given).is_dir():
            expanded += sorted(
                str(Path(given) / p.name)
                for p in Path(given).iterdir()
                if p.suffix in (".yaml", ".yml") and p.name not in CATALOGUE_FILES
            )
        else:
            expanded.append(given)
    return expanded


@pathway.command("validate")
@click.argument("paths", nargs=-1)
@click.option("--patient", "patients", multiple=True, metavar="FILE", help="Check a patient file.")
@click.option("--events", "events", multiple=True, metavar="FILE", help="Check an events file.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def pathway_validate(
    paths: tuple[str, ...], patients: tuple[str, ...], events: tuple[str, ...], strict: bool
) -> None:
    """Check pathways (files or directories, compiled together), patient and events files.

    Prints one line per problem, ``PATH:LINE:COL: CODE: message``, and exits 1 if any is an
    error (0 otherwise). Files named together share their pathways' tags.
    """
    from carepath.engine.compiler import compile_paths
    from carepath.engine.inputs import check_events, check_patient

    if not (paths or patients or events):
        raise click.UsageError("name at least one pathway, --patient or --events file")
    problems = []
    pathway_files = expand_paths(paths)
    if paths and not pathway_files:
        raise click.UsageError("the directories named hold no .yaml files")
    if pathway_files:
        problems += list(compile_paths(pathway_files).problems)
    for path in patients:
        problems += list(check_patient(path).problems)
    for path in events:
        problems += list(check_events(path).problems)
    for problem in problems:
        click.echo(str(problem))
    failed = any(p.severity == "error" or strict for p in problems)
    checked = len(pathway_files) + len(patients) + len(events)
    if failed:
        sys.exit(EXIT_INVALID)
    click.echo(f"ok: {checked} file(s) valid", err=True)


@cli.command()
@click.option("--lmp", type=ISO_DATE, help="First day of the last menstrual period.")
@click.option("--cycle", type=int, metavar="DAYS", help="Cycle length for --lmp (default 28).")
@click.option("--us-date", type=ISO_DATE, help="Date of a dating ultrasound.")
@click.option("--us-ga", metavar="W+D", help="GA the ultrasound measured, e.g. 8+2.")
@click.option("--transfer", type=ISO_DATE, help="IVF embryo transfer date.")
@click.option("--embryo-day", type=int, metavar="3|5", help="Embryo age at transfer (3 or 5).")
@click.option("--edd", type=ISO_DATE, help="An EDD already documented.")
@click.option("--on", "on", type=ISO_DATE, help="Report the GA on this date (default today).")
@click.option(
    "--format", "output_format", type=click.Choice(["text", "json"]), default="text",
    show_default=True,
)  # fmt: skip
def dating(
    *,
    lmp: date | None,
    cycle: int | None,
    us_date: date | None,
    us_ga: str | None,
    transfer: date | None,
    embryo_day: int | None,
    edd: date | None,
    on: date | None,
    output_format: str,
) -> None:
    """Date a pregnancy: EDD, gestational age and trimester.

    \b
    Give one of:
      --lmp DATE [--cycle N] [--us-date DATE --us-ga W+D]   (ACOG CO 700 redating)
      --us-date DATE --us-ga W+D                            (ultrasound alone)
      --transfer DATE --embryo-day 3|5                      (IVF, never redated)
      --edd DATE                                            (documented EDD)
    """
    import json

    from carepath.engine.clock import date_pregnancy, parse_gestational_age
    from carepath.errors import DatingError

    _check_dating_options(
        lmp=lmp, cycle=cycle, us_date=us_date, us_ga=us_ga,
        transfer=transfer, embryo_day=embryo_day, edd=edd,
    )  # fmt: skip
    try:
        scan_ga_days = None if us_ga is None else parse_gestational_age(us_ga)
        result = date_pregnancy(
            lmp=lmp, cycle_length=cycle, scan_date=us_date, scan_ga_days=scan_ga_days,
            transfer_date=transfer, embryo_day=embryo_day, edd=edd,
        )  # fmt: skip
    except DatingError as exc:
        click.echo(f"error: {exc.code}: {exc.message}", err=True)
        sys.exit(EXIT_INVALID)
    report = _dating_report(result, date.today() if on is None else on)
    if report["gestational_days"] < 0:  # day 0+0 after the day asked about: a mistyped date
        click.echo(f"error: dating-in-the-future: {_dating_sense(result, report)}", err=True)
        sys.exit(EXIT_INVALID)
    if output_format == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(_dating_text(report))
    if report["gestational_days"] > PLAUSIBLE_GESTATIONAL_DAYS:  # the dating stands; the GA does not
        click.echo(f"warning: past-any-pregnancy: {_dating_sense(result, report)}", err=True)


#: 44+0: no pregnancy runs longer; a GA beyond it means she has delivered or a date is wrong.
PLAUSIBLE_GESTATIONAL_DAYS = 44 * 7


def _dating_sense(result: Dating, report: dict[str, Any]) -> str:
    """Why a GA cannot be her GA today, naming the date that puts it there."""
    on = date.fromisoformat(report["on"])
    day_zero = result.implied_lmp
    if report["gestational_days"] < 0:
        return (
            f"this dating starts the pregnancy (GA 0+0) on {day_zero}, {(day_zero - on).days} day(s) after"
            f" {on}: check the date, or give --on for a later day"
        )
    return (
        f"GA {report['gestational_age']} on {on} is past 44+0: the pregnancy started (GA 0+0) on"
        f" {day_zero}, {(on - day_zero).days // 7} weeks ago; she has likely delivered; check the date"
    )


def _check_dating_options(
    *,
    lmp: date | None,
    cycle: int | None,
    us_date: date | None,
    us_ga: str | None,
    transfer: date | None,
    embryo_day: int | None,
    edd: date | None,
) -> None:
    """Reject combinations the command line does not offer, as usage errors (exit 2)."""
    has_us = us_date is not None or us_ga is not None
    has_ivf = transfer is not None or embryo_day is not None
    if (us_date is None) != (us_ga is None):
        raise click.UsageError("--us-date and --us-ga go together: give both or neither")
    if (transfer is None) != (embryo_day is None):
        raise click.UsageError("--transfer and --embryo-day go together: give both or neither")
    if cycle is not None and lmp is None:
        raise click.UsageError("--cycle adjusts an LMP date: give --lmp too")
    if has_ivf and (lmp is not None or has_us):
        raise click.UsageError(
            "--transfer dates an IVF pregnancy by itself: drop --lmp, --us-date and --us-ga"
        )
    if edd is not None and (lmp is not None or has_us or has_ivf):
        raise click.UsageError("--edd is a dating by itself: give it without other dating options")
    if edd is None and lmp is None and not has_us and not has_ivf:
        raise click.UsageError(
            "give a dating: --lmp DATE, --us-date DATE --us-ga W+D,"
            " --transfer DATE --embryo-day 3|5, or --edd DATE"
        )


_METHOD_LABELS = {
    "lmp": "LMP, Naegele",
    "ultrasound": "ultrasound",
    "ivf": "IVF",
    "edd": "documented",
}


def _dating_report(result: Dating, on: date) -> dict[str, Any]:
    """The JSON shape of a dating: stable keys first, explanations after."""
    from carepath.engine.clock import format_gestational_age, trimester

    days = result.gestational_days(on)
    band = result.band

    def iso(value: date | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "edd": result.edd.isoformat(),
        "gestational_age": format_gestational_age(days),
        "method": result.method,
        "trimester": trimester(days),
        "on": on.isoformat(),
        "gestational_days": days,
        "redated": result.redated,
        "reason": result.reason,
        "lmp_edd": iso(result.lmp_edd),
        "ultrasound_edd": iso(result.ultrasound_edd),
        "difference_days": result.difference_days,
        "acog_band": (None if band is None else {"ga_by_lmp": band.label, "limit_days": band.limit_days}),
    }


def _dating_text(report: dict[str, Any]) -> str:
    """A few readable lines for a clinician at a terminal."""
    label = _METHOD_LABELS[report["method"]]
    if report["redated"]:
        label += ", redated from LMP"
    ga_line = f"GA 孕周 {report['gestational_age']} on {report['on']}"
    return "\n".join(
        [
            f"EDD 预产期 {report['edd']} ({label})",
            f"{ga_line}, trimester {report['trimester']}",
            f"why: {report['reason']}",
        ]
    )


def _app() -> Any:
    from carepath.webapi import create_app

    return create_app()


@cli.group()
def db() -> None:
    """The store's database."""


@db.command("upgrade")
@click.option("--url", help="Database URL (default: the app's DATABASE_URL).")
def db_upgrade(url: str | None) -> None:
    """Create or migrate the schema to the newest revision (Alembic)."""
    from carepath.store.db import upgrade

    target = url or _app().config["DATABASE_URL"]
    upgrade(target)
    click.echo(f"database at head: {_safe_url(target)}", err=True)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@cli.group()
def hospital() -> None:
    """Hospitals (tenants)."""


@hospital.command("create")
@click.argument("hospital_id")
@click.option("--name", required=True, help="The hospital's name.")
def hospital_create(hospital_id: str, name: str) -> None:
    """Create a hospital (does nothing if it exists)."""
    from datetime import UTC, datetime

    from carepath.store.tenants import ensure_hospital

    app = _app()
    with app.extensions["carepath.db"].transaction() as session:
        ensure_hospital(session, hospital_id, name, datetime.now(UTC))
    click.echo(hospital_id)


hospital.add_command(hospital_settings_commands)


@cli.group()
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

    app = _app()
    try:
        with app.extensions["carepath.db"].transaction() as session:
            key = create_api_key(
                session, app.extensions["carepath.cipher"], hospital_id, integrator, datetime.now(UTC)
            )
    except CarepathError as exc:
        click.echo(f"error: {exc.code}: {exc.message}", err=True)
        sys.exit(EXIT_INVALID)
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

    app = _app()
    with app.extensions["carepath.db"].transaction() as session:
        found = revoke_api_key(session, key_id, datetime.now(UTC))
    if not found:
        click.echo(f"error: unknown-key: no key {key_id}", err=True)
        sys.exit(EXIT_INVALID)


@cli.group()
def staff() -> None:
    """Staff members and their logins."""


@staff.command("add")
@click.option("--hospital", "hospital_id", required=True, help="The hospital they work for.")
@click.option("--name", required=True, help="Their name.")
@click.option("--role", required=True, help="doctor, nurse, midwife, admin; lead receives escalations.")
def staff_add(hospital_id: str, name: str, role: str) -> None:
    """Add a staff member and print their id (for the X-Carepath-Staff header)."""
    from carepath.errors import CarepathError
    from carepath.store.tasks import add_staff

    app = _app()
    try:
        staff_id = add_staff(app.extensions["carepath.db"], hospital_id, name[:100], role[:40])
    except CarepathError as exc:
        click.echo(f"error: {exc.code}: {exc.message}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(str(staff_id))


@staff.command("create")
@click.option("--hospital", "hospital_id", required=True, help="The hospital they work for.")
@click.option("--username", required=True, help="Their login name (unique across hospitals).")
@click.option(
    "--role",
    "roles",
    required=True,
    multiple=True,
    type=click.Choice(ROLES),
    help="A permission role (carepath/store/roles.py); repeat the option for several.",
)
@click.option("--name", help="Their name (default: the username).")
@click.option("--job", help="Their job for tasks: doctor, nurse, lead ... (default: the first role).")
def staff_create(
    hospital_id: str, username: str, roles: tuple[str, ...], name: str | None, job: str | None
) -> None:
    """Create a staff login, e.g. the hospital's first admin. The password is prompted for (or
    read from the first line of stdin when it is not a terminal), never taken from arguments."""
    from datetime import UTC, datetime

    from carepath.errors import CarepathError
    from carepath.store import accounts

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    app = _app()
    try:
        created = accounts.create_account(
            app.extensions["carepath.db"],
            hospital_id,
            username,
            password,
            list(roles),
            now=datetime.now(UTC),
            name=name,
            job=job,
            profile=app.config["PASSWORD_HASHER"],
        )
    except CarepathError as exc:
        click.echo(f"error: {exc.code}: {exc.message}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"created staff {created.id} {created.username} ({', '.join(created.roles)}) in {hospital_id}")


@staff.command("unlock")
@click.argument("username")
def staff_unlock(username: str) -> None:
    """Unlock a login that failed logins locked (from any address), audited as done by the CLI."""
    from datetime import UTC, datetime

    from carepath.errors import CarepathError
    from carepath.store import accounts

    app = _app()
    try:
        unlocked = accounts.unlock_username(app.extensions["carepath.db"], username, datetime.now(UTC))
    except CarepathError as exc:
        click.echo(f"error: {exc.code}: {exc.message}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"unlocked staff {unlocked.id} {unlocked.username} in {unlocked.hospital_id}")


@cli.group()
def tasks() -> None:
    """Staff tasks."""


@tasks.command("escalate")
def tasks_escalate() -> None:
    """Escalate overdue open tasks to their hospital's team lead, once (what the scheduler calls)."""
    from datetime import UTC, datetime

    from carepath.store.tasks import escalate_overdue

    app = _app()
    escalated = escalate_overdue(app.extensions["carepath.db"], datetime.now(UTC))
    for item in escalated:
        click.echo(f"task {item.task_id} ({item.hospital_id}): {item.lead or 'no team lead on file'}")
    click.echo(f"escalated {len(escalated)} task(s)", err=True)


@cli.group()
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
    import getpass
    import json
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from carepath.store import inbox as inbox_service
    from carepath.store.scope import Actor

    if (pregnancy_id is None) == (his_patient_id is None) or (his_patient_id and not hospital_id):
        raise click.UsageError("give --pregnancy ID, or --patient HIS_ID with --hospital H")
    app = _app()
    database, now = app.extensions["carepath.db"], app.config["CLOCK"]()
    try:
        hospital, pregnancy = inbox_service.locate_pregnancy(
            database, pregnancy_id=pregnancy_id, hospital_id=hospital_id, his_patient_id=his_patient_id
        )
    except inbox_service.PregnancyNotFoundError as error:
        raise click.ClickException(f"{error.code}: {error.message}") from None
    actor = Actor(hospital, "cli", getpass.getuser())
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


@cli.group()
def icd10() -> None:
    """ICD-10 catalogues: the built-in WHO codes and each hospital's own extended codes."""


@icd10.command("import")
@click.option("--hospital", "hospital_id", required=True, help="The hospital whose catalogue this is.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def icd10_import(hospital_id: str, file: str) -> None:
    """Load a hospital's catalogue (CSV with columns code,name; UTF-8, UTF-8 with BOM or GBK).

    Replaces the hospital's earlier catalogue in one transaction; each code is mapped to the WHO
    code it extends (O24.401 -> O24.4). A bad row anywhere: every problem as FILE:LINE: CODE:
    message, exit 1, nothing written. Codes that extend no WHO code are imported and listed.
    """
    from datetime import UTC, datetime
    from pathlib import Path

    from carepath.errors import CarepathError
    from carepath.store import icd10 as catalogue

    app = _app()
    try:
        parsed, report = catalogue.import_file(
            app.extensions["carepath.db"], hospital_id, Path(file), datetime.now(UTC)
        )
    except catalogue.CatalogueFileError as exc:
        for problem in exc.problems:
            click.echo(problem.located(file), err=True)
        click.echo(f"{len(exc.problems)} problem(s); nothing imported", err=True)
        sys.exit(EXIT_INVALID)
    except CarepathError as exc:
        click.echo(f"error: {exc.code}: {exc.message}", err=True)
        sys.exit(EXIT_INVALID)
    for row in report.unmapped:
        click.echo(
            f"{file}:{row.line}: warning: icd10-unmapped: {row.code} extends no WHO ICD-10 code "
            "of the catalogue (imported; pathways match it only by its own prefix)"
        )
    total = report.added + report.updated + report.unchanged
    click.echo(
        f"{hospital_id}: {total} code(s) from {file} ({parsed.encoding}): {report.added} added, "
        f"{report.updated} updated, {report.unchanged} unchanged, {report.removed} removed; "
        f"{report.mapped} mapped to a WHO code, {len(report.unmapped)} unmapped"
    )


@cli.group()
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
    app = _app()
    upgrade(app.config["DATABASE_URL"])
    database, cipher = app.extensions["carepath.db"], app.extensions["carepath.cipher"]
    now = app.config["CLOCK"]()  # the demo's dates are relative to this day
    from carepath.engine.catalogue import PATHWAYS_DIR

    count = demo_data.publish_examples(database, Path(pathways_dir) if pathways_dir else PATHWAYS_DIR, now)
    key = demo_data.demo_key(database, cipher, folder, now)
    with database.reading() as session:
        integrator_id = session.get(ApiKey, key["key_id"]).integrator_id  # type: ignore[union-attr]
    patients = demo_data.register_patients(database, cipher, integrator_id, Path(examples) / "patients", now)
    logins = demo_data.demo_staff(database, folder, now, app.config["PASSWORD_HASHER"])
    if demo_data.demo_settings(database, Path(examples), now).drafts_allowed:
        click.echo("the demo hospital sends unapproved content (drafts_allowed; staff pages warn)")
    click.echo(f"published {count} pathway versions; demo hospital {key['hospital']!r}")
    click.echo(f"demo pregnancies: {', '.join(patients)}")
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
    click.echo(f"staff logins at {base_url}/login (demo passwords, also in {folder / 'demo-staff.json'}):")
    for login in logins:
        click.echo(f"  {login['username']:<14} {login['password']}   ({login['roles']})")


@cli.group()
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


def _delivery_setup(config_path: str | None, app: Any) -> Any:
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
    from carepath.cli_settings import import_settings

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
        link_base=str(settings.get("link_base", "/inbox")),
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

    app = _app()
    database, cipher, clock = (
        app.extensions["carepath.db"],
        app.extensions["carepath.cipher"],
        app.config["CLOCK"],
    )
    channels_for_hospital = _delivery_setup(config_path, app)

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
    app = _app()
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
    with _app().extensions["carepath.db"].transaction() as session:
        lifted = delivery_state.resume(session, scope=scope, target=target, hospital_id=hospital)
    click.echo(f"resumed {scope} {target} for hospital {hospital}" + ("" if lifted else " (was not paused)"))


_CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    help="A hospital's channels file (default: inbox and console for every hospital).",
)


def _log_to_stderr() -> None:
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


def _start_scheduler(app: Any, config_path: str | None, sweep: float, dispatch: float) -> Any:
    """The single scheduler (sweep + dispatcher) in this process; exits if another holds the lock."""
    from carepath.scheduler import Jobs, Scheduler, SchedulerLockedError, Settings

    settings = Settings(
        sweep_seconds=sweep,
        dispatch_seconds=dispatch,
        retry_max_seconds=float(app.config["SCHEDULER_RETRY_MAX_SECONDS"]),
    )
    jobs = Jobs(app, _delivery_setup(config_path, app), settings, on_report=_on_report(app))
    running = Scheduler(jobs)
    try:
        running.start()
        _print_upcoming(app)
    except SchedulerLockedError as error:
        raise click.ClickException(
            f"{error}; stop it first, or run `carepath serve --no-scheduler`"
        ) from error
    except BaseException:  # interrupted (Ctrl-C, SIGTERM) while starting: the lock goes too
        _stop_scheduler(running)
        raise
    click.echo(
        f"scheduler started as {running.lock.holder}: sweep every {sweep:g}s, dispatch every {dispatch:g}s",
        err=True,
    )
    return running


def _stop_scheduler(running: Any) -> None:
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


_interval_options = [
    click.option(
        "--sweep-every", "sweep", default=60.0, show_default=True, help="Seconds between wake-up sweeps."
    ),
    click.option(
        "--dispatch-every", "dispatch", default=10.0, show_default=True, help="Seconds between dispatches."
    ),
]


def _with_interval_options(command: Any) -> Any:
    for option in reversed(_interval_options):
        command = option(command)
    return command


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-scheduler", is_flag=True, help="The API only (a scheduler runs elsewhere).")
@_CONFIG_OPTION
@_with_interval_options
def serve(
    *, host: str, port: int, no_scheduler: bool, config_path: str | None, sweep: float, dispatch: float
) -> None:
    """Serve the API with the scheduler and dispatcher in the same process (the embedded
    default; threaded, for one machine; gunicorn and `carepath scheduler` for more)."""
    app = _app()
    if config_path:  # the WeChat callback endpoint reads its accounts' tokens from it too
        app.config["CHANNELS_CONFIG"] = config_path
    running = None
    _stop_on_sigterm()
    try:
        if not no_scheduler:
            _log_to_stderr()
            running = _start_scheduler(app, config_path, sweep, dispatch)
            _print_inbox_hint(app, host, port)
        app.run(host=host, port=port, threaded=True, use_reloader=False)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM before the server took over listening for it
        pass
    finally:
        if running is not None:
            _stop_scheduler(running)


def _stop_on_sigterm() -> None:
    """SIGTERM (systemd, docker stop, kill) stops like Ctrl-C: the server returns and the
    scheduler releases its lock, instead of leaving the lease for the next start to wait out."""
    import signal

    def interrupt(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


@cli.command("scheduler")
@_CONFIG_OPTION
@_with_interval_options
def scheduler_command(config_path: str | None, sweep: float, dispatch: float) -> None:
    """Run the wake-up sweep and the dispatcher without the API, until interrupted."""
    import signal
    import threading

    app = _app()
    _log_to_stderr()
    running = _start_scheduler(app, config_path, sweep, dispatch)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):  # a lost lock is taken back by the scheduler itself
            pass
    except KeyboardInterrupt:
        pass
    finally:
        _stop_scheduler(running)


def main() -> None:
    """Console entry point."""
    cli(prog_name="carepath")


@cli.group()
def content() -> None:
    """Check the education library and the forms."""


content.add_command(go_live_command)


@content.command("lint")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--review", "list_review", is_flag=True, help="Also list each item's and form's review status.")
def content_lint(paths: tuple[str, ...], list_review: bool) -> None:
    """Lint content items (.md) and forms (.yaml); default: the built-in library.

    Prints one ``PATH:LINE:COL: CODE: message`` line per problem and a review summary on
    stderr; exits 1 if any error was found.
    """
    from pathlib import Path

    from carepath.delivery.rendering import check_template
    from carepath.engine.content_lint import lint_paths

    def template_check(text: str) -> list[tuple[int, str]]:
        return [(problem.line, problem.message) for problem in check_template(text)]

    report = lint_paths([Path(p) for p in paths], template_check=template_check)
    for problem in report.problems:
        click.echo(str(problem))
    if list_review:
        for path, status in sorted(
            [(item.path, item.review_status) for item in report.items]
            + [(form.path, form.review_status) for form in report.forms]
        ):
            click.echo(f"{path}: review: {status}")
    counts = report.review_counts()
    click.echo(
        f"{len(report.items)} items, {len(report.forms)} forms; review: "
        f"{counts.get('draft', 0)} draft, {counts.get('approved', 0)} approved; "
        f"{len(report.errors)} errors",
        err=True,
    )
    if report.errors:
        sys.exit(EXIT_INVALID)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(cli())


def _fail_with(problems: list) -> None:  # type: ignore[type-arg]
    for problem in problems:
        click.echo(str(problem), err=True)
    sys.exit(EXIT_INVALID)


def load_library(paths: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """Compile pathway files or directories into a Library, or exit 1 with located errors."""
    from carepath.engine.compiler import compile_paths
    from carepath.engine.library import Library

    files = expand_paths(paths)
    if not files:
        raise click.UsageError("the pathway paths hold no .yaml files")
    result = compile_paths(files)
    if not result.ok:
        _fail_with(list(result.errors))
    return Library(result.pathways, matcher=matcher_kind())


@pathway.command("dry-run")
@click.argument("paths", nargs=-1, required=True)
@click.option("--patient", "patient_path", required=True, metavar="PATIENT.yaml", help="One pregnancy.")
@click.option("--events", "events_path", metavar="EVENTS.yaml", help="HIS events to apply on the way.")
@click.option("--from", "from_", type=ISO_DATE, help="Start here instead of her registration.")
@click.option("--until", type=ISO_DATE, help="Stop at the end of this day.")
@click.option("--until-ga", metavar="W+D", help="Stop when she reaches this gestational age.")
@click.option("--show-cancelled", is_flag=True, help="Also list replaced and cancelled actions.")
@click.option("--format", "output_format", type=click.Choice(["table", "json", "csv"]), default="table")
def pathway_dry_run(
    *,
    paths: tuple[str, ...],
    patient_path: str,
    events_path: str | None,
    from_: date | None,
    until: date | None,
    until_ga: str | None,
    show_cancelled: bool,
    output_format: str,
) -> None:
    """What the pathways do to one woman over her pregnancy, action by action, and why.

    The clock starts at her registration (enrolled_at) and runs to --until, --until-ga or
    the end of the puerperium (EDD + 8 weeks).
    """
    from datetime import datetime, time, timedelta

    from carepath.engine.clock import parse_gestational_age
    from carepath.engine.facts import facts_from_patient
    from carepath.engine.forms import make_scorer
    from carepath.engine.inputs import check_events, check_patient
    from carepath.engine.runtime import Settings
    from carepath.engine.simulate import dry_run, events_from_file
    from carepath.errors import CarepathError

    if until and until_ga:
        raise click.UsageError("give --until or --until-ga, not both")
    library = load_library(paths)
    patient = check_patient(patient_path)
    if not patient.ok:
        _fail_with(list(patient.problems))
    events = []
    if events_path:
        checked = check_events(events_path)
        if not checked.ok:
            _fail_with(list(checked.problems))
        events = events_from_file(checked.value)
    settings = Settings(scorer=make_scorer())
    zone = settings.window.zone
    facts = facts_from_patient(patient.value)
    edd = facts.edd
    assert edd is not None  # the patient check requires dating
    if until_ga:
        try:
            ga_days = parse_gestational_age(until_ga)
        except CarepathError as exc:
            raise click.BadParameter(exc.message, param_hint="--until-ga") from None
        end_day = edd - timedelta(days=280 - ga_days)
    else:
        end_day = until or edd + timedelta(weeks=8)
    end = datetime.combine(end_day, time(23, 59, 59), zone)
    start = datetime.combine(from_, time(0, 0), zone) if from_ else None
    try:
        rows = dry_run(library, facts, events, start=start, until=end, settings=settings)
    except CarepathError as exc:
        click.echo(f"error: {exc.code}: {exc.message}", err=True)
        sys.exit(EXIT_INVALID)
    if not show_cancelled:
        rows = [r for r in rows if r.status == "due"]
    _print_rows(rows, output_format)


def _print_rows(rows: list, output_format: str) -> None:  # type: ignore[type-arg]
    import csv
    import json

    if output_format == "json":
        for row in rows:
            click.echo(json.dumps(row.as_json(), ensure_ascii=False))
        return
    if output_format == "csv":
        writer = csv.writer(sys.stdout)
        fields = [
            "at",
            "gestational_age",
            "pathway",
            "version",
            "rule",
            "action",
            "params",
            "dedupe_key",
            "status",
        ]
        writer.writerow(fields)
        for row in rows:
            data = row.as_json()
            data["params"] = json.dumps(data["params"], ensure_ascii=False)
            writer.writerow([data[f] for f in fields])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False, header_style="bold")
    for column in ("week", "date", "what", "", "why"):
        table.add_column(column)
    for row in rows:
        what = row.action if row.status == "due" else f"{row.action} ({row.status})"
        table.add_row(
            row.gestational_age,
            row.at.strftime("%Y-%m-%d %H:%M"),
            what,
            row.summary,
            f"{row.pathway}/{row.rule}: {row.why}",
        )
    Console(width=160).print(table)
    click.echo(f"{len(rows)} action(s)")


@pathway.command("simulate")
@click.argument("paths", nargs=-1, required=True)
@click.option("--cohort", "cohort_path", metavar="COHORT.csv", help="One row per patient (DSL.md).")
@click.option("--synthetic", type=click.IntRange(1, 1_000_000), metavar="N", help="N synthetic pregnancies.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the synthetic cohort.")
@click.option("--until-ga", metavar="W+D", help="Stop each pregnancy at this GA (default: EDD + 12 weeks).")
@click.option("--jobs", type=click.IntRange(1, 64), help="Worker processes (default: one per CPU).")
@click.option("--format", "output_format", type=click.Choice(["summary", "json"]), default="summary")
def pathway_simulate(
    *,
    paths: tuple[str, ...],
    cohort_path: str | None,
    synthetic: int | None,
    seed: int,
    until_ga: str | None,
    jobs: int | None,
    output_format: str,
) -> None:
    """Run the pathways over a whole cohort and summarise what they would do."""
    import json
    import os
    import time as timer
    from pathlib import Path

    from rich.progress import Progress

    from carepath.engine.clock import parse_gestational_age
    from carepath.engine.cohort import read_cohort_csv
    from carepath.engine.parallel import CHUNK, Job, simulate_cohort, split
    from carepath.errors import CarepathError

    if bool(cohort_path) == bool(synthetic):
        raise click.UsageError("give exactly one of --cohort or --synthetic")
    until_days = None
    if until_ga:
        try:
            until_days = parse_gestational_age(until_ga)
        except CarepathError as exc:
            raise click.BadParameter(exc.message, param_hint="--until-ga") from None
    load_library(paths)  # compile here first: errors are reported once, located, before any work
    base = Job(tuple(expand_paths(paths)), matcher_kind(), until_days, seed)
    if cohort_path:
        try:
            text = Path(cohort_path).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            click.echo(f"{cohort_path}:1:1: unreadable: {exc}", err=True)
            sys.exit(EXIT_INVALID)
        members, problems = read_cohort_csv(text, cohort_path)
        if problems:
            _fail_with(problems)
        size = len(members)
        work = [
            Job(base.pathway_files, base.matcher, until_days, members=tuple(members[i : i + CHUNK]))
            for i in range(0, size, CHUNK)
        ]
    else:
        size = synthetic or 0
        work = split(size, base)
    processes = min(jobs or os.cpu_count() or 1, len(work))
    started = timer.perf_counter()
    with Progress(transient=True, console=_stderr_console()) as progress:
        task = progress.add_task("simulating", total=size)
        try:
            total = simulate_cohort(work, processes, lambda n: progress.advance(task, n))
        except CarepathError as exc:
            click.echo(f"error: {exc.code}: {exc.message}", err=True)
            sys.exit(EXIT_INVALID)
    elapsed = timer.perf_counter() - started
    report = total.as_json() | {"wall_seconds": round(elapsed, 2), "processes": processes}
    if output_format == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    _print_summary(report)


def _stderr_console():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=True)


def _print_summary(report: dict) -> None:  # type: ignore[type-arg]
    from rich.console import Console
    from rich.table import Table

    console = Console(width=120)
    weekly = report["external_messages_per_patient_week"]
    console.print(
        f"{report['patients']} patients, {report['evaluations']} evaluations in {report['wall_seconds']} s; "
        f"external messages per patient-week: mean {weekly['mean']}, "
        f"p95 {weekly['p95']:g}, max {weekly['max']:g}"
    )
    reached = Table(title="patients reached")
    reached.add_column("pathway")
    reached.add_column("patients", justify="right")
    reached.add_column("actions", justify="right")
    for pathway_id, count in report["patients_reached"].items():
        reached.add_row(pathway_id, str(count), str(report["actions_by_pathway"].get(pathway_id, 0)))
    console.print(reached)
    rules = Table(title="actions by rule")
    for column in ("pathway", "rule", "action", "count"):
        rules.add_column(column, justify="right" if column == "count" else "left")
    for row in report["actions_by_rule"]:
        rules.add_row(row["pathway"], row["rule"], row["action"], str(row["count"]))
    console.print(rules)


@pathway.command("impact")
@click.option(
    "--base", "base_paths", multiple=True, required=True, metavar="DIR", help="The published library."
)
@click.option(
    "--candidate", "candidate_paths", multiple=True, required=True, metavar="DIR", help="The edited one."
)
@click.option("--cohort", "cohort_path", metavar="COHORT.csv", help="One row per patient (DSL.md).")
@click.option("--synthetic", type=click.IntRange(1, 1_000_000), metavar="N", help="N synthetic pregnancies.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the synthetic cohort.")
@click.option("--now", "now_day", type=ISO_DATE, help="The day of publication (default: today), at noon.")
@click.option(
    "--weeks", type=click.IntRange(1, 52), default=8, show_default=True, help="How far ahead to look."
)
@click.option("--jobs", type=click.IntRange(1, 64), help="Worker processes (default: one per CPU).")
@click.option("--everything", is_flag=True, help="Simulate every pathway, not only those the edit can reach.")
@click.option(
    "--limit", type=click.IntRange(0, 1_000_000), default=100, show_default=True, help="Affected ids shown."
)
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table")
def pathway_impact(
    *,
    base_paths: tuple[str, ...],
    candidate_paths: tuple[str, ...],
    cohort_path: str | None,
    synthetic: int | None,
    seed: int,
    now_day: date | None,
    weeks: int,
    jobs: int | None,
    everything: bool,
    limit: int,
    output_format: str,
) -> None:
    """What publishing the candidate would change for every pregnancy in care, over the next
    weeks: actions gained, lost and moved, and messages per patient-week, for both choices
    (enrolled women stay pinned, or migrate to the candidate)."""
    import json
    import os
    import time as timer
    from datetime import datetime, time
    from pathlib import Path

    from carepath.engine.cohort import read_cohort_csv, synthetic_cohort
    from carepath.engine.forms import make_scorer
    from carepath.engine.impact import Plan, impact_json
    from carepath.engine.parallel import parallel_impact
    from carepath.engine.runtime import Settings
    from carepath.errors import CarepathError

    if bool(cohort_path) == bool(synthetic):
        raise click.UsageError("give exactly one of --cohort or --synthetic")
    base, candidate = load_library(base_paths), load_library(candidate_paths)
    settings = Settings(scorer=make_scorer())
    now = datetime.combine(now_day or date.today(), time(12, 0), settings.window.zone)
    if cohort_path:
        try:
            text = Path(cohort_path).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            click.echo(f"{cohort_path}:1:1: unreadable: {exc}", err=True)
            sys.exit(EXIT_INVALID)
        members, problems = read_cohort_csv(text, cohort_path)
        if problems:
            _fail_with(problems)
    else:
        members = list(synthetic_cohort(synthetic or 0, seed))
    plan = Plan.build(base, candidate, now, weeks, settings, everything=everything)
    started = timer.perf_counter()
    try:
        impact = parallel_impact(plan, members, min(jobs or os.cpu_count() or 1, 64))
    except CarepathError as exc:
        click.echo(f"error: {exc.code}: {exc.message}", err=True)
        sys.exit(EXIT_INVALID)
    report = impact_json(plan, impact, limit) | {"wall_seconds": round(timer.perf_counter() - started, 2)}
    if output_format == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    _print_impact(report)


def _print_impact(report: dict) -> None:  # type: ignore[type-arg]
    from rich.console import Console
    from rich.table import Table

    console = Console(width=140)
    changed = ", ".join(report["changed_pathways"]) or "nothing"
    console.print(
        f"{report['patients']} pregnancies in care on {report['now'][:10]}, next {report['weeks']} weeks; "
        f"changed: {changed}; simulated: {', '.join(report['simulated_pathways']) or 'nothing'} "
        f"({report['wall_seconds']} s)"
    )
    before = report["messages_per_patient_week_before"]
    for choice, heading in (("pin", "enrolled women stay pinned"), ("migrate", "enrolled women migrate")):
        part = report[choice]
        after = part["messages_per_patient_week"]
        table = Table(title=f"{choice}: {heading} — {part['affected_patients']} patients affected")
        for column in ("pathway", "rule", "action", "gain", "lose", "moved"):
            table.add_column(column, justify="right" if column in ("gain", "lose", "moved") else "left")
        for row in part["by_action"]:
            table.add_row(
                row["pathway"],
                row["rule"],
                row["action"],
                str(row["patients_gaining"]),
                str(row["patients_losing"]),
                str(row["patients_moved"]),
            )
        console.print(table)
        console.print(
            f"messages per patient-week (simulated pathways): mean {before['mean']} → {after['mean']}, "
            f"p95 {before['p95']:g} → {after['p95']:g}, max {before['max']:g} → {after['max']:g}"
        )
        if part["affected"]:
            console.print("affected: " + " ".join(part["affected"]))
