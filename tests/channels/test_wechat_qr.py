"""The official account's parametric QR codes against the fake WeChat, over HTTP."""

from __future__ import annotations

import httpx
import pytest

from carepath.channels.base import InMemoryTokenStore, PermanentError, RetryableError
from carepath.channels.wechat_qr import WechatQrCodes
from tests.channels.conftest import Adapters
from tests.fakes.providers import provider_code


def _codes(adapters: Adapters, secret: str = "wx-secret") -> WechatQrCodes:
    base = adapters.fake.base_url
    return WechatQrCodes(
        appid="wx-hospital",
        secret=secret,
        client=adapters.client,
        token_store=adapters.token_store,
        base_url=base,
        show_base_url=base,
    )


def test_a_permanent_code_carries_its_scene_and_its_ticket_shows_an_image(adapters: Adapters) -> None:
    codes = _codes(adapters)
    code = codes.permanent("src_abcd2345")
    (sent,) = adapters.fake.delivered("wechat.qrcode")
    assert sent.payload == {
        "action_name": "QR_LIMIT_STR_SCENE",
        "action_info": {"scene": {"scene_str": "src_abcd2345"}},
    }
    assert code.expire_seconds is None and code.url.startswith("http://weixin.qq.com/q/")
    issued = adapters.fake.qr_codes[code.ticket]
    assert (issued["appid"], issued["scene"], issued["url"]) == ("wx-hospital", "src_abcd2345", code.url)
    image = httpx.get(codes.show_url(code.ticket))
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    assert httpx.get(codes.show_url("not-a-ticket")).status_code == 404


def test_a_temporary_code_expires(adapters: Adapters) -> None:
    code = _codes(adapters).temporary("src_campaign2", 14 * 86400)
    (sent,) = adapters.fake.delivered("wechat.qrcode")
    assert sent.payload["action_name"] == "QR_STR_SCENE" and sent.payload["expire_seconds"] == 1_209_600
    assert code.expire_seconds == 1_209_600


@pytest.mark.parametrize(("scene", "seconds"), [("src_x", 2_592_001), ("src_x", 0), ("", 60), ("s" * 65, 60)])
def test_what_wechat_would_refuse_is_refused_before_the_call(
    adapters: Adapters, scene: str, seconds: int
) -> None:
    with pytest.raises(ValueError):
        _codes(adapters).temporary(scene, seconds)
    assert adapters.fake.count("wechat.qrcode") == 0


def test_an_expired_token_is_refreshed_once(adapters: Adapters) -> None:
    codes = _codes(adapters)
    codes.permanent("src_first234")
    adapters.fake.expire_tokens()
    codes.permanent("src_second23")
    assert adapters.fake.tokens_issued["wx-hospital"] == 2
    assert len(adapters.fake.delivered("wechat.qrcode")) == 2


def test_a_wrong_secret_is_a_configuration_error(adapters: Adapters) -> None:
    with pytest.raises(PermanentError) as raised:
        _codes(adapters, secret="wrong").permanent("src_abcd2345")
    assert raised.value.reason == "config-error"


def test_a_busy_wechat_is_worth_another_try(adapters: Adapters) -> None:
    adapters.fake.inject("wechat.qrcode", provider_code(-1))
    with pytest.raises(RetryableError):
        WechatQrCodes(
            appid="wx-hospital",
            secret="wx-secret",
            client=adapters.client,
            token_store=InMemoryTokenStore(),
            base_url=adapters.fake.base_url,
        ).permanent("src_abcd2345")
