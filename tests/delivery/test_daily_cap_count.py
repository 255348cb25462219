"""The daily cap's count for a claimed batch (``claiming._sent_today``): per pregnancy, the
external messages sent or in flight since her local midnight, urgent ones aside. On PostgreSQL
it is one count per woman through her own rows (docs/scale.md, the dispatcher's second pass);
both backends must count the same."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from carepath.delivery.claiming import _sent_today
from carepath.store.models import OutboxRow
from tests.conftest import NOW
from tests.delivery.conftest import add_outbox, add_pregnancy

MIDNIGHT = NOW.replace(hour=0, minute=0, second=0, microsecond=0)


def _set(db: Any, key: str, **values: Any) -> None:
    with db.transaction() as session:
        session.execute(update(OutboxRow).where(OutboxRow.dedupe_key == key).values(**values))


def test_the_cap_counts_each_womans_external_messages_since_midnight(db: Any, cipher: Any) -> None:
    women = [add_pregnancy(db, cipher, n)[1] for n in range(4)]
    first, second, third, fourth = women
    today = MIDNIGHT + timedelta(hours=1)
    rows = [
        (first, "a-sent", {"status": "sent", "channel": "wechat_template", "sent_at": today}),
        (first, "a-flight", {"status": "in_flight", "channel": "sms_tencent", "in_flight_at": today}),
        (first, "a-inbox", {"status": "sent", "channel": "inbox", "sent_at": today}),  # internal
        (first, "a-due", {"status": "due"}),  # not sent
        (second, "b-yesterday", {"status": "sent", "channel": "wechat_template",
                                 "sent_at": MIDNIGHT - timedelta(minutes=1)}),
        (second, "b-today", {"status": "sent", "channel": "wechat_template", "sent_at": today}),
        (third, "c-failed", {"status": "failed", "channel": "wechat_template", "in_flight_at": today}),
        (fourth, "d-other", {"status": "sent", "channel": "wechat_template", "sent_at": today}),  # not asked
    ]  # fmt: skip
    for pregnancy, key, values in rows:
        add_outbox(db, pregnancy, key)
        _set(db, key, **values)
    add_outbox(db, first, "a-urgent", params={"urgent": True})
    _set(db, "a-urgent", status="sent", channel="wechat_template", sent_at=today)
    add_outbox(db, first, "a-not-urgent", params={"urgent": False})
    _set(db, "a-not-urgent", status="sent", channel="wechat_template", sent_at=today)
    with db.reading() as session:
        counted = _sent_today(session, [first, second, third], MIDNIGHT)
    assert counted == {first: 3, second: 1}  # the third sent nothing today: no entry, as before
    with db.reading() as session:
        assert _sent_today(session, [], MIDNIGHT) == {}
