"""The SMS opt-out keywords (issue 19 item 6): the setting's parser and what counts as an
opt-out reply — the whole reply, any case, full-width letters and end punctuation forgiven."""

from __future__ import annotations

import pytest

from carepath.store.binding_events import opt_out_keyword
from carepath.store.setting_values import DEFAULT_OPT_OUT_KEYWORDS, BadValue, opt_out_keywords, reply_form


@pytest.mark.parametrize(
    ("reply", "keyword"),
    [
        ("TD", "td"), ("td", "td"), (" Td。", "td"), ("ＴＤ", "td"), ("TD!", "td"), ("退订", "退订"),
        ("退订。", "退订"), ("R", "r"), ("t", "t"), ("\nT\n", "t"), ("TD是什么意思", None),
        ("我不想退订", None), ("T D", None), ("TDD", None), ("", None), ("谢谢", None),
    ],
)  # fmt: skip
def test_only_a_whole_reply_that_is_a_keyword_opts_her_out(reply: str, keyword: str | None) -> None:
    assert opt_out_keyword(reply, DEFAULT_OPT_OUT_KEYWORDS) == keyword


def test_the_setting_takes_text_or_a_list_and_keeps_each_keyword_once_in_reply_form() -> None:
    assert opt_out_keywords("R, T, TD, 退订") == DEFAULT_OPT_OUT_KEYWORDS
    assert opt_out_keywords("停止，STOP, stop") == ("停止", "stop")
    assert opt_out_keywords('["ＴＤ", "退订。"]') == ("td", "退订")
    assert opt_out_keywords(["TD"]) == ("td",)
    assert reply_form(" ＳＴＯＰ！") == "stop"


@pytest.mark.parametrize(
    ("value", "code"),
    [("", "bad-keyword"), ("T D", "bad-keyword"), ("[1]", "bad-text"), ("x" * 21, "too-long"),
     (",".join(f"k{i}" for i in range(21)), "too-long"), ({"a": 1}, "bad-type"), ('{"a": 1}', "bad-keyword")],
)  # fmt: skip
def test_the_setting_refuses_what_could_never_match(value: object, code: str) -> None:
    with pytest.raises(BadValue) as refused:
        opt_out_keywords(value)
    assert refused.value.code == code
