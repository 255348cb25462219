from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from carepath.errors import CompileError
from carepath.store import pathways
from carepath.store.db import Database, upgrade
from tests.conftest import NOW, ROOT, empty_tables

SOURCE = (ROOT / "examples" / "pathways" / "gdm.yaml").read_text(encoding="utf-8")


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    empty_tables(database)
    yield database
    database.dispose()


def test_publishing_twice_is_harmless_and_the_newest_version_is_current(db: Database) -> None:
    with db.transaction() as session:
        first = pathways.publish(session, {"gdm.yaml": SOURCE}, NOW)[0]
        again = pathways.publish(session, {"gdm.yaml": SOURCE}, NOW)[0]
        assert first.id == again.id
    changed = SOURCE.replace("due: 2d", "due: 3d")
    with db.transaction() as session:
        second = pathways.publish(session, {"gdm.yaml": changed}, NOW)[0]
    assert second.version != first.version
    with db.reading() as session:
        library = pathways.library_for(session, "any-hospital")
    assert library.current["gdm-example"].version == second.version
    # the old version stays loaded for enrolments pinned to it
    assert library.matcher("gdm-example", first.version).pathway.version == first.version


def test_an_invalid_pathway_is_not_published(db: Database) -> None:
    with pytest.raises(CompileError), db.transaction() as session:
        pathways.publish(session, {"bad.yaml": SOURCE.replace("push:", "shout:")}, NOW)
    with db.reading() as session:
        assert pathways.library_for(session, "h").current == {}


def test_hospital_pathways_are_its_own(db: Database) -> None:
    from carepath.store import tenants

    with db.transaction() as session:
        tenants.ensure_hospital(session, "a", "A", NOW)
        pathways.publish(session, {"gdm.yaml": SOURCE}, NOW, hospital_id="a")
    with db.reading() as session:
        assert "gdm-example" in pathways.library_for(session, "a").current
        assert pathways.library_for(session, "b").current == {}


def test_two_databases_in_one_process_never_share_a_library(tmp_path: Path) -> None:
    """Row ids repeat across databases: each database's pathways are its own (the content
    go-live test once listed another test database's pathway)."""
    urls = [f"sqlite:///{tmp_path / name}" for name in ("one.db", "two.db")]
    for url in urls:
        upgrade(url)
    first, second = (Database(url) for url in urls)
    try:
        for database, source in ((first, SOURCE), (second, SOURCE.replace("gdm-example", "gdm-other"))):
            with database.transaction() as session:
                pathways.publish(session, {"gdm.yaml": source}, NOW)  # row id 1 in both
        for database, expected in ((first, "gdm-example"), (second, "gdm-other")):
            with database.reading() as session:
                assert set(pathways.library_for(session, "h", fresh=True).current) == {expected}
        # and as events read it, from the few seconds' cache (``RECHECK_SECONDS``): hospital "h"
        # of one database is not the other's (the browser tests' form server once evaluated her
        # BP against another server's library, and her urgent advice never fired)
        for database, expected in ((first, "gdm-example"), (second, "gdm-other")) * 2:
            with database.reading() as session:
                assert set(pathways.library_for(session, "h").current) == {expected}
    finally:
        first.dispose()
        second.dispose()


def test_the_same_texts_are_compiled_once_and_a_changed_text_again(db: Database) -> None:
    """Publishing the same library again (every fresh database of the suite, every demo setup)
    reuses the compilation; any change of text is compiled anew, problems and all."""
    first = pathways._compiled((("gdm.yaml", SOURCE),))
    assert pathways._compiled((("gdm.yaml", SOURCE),)) is first and first.ok
    changed = pathways._compiled((("gdm.yaml", SOURCE.replace("due: 2d", "due: 3d")),))
    assert changed is not first and changed.pathways[0].version != first.pathways[0].version
    broken = pathways._compiled((("bad.yaml", SOURCE.replace("push:", "shout:")),))
    assert not broken.ok
    with pytest.raises(CompileError), db.transaction() as session:
        pathways.publish(session, {"bad.yaml": SOURCE.replace("push:", "shout:")}, NOW)  # a hit refuses too
