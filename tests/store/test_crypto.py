from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from carepath.store.crypto import (
    CryptoConfigError,
    FieldCipher,
    SealedValueError,
    mask_id_number,
    mask_phone,
    new_key,
    parse_field_keys,
)

LOOKUP = new_key()


def test_sealed_value_opens_and_hides_the_plain_text() -> None:
    cipher = FieldCipher.from_config(f"k1:{new_key()}", LOOKUP)
    sealed = cipher.seal("33010219900412180X")
    assert "33010219900412180X" not in sealed
    assert sealed.startswith("v1.k1.")
    assert cipher.open(sealed) == "33010219900412180X"
    assert cipher.seal("same") != cipher.seal("same")  # a fresh nonce each time


def test_keys_rotate_old_key_id_still_decrypts() -> None:
    old, new = new_key(), new_key()
    before = FieldCipher.from_config(f"k1:{old}", LOOKUP)
    sealed_before = before.seal("13812345678")
    after = FieldCipher.from_config(f"k2:{new},k1:{old}", LOOKUP)
    sealed_after = after.seal("13812345678")
    assert after.key_id(sealed_after) == "k2"
    assert after.open(sealed_before) == "13812345678"
    assert after.open(sealed_after) == "13812345678"
    with pytest.raises(SealedValueError):
        before.open(sealed_after)  # k2 is unknown to the old configuration


def test_lookup_hash_is_keyed_and_normalised() -> None:
    cipher = FieldCipher.from_config(f"k1:{new_key()}", LOOKUP)
    other = FieldCipher.from_config(f"k1:{new_key()}", new_key())
    assert cipher.lookup_hash("id", "33010219900412180x") == cipher.lookup_hash("id", " 33010219900412180X ")
    assert cipher.lookup_hash("id", "1") != other.lookup_hash("id", "1")
    assert cipher.lookup_hash("id", "1") != cipher.lookup_hash("phone", "1")


def test_tampered_value_does_not_open() -> None:
    cipher = FieldCipher.from_config(f"k1:{new_key()}", LOOKUP)
    sealed = cipher.seal("13812345678")
    tampered = sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB")
    with pytest.raises((InvalidTag, ValueError)):
        cipher.open(tampered)


@pytest.mark.parametrize(
    "config",
    ["", "k1", "k1:" + "QQ==", "k-1:" + new_key()],
    ids=["empty", "no-key", "short-key", "bad-key-id"],
)
def test_bad_key_configuration_is_refused(config: str) -> None:
    with pytest.raises(CryptoConfigError):
        parse_field_keys(config)


def test_masks() -> None:
    assert mask_id_number("33010219900412180X") == "3301**********180X"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("123") == "***"
