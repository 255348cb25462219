"""The API fixtures, for store tests that set a pregnancy up through posted events."""

from tests.webapi.conftest import api, app, clock  # noqa: F401
