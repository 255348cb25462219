"""`carepath demo setup` (what `make run` runs): the demo is set up relative to its day, has a
login for every clinical role, and its hints name the address `carepath serve` will answer on."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from carepath.cli import cli
from carepath.engine.clock import format_gestational_age, gestational_days, trimester
from tests.conftest import ROOT

#: Days when the demo might be set up: before most of the example files' own dates, a year and a
#: half after them, and a leap day.
SETUP_DAYS = [
    datetime(2026, 3, 1, 1, 0, tzinfo=UTC),
    datetime(2027, 9, 20, 23, 30, tzinfo=UTC),  # already the 21st in Shanghai
    datetime(2028, 2, 29, 4, 0, tzinfo=UTC),
]


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CAREPATH_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("CAREPATH_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("CAREPATH_PASSWORD_HASHER", "test")
    return tmp_path / "instance"


def set_up(instance: Path, *extra: str) -> str:
    args = ["demo", "setup", "--instance", str(instance), "--examples", str(ROOT / "examples"), *extra]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("now", SETUP_DAYS, ids=lambda d: d.date().isoformat())
def test_every_demo_pregnancy_is_at_its_intended_age_on_the_day_of_setup(
    instance: Path, monkeypatch: pytest.MonkeyPatch, now: datetime
) -> None:
    from zoneinfo import ZoneInfo

    from carepath import webapi
    from carepath.store.models import Pregnancy

    monkeypatch.setattr(webapi, "_now", lambda: now)  # create_app's CLOCK
    set_up(instance)
    from carepath.cli.common import load_app as _app

    today = now.astimezone(ZoneInfo("Asia/Shanghai")).date()
    with _app().extensions["carepath.db"].reading() as session:
        pregnancies = session.scalars(select(Pregnancy)).all()
    assert {pregnancy.status for pregnancy in pregnancies} == {"pregnant"}  # none meant delivered
    ages = [gestational_days(date.fromisoformat(p.state["edd"]), today) for p in pregnancies]
    assert sorted(format_gestational_age(days) for days in ages) == ["23+4", "30+0", "8+0"]
    assert sorted(trimester(days) for days in ages) == [1, 2, 3]
    assert all(0 < days <= 41 * 7 + 6 for days in ages)


def test_the_demo_has_a_doctor_and_a_nurse_whose_printed_logins_work(instance: Path) -> None:
    from carepath.cli.common import load_app as _app
    from carepath.store import accounts

    output = set_up(instance)
    printed = {
        name: (password, roles)
        for name, password, roles in re.findall(r"^  (demo-[a-z]+) +(\S+) +\((\S+)\)", output, re.MULTILINE)
    }
    assert printed["demo-doctor"][1] == "doctor" and printed["demo-nurse"][1] == "nurse"
    database = _app().extensions["carepath.db"]
    now = datetime.now(UTC)
    doctor = accounts.login(database, "demo-doctor", printed["demo-doctor"][0], now, profile="test").identity
    nurse = accounts.login(database, "demo-nurse", printed["demo-nurse"][0], now, profile="test").identity
    assert doctor.roles == ("doctor",) and nurse.roles == ("nurse",)
    assert doctor.can("task.work") and nurse.can("task.work")
    assert doctor.hospital_id == nurse.hospital_id == "demo"


def test_the_printed_hints_use_the_address_serve_will_answer_on(instance: Path) -> None:
    output = set_up(instance, "--url", "http://127.0.0.1:8123")
    urls = re.findall(r"https?://\S+", output)
    assert "http://127.0.0.1:8123/login" in urls
    assert "--url http://127.0.0.1:8123" in output  # post_event.py's own default is 8000
    assert all(url.startswith("http://127.0.0.1:8123") for url in urls), urls


def test_make_run_passes_its_host_and_port_to_every_hint() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "run", "HOST=0.0.0.0", "PORT=8123"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    [setup] = [line for line in dry_run.splitlines() if "demo setup" in line]
    assert "--url http://0.0.0.0:8123" in setup
    assert ":8000" not in dry_run
    assert "--host 0.0.0.0 --port 8123" in dry_run


def test_the_printed_url_signs_in_to_her_pages_only_in_the_demo_instance(instance: Path) -> None:
    """`carepath demo setup` prints a full URL that signs in as a demo patient (issue 18); the
    same URL on an app that is not a demo instance is refused."""
    from carepath.cli.common import load_app as _app

    output = set_up(instance, "--url", "http://127.0.0.1:8000")
    match = re.search(
        r"her pages, signed in as demo-001: (http://127\.0\.0\.1:8000(/h5/demo/sign-in/\S+))$",
        output,
        re.MULTILINE,
    )
    assert match, output
    app = _app()
    assert app.config["DEMO_INSTANCE"] is True  # written into the instance's carepath.cfg
    client = app.test_client()
    signed = client.get(match.group(2))
    assert signed.status_code == 302 and signed.headers["Location"] == "/h5/"
    assert "演示一号" in client.get("/h5/").get_data(as_text=True)
    app.config["DEMO_INSTANCE"] = False  # as in production
    refused = app.test_client().get(match.group(2))
    assert refused.status_code == 404 and "演示登录只在演示环境中可用" in refused.get_data(as_text=True)
    app.config["DEMO_INSTANCE"] = True
    forged = app.test_client().get(match.group(2)[:-3] + "abc")
    assert forged.status_code == 404


@pytest.mark.parametrize(
    ("url", "kept"), [("http://127.0.0.1:8123", True), ("http://192.168.1.5:8000", False)]
)
def test_the_demo_s_links_to_her_pages_are_absolute_on_this_machine(
    instance: Path, url: str, kept: bool
) -> None:
    """Her messages carry `<public_base_url>/h5/inbox/<id>`: the demo sets it to its own loopback
    address (plain http is accepted only there); a LAN address over http is left unset."""
    from carepath.cli.common import load_app
    from carepath.store import hospital_settings
    from carepath.store.demo import DEMO_HOSPITAL

    set_up(instance, "--url", url)
    app = load_app()
    with app.extensions["carepath.db"].reading() as session:
        settings = hospital_settings.get(session, DEMO_HOSPITAL)
    assert settings.public_base_url == (url if kept else None)
    app.extensions["carepath.db"].dispose()
