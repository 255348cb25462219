"""``/h5/s/<code>``: a source's short URL records the scan, remembers the source in her session
and sends her to registration (through WeChat's sign-in inside WeChat)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from carepath.store import sources
from carepath.store.models_sources import Source, SourceEvent
from tests.conftest import NOW

WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)
PHONE_UA = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36"


def _poster(app: Flask) -> Source:
    with app.extensions["carepath.db"].transaction() as session:
        return sources.create(session, sources.plan(session, "a", NOW), NOW, "test")


def _hows(app: Flask) -> list[str]:
    with app.extensions["carepath.db"].reading() as session:
        return list(session.scalars(select(SourceEvent.how).order_by(SourceEvent.id)))


def test_a_phone_browser_lands_on_registration_and_the_scan_counts_once(app: Flask) -> None:
    poster = _poster(app)
    client = app.test_client()
    answer = client.get(f"/h5/s/{poster.code}", headers={"User-Agent": PHONE_UA})
    assert answer.status_code == 302 and answer.headers["Location"] == "/h5/register"
    with client.session_transaction("/h5/") as session:  # her cookie lives on /h5
        assert session["h5_source"] == poster.code
    client.get(f"/h5/s/{poster.code}", headers={"User-Agent": PHONE_UA})  # a reload
    assert _hows(app) == ["link"]
    client.head(f"/h5/s/{poster.code}")  # a link previewer's HEAD is not a scan
    app.test_client().get(f"/h5/s/{poster.code}")  # another woman's browser is
    assert _hows(app) == ["link", "link"]


def test_inside_wechat_she_signs_in_through_web_authorisation_first(app: Flask) -> None:
    poster = _poster(app)
    answer = app.test_client().get(f"/h5/s/{poster.code}", headers={"User-Agent": WECHAT_UA})
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/h5/sign-in?next=%2Fh5%2Fregister&hospital=a"
    assert _hows(app) == ["link-wechat"]


def test_another_source_replaces_the_one_remembered(app: Flask) -> None:
    first, second = _poster(app), _poster(app)
    client = app.test_client()
    client.get(f"/h5/s/{first.code}")
    client.get(f"/h5/s/{second.code}")
    with client.session_transaction("/h5/") as session:  # her cookie lives on /h5
        assert session["h5_source"] == second.code
    with app.extensions["carepath.db"].reading() as session:
        found = sources.counts(session, [first.id, second.id])
    assert (found[first.id].scans, found[second.id].scans) == (1, 1)


def test_an_unknown_code_is_a_chinese_page_not_a_redirect(app: Flask) -> None:
    _poster(app)
    for code in ("zzzzzzzz", "not-a-code", "%3Cscript%3E"):
        answer = app.test_client().get(f"/h5/s/{code}")
        assert answer.status_code == 404
        assert "二维码无效" in answer.get_data(as_text=True)
        assert "<script>" not in answer.get_data(as_text=True)
    assert _hows(app) == []


def test_a_garbled_short_url_is_a_chinese_page_for_her_and_a_problem_for_a_program(app: Flask) -> None:
    """A NUL in her address is refused before any view (the text guard): in her words in a
    browser; problem+json, with its stable code, for anything that asks for JSON."""
    client = app.test_client()
    page = client.get("/h5/s/%00", headers={"Accept": "text/html"})
    assert page.status_code == 422 and page.mimetype == "text/html"
    assert "无法识别的字符" in page.get_data(as_text=True)
    machine = client.get("/h5/s/%00", headers={"Accept": "application/json"})
    assert machine.status_code == 422 and machine.get_json()["code"] == "bad-text"
