"""The API reference (Swagger UI at /api/docs) in real Chromium: its assets come from the app
(the swagger-ui-bundle package) and the page calls nothing off its own server: no CDN, no
online validator. Swagger UI skips its validator for a spec on localhost, so the page is opened
as a hospital would serve it, under a host name; any request elsewhere is recorded and stopped
before it leaves the browser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import LiveServer


@pytest.fixture
def docs(page: Any, live_server: LiveServer) -> tuple[Any, list[str], list[str], Callable[[str], str]]:
    """The docs page, every URL it requested, and those off its own server (aborted)."""
    ours = urlsplit(live_server.public_url).netloc
    requested: list[str] = []
    away: list[str] = []

    def only_ours(route: Any) -> None:
        url = route.request.url
        requested.append(url)
        if urlsplit(url).netloc == ours:
            route.continue_()
        else:
            away.append(url)
            route.abort()

    page.route("**/*", only_ours)
    page.goto(f"{live_server.public_url}/api/docs")
    page.wait_for_selector(".opblock")  # the spec was fetched and rendered: every operation
    page.wait_for_load_state("networkidle")  # and whatever the rendered page asks for then
    return page, requested, away, lambda path: f"http://{ours}{path}"


def test_the_swagger_page_loads_its_assets_and_spec_from_its_own_server_only(
    docs: tuple[Any, list[str], list[str], Callable[[str], str]],
) -> None:
    _, requested, away, at = docs
    assert at("/api/openapi.json") in requested
    assert at("/api/docs-static/swagger-ui-bundle.js") in requested
    assert at("/api/docs-static/swagger-ui.css") in requested
    assert away == []


def test_the_swagger_config_turns_the_online_validator_off(
    docs: tuple[Any, list[str], list[str], Callable[[str], str]],
) -> None:
    """The validator badge is drawn by Swagger UI's standalone layout (a deployment may switch
    to it, a newer Swagger UI may move it): the page's own config, drawn in that layout, must
    still ask nothing of validator.swagger.io."""
    page, _, away, _ = docs
    assert page.evaluate("'validatorUrl' in window.config && window.config.validatorUrl === null")
    page.evaluate(
        """() => {
          const standalone = document.createElement('div');
          standalone.id = 'standalone';
          document.body.appendChild(standalone);
          window.ui = SwaggerUIBundle({
            ...window.config,
            dom_id: '#standalone',
            presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
            layout: 'StandaloneLayout',
          });
        }"""
    )
    page.wait_for_selector("#standalone .topbar")  # the standalone layout is drawn
    page.wait_for_selector("#standalone .opblock")
    page.wait_for_load_state("networkidle")
    assert away == []
