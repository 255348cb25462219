"""Browser tests: the real app on a free port, driven by Debian's Chromium through Playwright.

Fixtures for every browser test (the editor's too):

- ``live_server`` (session): the app with a temp SQLite database, migrated, hospitals ``a`` and
  ``b`` and the example pathways published, served by werkzeug in a thread;
  ``live_server.clock.advance(minutes=31)`` moves the app's clock (idle expiry and the like).
- ``chromium`` (session): one browser for the whole run; ``page``: a fresh context (no cookies,
  zh-CN) and page per test. The browser resolves ``carepath.test`` to 127.0.0.1, for pages that
  behave differently on a host that is not the loopback's name (``live_server.public_url``).
- ``make_account(*roles, hospital="a")``: a staff login; ``login_as(*roles)``: a page logged in
  through the login form as a new staff member with those roles (``page.account`` names them).

Chromium is ``/usr/bin/chromium`` (``CAREPATH_CHROMIUM`` overrides); ``playwright install`` is
never needed. Without it the tests skip with the reason locally and fail when ``CI=true``.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIELD_KEYS, LOOKUP_KEY, ROOT

CHROMIUM = os.environ.get("CAREPATH_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "browser test password"  # test-only
#: A host name the browser maps to 127.0.0.1, as a hospital's server name would not be.
PUBLIC_HOST = "carepath.test"
#: How long any one browser action or wait may take: a bound for a busy machine (two `make test`
#: at once on 2 cores), never a measure; a passing step takes well under a second.
TIMEOUT_MS = 30_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def _missing(reason: str) -> None:
    message = f"{reason}; install it with `apt-get install chromium fonts-wqy-microhei` (.ci/run does)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests must run in CI: {message}", pytrace=False)
    pytest.skip(message)


class LiveClock:
    """The app's clock: the real time plus an offset tests can move forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@dataclass
class LiveServer:
    url: str
    app: Any
    clock: LiveClock

    @property
    def public_url(self) -> str:
        """The same server under a name that is not localhost (only this browser resolves it)."""
        return self.url.replace("127.0.0.1", PUBLIC_HOST)

    def reset_throttle(self) -> None:
        from sqlalchemy import delete

        from carepath.store.models import LoginThrottle

        with self.app.extensions["carepath.db"].transaction() as session:
            session.execute(delete(LoginThrottle))


@contextmanager
def serving(directory: Path) -> Iterator[LiveServer]:
    """The app on a free port of 127.0.0.1 with a fresh SQLite database in ``directory``:
    migrated, the example pathways published, hospitals ``a`` and ``b`` (bench/ uses it too)."""
    from werkzeug.serving import make_server

    from carepath.store import demo, tenants
    from carepath.store.db import upgrade
    from carepath.webapi import create_app

    url = f"sqlite:///{directory / 'carepath.db'}"
    upgrade(url)
    clock = LiveClock()
    app = create_app(
        {
            "DATABASE_URL": url,
            "FIELD_KEYS": FIELD_KEYS,
            "LOOKUP_KEY": LOOKUP_KEY,
            "SECRET_KEY": "browser-test-session-key",
            "PASSWORD_HASHER": "test",
            "CLOCK": clock,
        }
    )
    database = app.extensions["carepath.db"]
    now = clock()
    demo.publish_examples(database, ROOT / "examples" / "pathways", now)
    with database.transaction() as session:
        for hospital in ("a", "b"):
            tenants.ensure_hospital(session, hospital, f"hospital {hospital}", now)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, clock)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        database.dispose()


@contextmanager
def launched(playwright: Any) -> Iterator[Any]:
    """Debian's Chromium through Playwright; ``carepath.test`` resolves to 127.0.0.1."""
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, args=["--no-sandbox", f"--host-resolver-rules=MAP {PUBLIC_HOST} 127.0.0.1"]
    )
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with serving(tmp_path_factory.mktemp("live")) as server:
        yield server


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _missing(f"Chromium not found at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[dev]')")
    playwright = sync_playwright().start()
    with launched(playwright) as browser:
        yield browser
    playwright.stop()


@pytest.fixture
def new_page(chromium: Any, live_server: LiveServer) -> Iterator[Callable[[], Any]]:
    """A factory of pages, each in its own context (its own cookies), closed after the test."""
    contexts: list[Any] = []

    def make() -> Any:
        context = chromium.new_context(base_url=live_server.url, locale="zh-CN")
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[[], Any]) -> Any:
    return new_page()


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    staff_id: int
    roles: tuple[str, ...]


_numbers = itertools.count(1)


@pytest.fixture
def make_account(live_server: LiveServer) -> Callable[..., Account]:
    from carepath.store import accounts

    def make(*roles: str, hospital: str = "a", name: str | None = None) -> Account:
        username = f"{'-'.join(roles) or 'staff'}.{next(_numbers)}".replace("_", "-")
        created = accounts.create_account(
            live_server.app.extensions["carepath.db"],
            hospital,
            username,
            PASSWORD,
            list(roles),
            now=live_server.clock(),
            name=name or f"测试{username}",
            profile="test",
        )
        return Account(username, PASSWORD, created.id, tuple(roles))

    return make


def log_in(page: Any, username: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


@pytest.fixture
def login_as(
    new_page: Callable[[], Any], make_account: Callable[..., Account], live_server: LiveServer
) -> Callable[..., Any]:
    def login(*roles: str, hospital: str = "a") -> Any:
        account = make_account(*roles, hospital=hospital)
        page = new_page()
        log_in(page, account.username, account.password)
        page.wait_for_url(f"{live_server.url}/")
        page.account = account
        return page

    return login


@pytest.fixture(autouse=True)
def _fresh_throttle(request: pytest.FixtureRequest) -> None:
    """Every test starts with no failed logins counted (they all come from 127.0.0.1)."""
    if "live_server" in request.fixturenames:
        request.getfixturevalue("live_server").reset_throttle()
