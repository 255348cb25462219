"""From the engine's words to delivery's: an outbox action becomes a ``DueItem`` for the
policy and names the notification kind whose template an external channel uses.

- ``remind`` (a checkup or appointment) is *clinical*, notification kind ``checkup-reminder``;
- ``questionnaire`` is a *service* notice, ``questionnaire-due``;
- ``push`` (a lesson or a condition page) is *education*: the inbox only, announced by the
  weekly ``inbox-digest`` (WeChat allows template messages only for service notices);
- an action whose params carry ``priority: urgent`` or ``high`` is an *escalation*, and so is
  an urgent message (``urgent: true``: safety advice, sent at any hour and outside her cap).

The pathway language names channels by what they are (``wechat``, ``subscribe``, ``sms``,
``inbox``, ``webhook``); a hospital chooses which adapter carries each (its SMS vendor).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType

from carepath.delivery.policy import DueItem

#: Pathway-language channel -> adapter, unless the hospital says otherwise.
DEFAULT_ADAPTERS: Mapping[str, str] = MappingProxyType(
    {
        "wechat": "wechat_template",
        "subscribe": "wechat_subscribe",
        "sms": "sms_tencent",
        "inbox": "inbox",
        "webhook": "webhook",
    }
)

NOTIFICATION_KINDS: Mapping[str, str] = MappingProxyType(
    {"remind": "checkup-reminder", "questionnaire": "questionnaire-due", "push": "inbox-digest"}
)
_PRIORITY = MappingProxyType({"remind": "clinical", "questionnaire": "service", "push": "education"})
#: The kind of the weekly notice that new lessons wait in her inbox.
DIGEST_KIND = "inbox-digest"


def adapters_for(channels: Sequence[str], adapters: Mapping[str, str] = DEFAULT_ADAPTERS) -> tuple[str, ...]:
    """A rule's narrowed channels as adapter names; unknown names are refused, not dropped."""
    try:
        return tuple(adapters[name] for name in channels)
    except KeyError as exc:
        raise ValueError(f"no adapter configured for channel {exc.args[0]!r}") from None


def priority_of(kind: str, params: Mapping[str, object]) -> str:
    if params.get("priority") in ("urgent", "high") or params.get("urgent") is True:
        return "escalation"
    try:
        return _PRIORITY[kind]
    except KeyError:
        raise ValueError(f"{kind!r} actions are not messages to her") from None


def topic_of(kind: str, params: Mapping[str, object]) -> str:
    """What she can turn off: the content item or the form."""
    return str(params.get("content") or params.get("form") or kind)


def due_item(
    *,
    dedupe_key: str,
    kind: str,
    params: Mapping[str, object],
    pathway: str,
    due_at: datetime,
    channels: Sequence[str] = (),
    expires_at: datetime | None = None,
    failed: frozenset[str] = frozenset(),
    cancelled: bool = False,
    adapters: Mapping[str, str] = DEFAULT_ADAPTERS,
) -> DueItem:
    """The policy's view of one outbox action (``channels`` in the pathway language)."""
    return DueItem(
        dedupe_key=dedupe_key,
        priority=priority_of(kind, params),
        topic=topic_of(kind, params),
        pathway=pathway,
        due_at=due_at,
        kind=kind,
        channels=adapters_for(channels, adapters),
        expires_at=expires_at,
        failed=failed,
        cancelled=cancelled,
        urgent=params.get("urgent") is True,
    )


def adapters_from_config(config: Mapping[str, object]) -> Mapping[str, str]:
    """A hospital's ``delivery:`` settings may choose the SMS vendor (``sms: sms_aliyun``)."""
    sms = config.get("sms", DEFAULT_ADAPTERS["sms"])
    if sms not in ("sms_tencent", "sms_aliyun"):
        raise ValueError(f"delivery.sms must be sms_tencent or sms_aliyun, not {sms!r}")
    return MappingProxyType({**DEFAULT_ADAPTERS, "sms": str(sms)})
