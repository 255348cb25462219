"""`make run`'s demo, tried as a newcomer would (issue 18, "Done when"): the printed QR URL
opens registration, a new woman registers and her inbox has the lesson of her week; her ID
number again from another browser is asked to prove it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from tests.cli.test_demo_setup import instance, set_up  # noqa: F401  (the demo's fixture)
from tests.registration_fields import form_fields
from tests.webapi.h5.conftest import csrf_of


def test_the_printed_qr_url_registers_a_new_woman_who_sees_her_lesson(instance: Path) -> None:  # noqa: F811
    from carepath.cli.common import load_app

    output = set_up(instance, "--url", "http://127.0.0.1:8000")
    match = re.search(r"her QR URL:\s+http://127\.0\.0\.1:8000(/h5/s/\w+)", output)
    assert match, output
    app = load_app()
    lmp = (datetime.now(UTC) - timedelta(days=100)).date().isoformat()  # the demo runs on today's clock

    def register(client: FlaskClient) -> Any:
        landed = client.get(match.group(1))
        assert landed.status_code == 302 and landed.headers["Location"] == "/h5/register"
        page = client.get("/h5/register").get_data(as_text=True)
        token = re.search(r'name="token" value="([^"]+)"', page)
        assert token
        hidden = {"csrf_token": csrf_of(page), "token": token.group(1)}
        return client.post("/h5/register", data={**hidden, **form_fields(41, lmp=lmp)})

    first = app.test_client()
    answer = register(first)
    assert answer.status_code == 302 and answer.headers["Location"] == "/h5/inbox"
    assert "孕14周" in first.get("/h5/inbox").get_data(as_text=True)  # 14+2 today: this week's lesson
    again = register(app.test_client())  # another browser, the same ID number
    assert again.headers["Location"] == "/h5/register/prove"
