"""The API fixtures (a migrated database with the example pathways) and the fake providers."""

from tests.delivery.test_dispatcher import client, fake  # noqa: F401
from tests.webapi.conftest import api, app, clock  # noqa: F401
