"""The password rules of ``store/passwords.py``: trivial, common and username-bearing
passwords are refused with a stable code; ordinary long passwords pass. No database needed."""

from __future__ import annotations

import pytest

from carepath.store.passwords import AccountError, check_password


def _code(password: str, username: str | None = None) -> str | None:
    try:
        check_password(password, username)
    except AccountError as exc:
        assert exc.field == "password"
        return exc.code
    return None


@pytest.mark.parametrize(
    ("password", "code"),
    [
        (" " * 10, "password-blank"),
        ("\t \u3000" * 4, "password-blank"),  # any whitespace, the ideographic space too
        ("1234567890", "password-trivial"),
        ("password12", "password-common"),
    ],
)
def test_the_three_trivial_passwords_of_the_review_are_refused(password: str, code: str) -> None:
    assert _code(password) == code


@pytest.mark.parametrize(
    "password",
    [
        "aaaaaaaaaa",
        "ababababab",
        "abcabcabca",  # a short piece repeated
        "hellohello",
        "0987654321",
        "abcdefghijk",
        "ZYXWVUTSRQ",  # case does not help
        "qwertyuiop",  # a keyboard row
        "7890123456",  # the digits wrap round
        "1 2 3 4 5 6 7 8 9 0",  # spaces do not help
        "2468024680",
        "aaaaaaaaab",  # two different characters
    ],
)
def test_repetitive_and_sequential_passwords_are_trivial(password: str) -> None:
    assert _code(password) == "password-trivial"


@pytest.mark.parametrize(
    "password",
    [
        "woaini1314",  # 我爱你一生一世
        "Woaini1314!",
        "qq12345678",  # qq123456 with two digits added
        "woaini1314520",
        "zhang12345",  # zhang123 (surname in pinyin) with digits added
        "Password2026",
        "iloveyou!!",
        "1qaz2wsx3edc",
        "BASKETBALL",
        "password 12",  # spaces do not help
    ],
)
def test_common_passwords_and_their_digit_suffixes_are_refused(password: str) -> None:
    assert _code(password) == "password-common"


def test_the_list_holds_the_chinese_patterns_of_its_source() -> None:
    from carepath.store.passwords import common_passwords

    common = common_passwords()
    assert {"woaini1314", "qq123456", "5201314", "zhang123", "password12"} <= common
    assert len(common) > 18_000 and all(p == p.lower() for p in common)


@pytest.mark.parametrize(
    ("password", "username", "code"),
    [
        ("Wang.Li.2026", "wang.li.2026", "password-is-username"),
        ("my wang.li of 2026", "wang.li", "password-contains-username"),
        ("WANGLI-maternity", "wang.li", "password-contains-username"),  # separators do not help
        ("doctor zhang 2026", "zhang", "password-contains-username"),
    ],
)
def test_the_username_inside_the_password_is_refused(password: str, username: str, code: str) -> None:
    assert _code(password, username) == code


@pytest.mark.parametrize(
    ("password", "username"),
    [
        ("correct horse battery", "wang.li"),
        ("a long police password", "li"),  # a two-letter name is only refused as the whole password
        ("孕妇学校的第一个密码", "wang.li"),
        ("b4v-Tq9!xw", None),
        ("banana river 2026", None),
        ("13572468abcd", None),
    ],
)
def test_ordinary_passwords_pass(password: str, username: str | None) -> None:
    assert _code(password, username) is None


def test_length_is_checked_first() -> None:
    assert _code("   ") == "password-too-short"
    assert _code("x" * 201) == "password-too-long"
