"""SMS adapters: signatures as the providers check them, template parameters in their shapes."""

from __future__ import annotations

import json

import pytest

from carepath.channels.base import CONFIG_ERROR, PermanentError
from carepath.channels.sms_aliyun import percent_encode, rpc_signature
from tests.channels.conftest import Adapters, message_for


def test_aliyun_signature_matches_the_documented_example() -> None:
    # Alibaba Cloud's published RPC signature example (DescribeRegions, secret "testsecret").
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert rpc_signature(params, "testsecret", method="GET") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_aliyun_percent_encoding_is_rfc3986() -> None:
    assert percent_encode("a b*c~d") == "a%20b%2Ac~d"
    assert percent_encode("市妇幼") == "%E5%B8%82%E5%A6%87%E5%B9%BC"


def test_aliyun_sends_named_template_params_as_json(adapters: Adapters) -> None:
    message = message_for("sms_aliyun", params={"summary": "您有一条新提醒", "date": "6月20日"})
    receipt = adapters.build("sms_aliyun").send(message)
    (sent,) = adapters.fake.delivered("aliyun.sms")
    assert json.loads(sent.payload["TemplateParam"]) == {"summary": "您有一条新提醒", "date": "6月20日"}
    assert sent.payload["SignName"] == "市妇幼"
    assert sent.payload["TemplateCode"] == "TPL-sms_aliyun"
    assert receipt.provider_message_id.endswith("^0")


def test_aliyun_wrong_secret_is_a_configuration_error(adapters: Adapters) -> None:
    adapters.fake.aliyun_keys["LTAIfake"] = "rotated"
    with pytest.raises(PermanentError) as caught:
        adapters.build("sms_aliyun").send(message_for("sms_aliyun"))
    assert (caught.value.reason, caught.value.provider_code) == (CONFIG_ERROR, "SignatureDoesNotMatch")


def test_aliyun_uses_a_fresh_nonce_per_request(adapters: Adapters) -> None:
    channel = adapters.build("sms_aliyun")
    channel.send(message_for("sms_aliyun", key="a"))
    channel.send(message_for("sms_aliyun", key="b"))
    nonces = {r.payload["SignatureNonce"] for r in adapters.fake.delivered("aliyun.sms")}
    assert len(nonces) == 2


def test_tencent_sends_numbered_params_in_order(adapters: Adapters) -> None:
    params = {"2": "6月20日", "10": "十", "1": "您有一条新提醒"}
    adapters.build("sms_tencent").send(message_for("sms_tencent", params=params))
    (sent,) = adapters.fake.delivered("tencent.sms")
    assert sent.payload["TemplateParamSet"] == ["您有一条新提醒", "6月20日", "十"]
    assert sent.payload["PhoneNumberSet"] == ["+8613800005678"]
    assert sent.payload["SmsSdkAppId"] == "1400006666"
    assert sent.headers["x-tc-version"] == "2021-01-11"


def test_tencent_wrong_secret_fails_the_signature_check(adapters: Adapters) -> None:
    adapters.fake.tencent_keys["AKIDfake"] = "rotated"
    with pytest.raises(PermanentError) as caught:
        adapters.build("sms_tencent").send(message_for("sms_tencent"))
    assert (caught.value.reason, caught.value.provider_code) == (CONFIG_ERROR, "AuthFailure.SignatureFailure")


def test_tc3_signature_covers_the_body_and_names_its_scope() -> None:
    from carepath.channels.sms_tencent import tc3_authorization

    auth = tc3_authorization(
        secret_id="AKIDfake",
        secret_key="tencent-secret",
        host="h",
        path="/",
        timestamp=1551113065,
        payload=b"{}",
    )
    other = tc3_authorization(
        secret_id="AKIDfake",
        secret_key="tencent-secret",
        host="h",
        path="/",
        timestamp=1551113065,
        payload=b"{ }",
    )
    assert auth.startswith("TC3-HMAC-SHA256 Credential=AKIDfake/2019-02-25/sms/tc3_request, ")
    assert auth != other
