"""Rows a dispatcher would have left: her pregnancy, her WeChat binding, sent outbox rows with
the provider's message id, and their inbox items (written directly, for the receipt and inbox
API tests)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.conftest import NOW


def add_pregnancy(app: Any, hospital: str, n: int, *, openid: str | None = None, appid: str = "") -> str:
    """Her pregnancy in ``hospital`` (``preg-<n>``), bound to ``openid`` on ``appid`` if given."""
    from tests.delivery.conftest import add_pregnancy as add

    cipher = app.extensions["carepath.cipher"]
    _, pregnancy = add(
        app.extensions["carepath.db"], cipher, n, consent=False, openid=openid, phone=None,
        hospital=hospital, account=appid,
    )  # fmt: skip
    return pregnancy


def add_sent(
    app: Any,
    hospital: str,
    pregnancy_id: str,
    key: str,
    *,
    channel: str = "wechat_template",
    msgid: str | None = None,
    filed_at: datetime = NOW,
    title: str = "产检提醒",
) -> tuple[int, int]:
    """A sent outbox row and its inbox item: (outbox id, inbox item id)."""
    from carepath.store.models import InboxItem, OutboxRow

    with app.extensions["carepath.db"].transaction() as session:
        item = InboxItem(
            hospital_id=hospital,
            pregnancy_id=pregnancy_id,
            dedupe_key=key,
            kind="remind",
            title=title,
            summary="您有一条新的孕期消息，请打开孕期助手查看。",
            body=f"{title}: 正文",
            link=None,
            filed_at=filed_at,
        )
        session.add(item)
        session.flush()
        row = OutboxRow(
            hospital_id=hospital,
            pregnancy_id=pregnancy_id,
            dedupe_key=key,
            pathway_id="anc",
            version="1",
            rule_id="r",
            kind="remind",
            params={},
            due_at=filed_at - timedelta(minutes=1),
            channels=[],
            enrolment_id="e",
            why="test",
            status="sent",
            attempts=1,
            created_at=NOW,
            updated_at=NOW,
            channel=channel,
            provider_message_id=msgid or f"inbox-{item.id}",
            sent_at=filed_at,
            inbox_item_id=item.id,
        )
        session.add(row)
        session.flush()
        return row.id, item.id


def outbox_row(app: Any, row_id: int) -> Any:
    from carepath.store.models import OutboxRow

    with app.extensions["carepath.db"].reading() as session:
        row = session.get(OutboxRow, row_id)
        session.expunge(row)
        return row
