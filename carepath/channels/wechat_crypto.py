"""The official account's safe mode (安全模式): callbacks encrypted with its EncodingAESKey.

In safe mode (and in compatible mode, beside the plain fields) WeChat posts
``<xml><ToUserName>…</ToUserName><Encrypt>…</Encrypt></xml>`` with ``encrypt_type=aes`` and
``msg_signature`` in the query. As WeChat documents its message encryption:

- ``msg_signature`` = SHA-1 of the sorted token, timestamp, nonce and the ``Encrypt`` text;
- the AES key is the 43-character EncodingAESKey, base64-decoded with one ``=`` added (32 bytes);
- ``Encrypt`` is base64 of AES-256-CBC (IV = the key's first 16 bytes) over
  ``16 random bytes + 4-byte big-endian length + the message XML + the appid``, padded PKCS#7
  to a multiple of 32 bytes;
- the appid at the end must be the account's own (a message for another account is refused).

A reply of ``success`` needs no encryption; a passive reply (a menu click's answer, issue 19)
is encrypted the same way and sent as ``<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>``
(``encrypted_reply``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


class DecryptError(ValueError):
    """The ``Encrypt`` text does not open with this account's key, or is not for its appid."""


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte key of a 43-character EncodingAESKey (``ValueError`` for anything else)."""
    if len(encoding_aes_key) != 43:
        raise ValueError("an EncodingAESKey is 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as exc:
        raise ValueError("an EncodingAESKey is base64") from exc
    if len(key) != 32:
        raise ValueError("an EncodingAESKey decodes to 32 bytes")
    return key


def msg_signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def verify_msg_signature(token: str, timestamp: str, nonce: str, encrypted: str, signature: str) -> bool:
    if not (timestamp and nonce and encrypted and signature):
        return False
    return hmac.compare_digest(msg_signature(token, timestamp, nonce, encrypted), signature.lower())


def decrypt(key: bytes, appid: str, encrypted: str) -> bytes:
    """The message XML inside ``encrypted``; ``DecryptError`` when it is not this account's."""
    try:
        data = base64.b64decode(encrypted, validate=True)
    except binascii.Error as exc:
        raise DecryptError("Encrypt is not base64") from exc
    if not data or len(data) % 16:
        raise DecryptError("Encrypt is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
        raise DecryptError("bad padding: not encrypted with this account's EncodingAESKey")
    plain = plain[:-pad]
    if len(plain) < 20:
        raise DecryptError("too short")
    length = int.from_bytes(plain[16:20], "big")
    message, from_appid = plain[20 : 20 + length], plain[20 + length :]
    if len(message) != length or from_appid.decode("utf-8", "replace") != appid:
        raise DecryptError("not a message for this account")
    return message


def encrypt(key: bytes, appid: str, message: bytes) -> str:
    """``message`` as WeChat encrypts it for this account (the inverse of ``decrypt``)."""
    plain = os.urandom(16) + len(message).to_bytes(4, "big") + message + appid.encode()
    pad = BLOCK - len(plain) % BLOCK
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def encrypted_reply(
    key: bytes, appid: str, token: str, message: bytes, *, timestamp: str, nonce: str
) -> bytes:
    """A passive reply in safe mode: ``message`` encrypted, signed with the account's token."""
    encrypted = encrypt(key, appid, message)
    signature = msg_signature(token, timestamp, nonce, encrypted)
    return (
        f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt><MsgSignature><![CDATA[{signature}]]></MsgSignature>"
        f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
    ).encode()
