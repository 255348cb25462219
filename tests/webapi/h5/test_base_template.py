"""Her pages' base template: Chinese, a phone's viewport, nothing from a CDN, no staff chrome."""

from __future__ import annotations

from flask import render_template

from carepath.webapi import create_app
from tests.webapi.conftest import FIELD_KEYS, LOOKUP_KEY


def test_her_base_page_is_chinese_phone_sized_and_self_contained() -> None:
    app = create_app(  # rendering needs no database: nothing is migrated or opened
        {"TESTING": True, "DATABASE_URL": "sqlite://", "FIELD_KEYS": FIELD_KEYS, "LOOKUP_KEY": LOOKUP_KEY}
    )
    with app.test_request_context("/"):
        html = render_template("h5/base.html")
    assert '<html lang="zh-CN">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1' in html
    assert 'href="/static/h5/h5.css"' in html
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    assert "carepath.css" not in html and "csrf-token" not in html  # nothing of the staff pages
    with app.test_client().get("/static/h5/h5.css") as served:
        assert served.status_code == 200 and served.mimetype == "text/css"
