"""The API fixtures (a migrated database with the example pathways), for the commands' jobs."""

from tests.webapi.conftest import api, app, clock  # noqa: F401
