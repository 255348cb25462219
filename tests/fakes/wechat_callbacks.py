"""What WeChat posts to an official account's callback about her: ``subscribe`` and ``SCAN``
events, in plain, compatible and safe mode (docs/channels.md), signed as WeChat signs them.

The encryption is written here from WeChat's description, apart from
``carepath/channels/wechat_crypto.py``, so a mistake there fails against this:
AES-256-CBC with the EncodingAESKey (base64 of 43 characters plus ``=``), IV = its first 16
bytes, over ``16 random bytes + big-endian 4-byte length + XML + appid``, PKCS#7 to 32 bytes;
``msg_signature`` = SHA-1 of the sorted token, timestamp, nonce and ``Encrypt``.
"""

from __future__ import annotations

import base64
import hashlib
import os

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.fakes.providers import callback_query


def event_xml(
    openid: str, event: str, event_key: str = "", *, created: int = 1783666800, to: str = "gh_hospital"
) -> str:
    key = (
        f"<EventKey><![CDATA[{event_key}]]></EventKey><Ticket><![CDATA[gQticket]]></Ticket>"
        if event_key
        else ""
    )
    return (
        f"<ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event>{key}"
    )


def encrypt(encoding_aes_key: str, appid: str, xml: str) -> str:
    key = base64.b64decode(encoding_aes_key + "=")
    message = xml.encode()
    plain = os.urandom(16) + len(message).to_bytes(4, "big") + message + appid.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def callback(
    token: str,
    fields: str,
    *,
    mode: str = "plain",
    aes_key: str = "",
    appid: str = "",
    timestamp: str = "1783666801",
    nonce: str = "n0nce",
    plain_copy: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """The query and body of one callback in ``mode`` (``plain``, ``compatible``, ``safe``);
    ``plain_copy``: what compatible mode's plain fields say, when not ``fields`` (a forgery)."""
    if mode == "plain":
        return callback_query(token, timestamp, nonce, openid="o-any"), f"<xml>{fields}</xml>".encode()
    encrypted = encrypt(aes_key, appid, f"<xml>{fields}</xml>")
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()
    query = callback_query(
        token, timestamp, nonce, openid="o-any", encrypt_type="aes", msg_signature=signature
    )
    outer = (
        (plain_copy or fields) if mode == "compatible" else "<ToUserName><![CDATA[gh_hospital]]></ToUserName>"
    )
    return query, f"<xml>{outer}<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
