"""Alembic environment: the URL comes from the Config that ``carepath db upgrade`` builds."""

from __future__ import annotations

from alembic import context

import carepath.store.models_batches  # batch actions on a cohort (0027), issue 21
import carepath.store.models_binding_events

# Tables kept in their own modules (models.py holds the first ones); each import adds its tables
# to Base.metadata, which autogenerate and the models-vs-migrations check compare: her sign-in
# (0016) and sources (0017), issue 18.
import carepath.store.models_her_forms  # her answers to sent forms (0024), issue 19
import carepath.store.models_requests  # her requests and contact changes (0022), issue 19
import carepath.store.models_sign_in
import carepath.store.models_sources
import carepath.store.models_workspace  # noqa: F401  (indexes of open tasks, 0021)
from carepath.store.db import make_engine
from carepath.store.models import Base
from carepath.store.models_registration import Registration  # noqa: F401  (its table)

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
