"""``delivery_summary``: one outbox row's delivery as timelines and exports show it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from carepath.store.models import OutboxRow
from carepath.store.receipts import delivery_summary
from tests.conftest import NOW

LATER = NOW + timedelta(minutes=3)


def outbox(**fields: Any) -> OutboxRow:
    base: dict[str, Any] = {"status": "due", "channel": None, "updated_at": NOW}
    return OutboxRow(**{**base, **fields})


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"status": "due", "status_reason": "outside-window"}, ("due", None, None, None, "outside-window")),
        ({"status": "sent", "channel": "sms_tencent", "sent_at": NOW}, ("sent", NOW, None, None, None)),
        ({"status": "sent", "channel": "inbox", "sent_at": NOW}, ("delivered", NOW, NOW, None, None)),
        ({"status": "sent", "channel": "console", "sent_at": NOW}, ("sent", NOW, None, None, None)),
        (
            {"status": "sent", "channel": "wechat_template", "sent_at": NOW, "receipt_status": "delivered",
             "receipt_at": LATER, "delivered_at": LATER},
            ("delivered", NOW, LATER, None, None),
        ),
        (
            {"status": "sent", "channel": "wechat_template", "sent_at": NOW, "receipt_status": "blocked",
             "receipt_at": LATER, "receipt_detail": "failed:user block"},
            ("blocked", NOW, None, LATER, "failed:user block"),
        ),
        (
            {"status": "dead", "channel": "sms_tencent", "updated_at": LATER,
             "dead_reason": "all-channels-failed: sms_tencent"},
            ("dead", None, None, LATER, "all-channels-failed: sms_tencent"),
        ),
        (
            {"status": "failed", "channel": "sms_tencent", "updated_at": LATER,
             "status_reason": "outcome-unknown", "dead_reason": "outcome-unknown: sms_tencent"},
            ("failed", None, None, LATER, "outcome-unknown: sms_tencent"),
        ),
        ({"status": "skipped", "status_reason": "no-consent"}, ("skipped", None, None, None, "no-consent")),
        ({"status": "cancelled"}, ("cancelled", None, None, None, None)),
    ],
)  # fmt: skip
def test_summary_of_each_state(fields: dict[str, Any], expected: tuple[Any, ...]) -> None:
    summary = delivery_summary(outbox(**fields))
    assert (
        summary.status,
        summary.sent_at,
        summary.delivered_at,
        summary.failed_at,
        summary.reason,
    ) == expected


def test_read_wins_and_keeps_the_other_times() -> None:
    read = LATER + timedelta(hours=1)
    summary = delivery_summary(
        outbox(status="sent", channel="wechat_template", sent_at=NOW, receipt_status="blocked",
               receipt_at=LATER, receipt_detail="failed:user block", read_at=read)
    )  # fmt: skip
    assert (summary.status, summary.read_at, summary.failed_at) == ("read", read, LATER)
    assert summary.as_json() == {
        "status": "read",
        "channel": "wechat_template",
        "sent_at": NOW.isoformat(),
        "delivered_at": None,
        "read_at": read.isoformat(),
        "failed_at": LATER.isoformat(),
        "reason": "failed:user block",
    }
