from __future__ import annotations

from alembic import command

from carepath.store.db import alembic_config, current_revision, head_revision, make_engine


def test_migrations_match_the_models(database_url: str) -> None:
    """``alembic check`` finds nothing to autogenerate: migrations and models agree."""
    command.check(alembic_config(database_url))


def test_database_is_at_head(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
