"""Making a source with its QR codes: the store's sources (``store/sources.py``) and the
official account's parametric QR codes (``channels/wechat_qr.py``), then the pictures.

``make_source`` checks the request and gives it a code (``sources.plan``, a short read), asks
WeChat for the code's QR when the hospital has an official account (no transaction held over
the network call), and only then writes the source with its ticket: a refusal from WeChat
leaves nothing written. The short URL's own codes are drawn by segno (``draw``), PNG for print
and SVG for any size, for the places outside WeChat (a leaflet, an SMS, another browser);
WeChat's code's ``url`` is drawn the same way, so a poster never depends on fetching
``showqrcode``.

The official account is the hospital's ``wechat_template`` channel in its channels file (the
file ``carepath serve --config`` reads): ``appid`` and ``secret_env``, optionally ``base_url``
and ``qrcode_show_base_url`` (tests point both at the fake WeChat).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import segno

from carepath.channels.base import WECHAT_BASE_URL, TokenStore
from carepath.channels.wechat_qr import SHOW_BASE_URL, WechatQrCodes
from carepath.errors import CarepathError
from carepath.store import sources
from carepath.store.db import Database

#: The channel whose account makes the QR codes: the official account (服务号). A mini program's
#: account has no parametric codes of this kind.
ACCOUNT_CHANNEL = "wechat_template"


class WechatConfigError(CarepathError):
    """The hospital's channels file names an official account that cannot be used."""

    code = "wechat-config"


@dataclass(frozen=True)
class OfficialAccount:
    appid: str
    secret: str
    base_url: str | None = None
    show_base_url: str = SHOW_BASE_URL


def official_account(
    configs: list[dict[str, Any]], hospital_id: str, environ: Mapping[str, str]
) -> OfficialAccount | None:
    """The hospital's official account from its channels files, or None when it has none."""
    for config in configs:
        if config.get("hospital") != hospital_id:
            continue
        settings = (config.get("channels") or {}).get(ACCOUNT_CHANNEL)
        if not isinstance(settings, dict) or "appid" not in settings:
            return None
        variable = settings.get("secret_env")
        secret = environ.get(str(variable), "") if variable else str(settings.get("secret", ""))
        if not secret:
            raise WechatConfigError(
                f"{hospital_id}: {ACCOUNT_CHANNEL} names secret_env {variable}, which is not set"
                if variable
                else f"{hospital_id}: {ACCOUNT_CHANNEL} has no secret_env"
            )
        return OfficialAccount(
            appid=str(settings["appid"]),
            secret=secret,
            base_url=settings.get("base_url"),
            show_base_url=str(settings.get("qrcode_show_base_url", SHOW_BASE_URL)),
        )
    return None


def qr_codes(account: OfficialAccount, client: httpx.Client, token_store: TokenStore) -> WechatQrCodes:
    return WechatQrCodes(
        appid=account.appid,
        secret=account.secret,
        client=client,
        token_store=token_store,
        base_url=account.base_url or WECHAT_BASE_URL,
        show_base_url=account.show_base_url,
    )


@dataclass(frozen=True)
class Made:
    source: sources.SourceView
    wechat_show_url: str | None  # the official account's QR image (showqrcode?ticket=...)


def make_source(
    db: Database,
    hospital_id: str,
    now: datetime,
    created_by: str,
    *,
    department: str | None = None,
    doctor: str | None = None,
    campaign: str | None = None,
    days: int | None = None,
    wechat: WechatQrCodes | None = None,
    team: int | None = None,
) -> Made:
    """A new source, with the official account's QR code when ``wechat`` is given. Raises the
    store's ``CarepathError``s for a bad request and a channel's ``ChannelError`` when WeChat
    refuses: in both cases nothing is written."""
    with db.reading() as session:
        planned = sources.plan(
            session,
            hospital_id,
            now,
            department=department,
            doctor=doctor,
            campaign=campaign,
            days=days,
            wechat_appid=wechat.appid if wechat else None,
            team=team,
        )
    made: sources.WechatQr | None = None
    show_url = None
    if wechat is not None:
        if planned.expire_seconds is not None:
            code = wechat.temporary(planned.scene, planned.expire_seconds)
        else:
            code = wechat.permanent(planned.scene)
        made = sources.WechatQr(wechat.appid, code.ticket, code.url)
        show_url = wechat.show_url(code.ticket)
    with db.transaction() as session:
        source = sources.create(session, planned, now, created_by, made)
        [view] = sources.views(session, [source])
    return Made(view, show_url)


def draw(content: str, kind: str) -> bytes:
    """A QR code of ``content`` as ``png`` (10 px a module, for print) or ``svg``. Error
    correction M (15 %): a printed poster survives a crease or a smudge."""
    code = segno.make(content, error="m", micro=False)
    out = io.BytesIO()
    if kind == "png":
        code.save(out, kind="png", scale=10, border=4)
    elif kind == "svg":
        code.save(out, kind="svg", scale=4, border=4, title=content, xmldecl=True)
    else:
        raise ValueError(f"unknown picture kind {kind!r}")
    return out.getvalue()


def write_pictures(directory: Path, view: sources.SourceView, short: str) -> list[Path]:
    """``<code>.png`` and ``<code>.svg`` of the short URL; ``<code>-wechat.png`` / ``.svg`` of the
    official account's code when it has one. Returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = [(f"{view.code}", short)]
    if view.wechat_url:
        wanted.append((f"{view.code}-wechat", view.wechat_url))
    written = []
    for stem, content in wanted:
        for kind in ("png", "svg"):
            path = directory / f"{stem}.{kind}"
            path.write_bytes(draw(content, kind))
            written.append(path)
    return written
