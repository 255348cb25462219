"""`carepath demo setup` prints the demo hospital's QR URL (the demo doctor's card), draws it
into the instance folder, keeps one source however often it runs, and the URL lands."""

from __future__ import annotations

import re
from pathlib import Path

from carepath.store import sources
from tests.cli.test_demo_setup import instance, set_up  # noqa: F401

LINE = re.compile(r"^her QR URL: +(http://127\.0\.0\.1:8000/h5/s/([a-z0-9]+)) ", re.MULTILINE)


def test_setup_prints_her_qr_url_once_made_and_it_lands_on_registration(instance: Path) -> None:  # noqa: F811
    from carepath.cli.common import load_app

    first = LINE.search(set_up(instance))
    assert first is not None, "no QR URL printed"
    url, code = first.groups()
    assert (instance / "qr" / f"{code}.png").read_bytes().startswith(b"\x89PNG")
    again = LINE.search(set_up(instance))
    assert again is not None and again.group(1) == url  # a second setup keeps the same source
    app = load_app()
    with app.extensions["carepath.db"].reading() as session:
        [view] = sources.list_sources(session, "demo")
    assert (view.code, view.doctor, view.qr_kind) == (code, "演示医生", "permanent")
    answer = app.test_client().get(f"/h5/s/{code}")
    assert answer.status_code == 302 and answer.headers["Location"] == "/h5/register"
