"""`carepath content go-live`: the unapproved content and forms that published pathways send."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from carepath.cli import cli
from carepath.engine.catalogue import PATHWAYS_DIR
from tests.cli.test_delivery_commands import env  # noqa: F401 - the fixture
from tests.conftest import approve_item


def _sent_by_the_library(directory: Path = PATHWAYS_DIR) -> set[tuple[str, str]]:
    """Read from the YAML itself, not through carepath: every content item and form a rule of
    the library pushes, reminds with or asks."""
    found = set()
    for path in directory.glob("*.yaml"):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict) or "pathway" not in document:
            continue  # tags.yaml, labs.yaml
        for rule in document.get("rules", []):
            for action in rule.get("do", []):
                for kind, body in action.items():
                    if kind in ("push", "remind", "questionnaire") and isinstance(body, dict):
                        found |= {(key, str(body[key])) for key in ("content", "form") if key in body}
    return found


def _published(url: str, directory: Path) -> Any:
    from carepath.store import demo
    from carepath.store.db import Database

    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(cli, ["hospital", "create", "h1", "--name", "一院"]).exit_code == 0
    db = Database(url)
    demo.publish_examples(db, directory, datetime.now(UTC))
    return db


@pytest.fixture
def database(env: str) -> Iterator[Any]:  # noqa: F811 - the fixture
    db = _published(env, PATHWAYS_DIR)  # the built-in library
    yield db
    db.dispose()


def _listed(output: str) -> set[tuple[str, str]]:
    listed = set()
    for line in output.splitlines():
        hospital, kind_name, state, *_ = line.split(": ")
        kind, name = kind_name.split(" ")
        assert hospital == "h1" and state.startswith("not approved (sent by ")
        listed.add((kind, name))
    return listed


def test_go_live_lists_exactly_the_unapproved_items_in_use_and_gates_on_them(database: object) -> None:
    from tests.conftest import set_hospital_settings

    runner = CliRunner()
    expected = _sent_by_the_library()
    assert ("content", "gdm-welcome") in expected and ("form", "gdm-glucose-log") in expected
    result = runner.invoke(cli, ["content", "go-live", "--hospital", "h1"])
    assert result.exit_code == 1
    assert _listed(result.stdout) == expected  # the shipped library is all drafts
    assert f"{len(expected)} unapproved item(s)" in result.stderr

    approve_item(database, "h1", "content", "gdm-welcome")
    approve_item(database, "h1", "form", "gdm-glucose-log")
    result = runner.invoke(cli, ["content", "go-live"])  # every hospital: h1 is the only one
    assert result.exit_code == 1
    assert _listed(result.stdout) == expected - {("content", "gdm-welcome"), ("form", "gdm-glucose-log")}

    set_hospital_settings(database, "h1", drafts_allowed=True)  # sending drafts does not approve them
    allowed = runner.invoke(cli, ["content", "go-live", "--hospital", "h1"])
    assert allowed.exit_code == 1 and "drafts_allowed is on" in allowed.stderr


def test_go_live_passes_once_every_item_in_use_is_approved(env: str, tmp_path: Path) -> None:  # noqa: F811
    library = tmp_path / "pathways"
    library.mkdir()
    shutil.copy(PATHWAYS_DIR / "gdm.yaml", library)  # one pathway: few items to approve
    database = _published(env, library)
    runner = CliRunner()
    expected = _sent_by_the_library(library)
    assert _listed(runner.invoke(cli, ["content", "go-live"]).stdout) == expected
    for kind, name in sorted(expected):
        approve_item(database, "h1", kind, name)
    done = runner.invoke(cli, ["content", "go-live", "--hospital", "h1"])
    assert done.exit_code == 0 and done.stdout == "" and "is approved" in done.stderr
    database.dispose()


def test_go_live_refuses_an_unknown_hospital(env: str, tmp_path: Path) -> None:  # noqa: F811
    _published(env, tmp_path).dispose()  # no pathway at all
    result = CliRunner().invoke(cli, ["content", "go-live", "--hospital", "nowhere"])
    assert result.exit_code == 1 and "unknown-hospital" in result.stderr
    nothing = CliRunner().invoke(cli, ["content", "go-live"])
    assert nothing.exit_code == 0 and "is approved" in nothing.stderr  # no pathway sends anything
